/**
 * Training and applying the downstream classifiers (classifiers.ts): Adam on
 * the mean softmax cross-entropy, shuffled mini-batches, everything random
 * (initialisation, order, dropout masks) drawn from the classifier's seed, so
 * a run is reproducible on one backend. Gradients are the classifiers'
 * hand-written ones (`Classifier.gradients`, equal to tfjs's tape), and on
 * the WebAssembly backend each Adam step is one pass over a variable's values
 * (wasm-kernels.ts). Call `selectBackend()` (engine) before training.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { SeededRng } from '../engine/rng';
import { createClassifier, type Classifier, type ClassifierKind } from './classifiers';
import { checkImages, gatherLabels, gatherPixels, pickImages, type EvalImages } from './images';
import { adamStepOnWasm, onWasm } from './wasm-kernels';

/** Optimiser settings of one classifier. */
export interface TrainConfig {
  /** Passes over the training images, at least (see `minSteps`). */
  epochs: number;
  /** Images per Adam step (the last batch of an epoch may be smaller). */
  batchSize: number;
  /** Adam's peak step size (β₁ = 0.9, β₂ = 0.999, ε = 1e-8). */
  learningRate: number;
  /**
   * `cosine`: the step size falls from `learningRate` to 0 along a half
   * cosine over the whole run (Loshchilov and Hutter 2017, without restarts),
   * which reaches a given accuracy in fewer epochs than a constant one;
   * `constant`: it stays at `learningRate`.
   */
  schedule?: 'cosine' | 'constant';
  /**
   * Adam steps at least, however few the images (default 0): a small set is
   * passed over more often, so that it gets as much optimisation as a large
   * one. The run takes max(minSteps, epochs × batches per epoch) steps.
   */
  minSteps?: number;
  /**
   * Share of the training images held out (seeded) to choose when to stop
   * (default 0: none held out, no early stopping). The classifier is checked
   * on them `checks` times over the run; the weights of the latest check
   * within one standard error of the best are kept, and training stops after
   * `patience` checks below that.
   */
  validationShare?: number;
  /** Most images held out, whatever the share (default 2000). */
  maxValidation?: number;
  /** Checks on the held-out images over the run (default 10). */
  checks?: number;
  /** Checks without improvement before training stops (default 3). */
  patience?: number;
}

/** How a training run ended. */
export interface TrainSummary {
  /** Adam steps planned and taken (fewer when early stopping ended the run). */
  steps: number;
  stepsTaken: number;
  /** Images trained on and held out for early stopping. */
  trained: number;
  heldOut: number;
  /** Accuracy (%) on the held-out images of the weights kept; null without a held-out split. */
  validationAccuracy: number | null;
  /** The step whose weights were kept. */
  bestStep: number;
  stoppedEarly: boolean;
}

/** Where training stands, reported after every step. */
export interface TrainStep {
  step: number;
  steps: number;
  epoch: number;
  epochs: number;
}

/** Stream tags of the shuffling and dropout draws. */
const ORDER_STREAM = 0x6f726472;
const DROPOUT_STREAM = 0x64726f70;
/** Steps between yields to the event loop (so a cancel or a progress message gets through). */
const YIELD_EVERY = 16;

/** The error thrown when `signal` is aborted. */
export function cancelled(): UserError {
  return new UserError('CANCELLED', 'The evaluation was cancelled before it finished.');
}

function checkConfig(c: TrainConfig): void {
  for (const [name, v, whole] of [
    ['epochs', c.epochs, true],
    ['batch size', c.batchSize, true],
    ['learning rate', c.learningRate, false],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0 || (whole && !Number.isSafeInteger(v))) {
      throw new UserError(
        'INVALID_INPUT',
        `The classifier's ${name} is ${v}; it must be a positive ${whole ? 'whole ' : ''}number.`,
      );
    }
  }
  for (const [name, v, min] of [
    ['minimum step count', c.minSteps ?? 0, 0],
    ['number of checks', c.checks ?? 1, 1],
    ['patience', c.patience ?? 1, 1],
    ['held-out cap', c.maxValidation ?? 0, 0],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < min) {
      throw new UserError(
        'INVALID_INPUT',
        `The classifier's ${name} is ${v}; it must be a whole number of at least ${min}.`,
      );
    }
  }
  const share = c.validationShare ?? 0;
  if (!Number.isFinite(share) || share < 0 || share > 0.5) {
    throw new UserError(
      'INVALID_INPUT',
      `The classifier's held-out share is ${share}; it must be between 0 and 0.5.`,
    );
  }
}

/**
 * Adam (Kingma and Ba 2015) over tf.Variables with a step size given per
 * step (tfjs's optimiser fixes it at construction):
 *   m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − lr·m̂/(√v̂ + ε).
 */
class Adam {
  private m: tf.Tensor[];
  private v: tf.Tensor[];
  private t = 0;
  constructor(
    private readonly vars: tf.Variable[],
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = vars.map((w) => tf.keep(tf.zerosLike(w)));
    this.v = vars.map((w) => tf.keep(tf.zerosLike(w)));
  }

  step(grads: tf.Tensor[], lr: number): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const wasm = onWasm();
    this.vars.forEach((w, i) => {
      const g = grads[i] as tf.Tensor;
      if (wasm) {
        // The same update in one pass over the values (wasm-kernels.ts).
        const [w2, m, v] = adamStepOnWasm(w, g, this.m[i] as tf.Tensor, this.v[i] as tf.Tensor, {
          lr,
          beta1: b1,
          beta2: b2,
          eps,
          c1,
          c2,
        });
        (this.m[i] as tf.Tensor).dispose();
        (this.v[i] as tf.Tensor).dispose();
        this.m[i] = tf.keep(m);
        this.v[i] = tf.keep(v);
        w.assign(w2);
        return;
      }
      const m = tf.keep(tf.add(tf.mul(this.m[i] as tf.Tensor, b1), tf.mul(g, 1 - b1)));
      const v = tf.keep(tf.add(tf.mul(this.v[i] as tf.Tensor, b2), tf.mul(tf.square(g), 1 - b2)));
      (this.m[i] as tf.Tensor).dispose();
      (this.v[i] as tf.Tensor).dispose();
      this.m[i] = m;
      this.v[i] = v;
      w.assign(tf.sub(w, tf.mul(tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps)), lr)));
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** Stream tag of the held-out split's draw. */
const HOLDOUT_STREAM = 0x686f6c64;

/**
 * Splits `n` images into training and held-out indices (seeded; the held-out
 * share and cap of `config`). Nothing is held out from a set too small to
 * train on without it (fewer than 20 images).
 */
export function holdOutSplit(
  n: number,
  config: TrainConfig,
  seed: number,
): { train: Uint32Array; heldOut: Uint32Array } {
  const share = config.validationShare ?? 0;
  const wanted = Math.min(Math.floor(n * share), config.maxValidation ?? 2000);
  const held = n < 20 ? 0 : wanted;
  const all = new Uint32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  if (held === 0) return { train: all, heldOut: new Uint32Array(0) };
  SeededRng.fromSeed(seed, HOLDOUT_STREAM).shuffle(all);
  return { heldOut: all.slice(0, held).sort(), train: all.slice(held).sort() };
}

/** The Adam steps a run on `trained` images takes (TrainConfig.minSteps). */
export function plannedSteps(trained: number, config: TrainConfig): number {
  const perEpoch = Math.ceil(trained / config.batchSize);
  return Math.max(config.minSteps ?? 0, perEpoch * config.epochs);
}

/** A classifier of `kind` trained on `train` (labels 0 … classes−1) with Adam. */
export async function trainClassifier(options: {
  kind: ClassifierKind;
  train: EvalImages;
  classes: number;
  seed: number;
  config: TrainConfig;
  signal?: AbortSignal;
  onStep?: (s: TrainStep) => void;
}): Promise<Classifier> {
  return (await fitClassifier(options)).model;
}

/**
 * Trains a classifier of `kind` on `train` with Adam for
 * {@link plannedSteps} steps, with early stopping on a held-out share of
 * `train` when `config.validationShare` > 0 (never on any other set), and
 * says how the run ended.
 */
export async function fitClassifier(options: {
  kind: ClassifierKind;
  train: EvalImages;
  classes: number;
  seed: number;
  config: TrainConfig;
  signal?: AbortSignal;
  onStep?: (s: TrainStep) => void;
}): Promise<{ model: Classifier; summary: TrainSummary }> {
  const { kind, train, classes, seed, config, signal, onStep } = options;
  checkConfig(config);
  const geometry = checkImages(train, 'the training images');
  const { height, width, channels } = geometry;
  const split = holdOutSplit(train.count, config, seed);
  const heldOut = split.heldOut.length > 0 ? pickImages(train, split.heldOut) : undefined;
  const model = createClassifier(kind, geometry, classes, seed);
  const adam = new Adam(model.variables);
  const order = SeededRng.fromSeed(seed, ORDER_STREAM);
  const drops = SeededRng.fromSeed(seed, DROPOUT_STREAM);
  const perm = split.train;
  const n = perm.length;
  const perEpoch = Math.ceil(n / config.batchSize);
  const steps = plannedSteps(n, config);
  const epochs = Math.ceil(steps / perEpoch);
  const checks = Math.max(1, Math.min(config.checks ?? 10, steps));
  const patience = config.patience ?? 3;
  const pixelBuffer = new Float32Array(Math.min(n, config.batchSize) * height * width * channels);
  let best: { accuracy: number; step: number; weights: tf.Tensor[] } | undefined;
  let bestSeen = -Infinity;
  let sinceBest = 0;
  let stoppedEarly = false;
  /**
   * Checks the held-out images; true when training should stop. A check
   * within one standard error (binomial, on the held-out count) of the best
   * accuracy seen counts as no worse, and its later weights are kept: the
   * held-out accuracy is noisy, and the step size decays, so later weights
   * are preferred unless clearly worse.
   */
  const check = (step: number): boolean => {
    if (heldOut === undefined) return false;
    const acc = accuracy(model, heldOut);
    bestSeen = Math.max(bestSeen, acc);
    const p = bestSeen / 100;
    const n = heldOut.count;
    const tolerance = 100 * Math.sqrt(Math.max(p * (1 - p), 1 / n) / n);
    if (acc >= bestSeen - tolerance) {
      if (best) tf.dispose(best.weights);
      best = { accuracy: acc, step, weights: model.variables.map((v) => tf.keep(tf.clone(v))) };
      sinceBest = 0;
      return false;
    }
    sinceBest++;
    return sinceBest >= patience;
  };
  let step = 0;
  try {
    outer: for (let epoch = 0; epoch < epochs; epoch++) {
      order.shuffle(perm);
      for (let start = 0; start < n && step < steps; start += config.batchSize) {
        if (signal?.aborted) throw cancelled();
        const idx = perm.subarray(start, Math.min(n, start + config.batchSize));
        const pixels = gatherPixels(train, idx, pixelBuffer);
        const labels = gatherLabels(train, idx);
        const lr =
          config.schedule === 'constant'
            ? config.learningRate
            : 0.5 * config.learningRate * (1 + Math.cos((Math.PI * step) / steps));
        tf.tidy(() => {
          const x = tf.tensor4d(pixels, [idx.length, height, width, channels]);
          const y = tf.oneHot(tf.tensor1d(labels, 'int32'), classes) as tf.Tensor2D;
          if (model.gradients) {
            adam.step(model.gradients(x, pixels, y, drops), lr);
            return;
          }
          const { grads } = tf.variableGrads(
            () => tf.losses.softmaxCrossEntropy(y, model.logits(x, drops)) as tf.Scalar,
            model.variables,
          );
          adam.step(
            model.variables.map((v) => grads[v.name] as tf.Tensor),
            lr,
          );
        });
        step++;
        onStep?.({ step, steps, epoch: epoch + 1, epochs });
        // Checks at steps ⌈steps·i/checks⌉, i = 1 … checks (the last one at the end).
        if (Math.floor((step * checks) / steps) > Math.floor(((step - 1) * checks) / steps)) {
          if (check(step)) {
            stoppedEarly = step < steps;
            break outer;
          }
        }
        if (step % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      }
    }
    const kept = best as { accuracy: number; step: number; weights: tf.Tensor[] } | undefined;
    if (kept && kept.step !== step)
      model.variables.forEach((v, i) => v.assign(kept.weights[i] as tf.Tensor));
    return {
      model,
      summary: {
        steps,
        stepsTaken: step,
        trained: n,
        heldOut: split.heldOut.length,
        validationAccuracy: kept ? kept.accuracy : null,
        bestStep: kept ? kept.step : step,
        stoppedEarly,
      },
    };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    adam.dispose();
    if (best) tf.dispose((best as { weights: tf.Tensor[] }).weights);
  }
}

/** Images per forward pass when predicting or extracting features. */
const EVAL_BATCH = 500;

/** Applies `fn` to `images` in batches; rows of the result in image order. */
function mapBatches(
  images: EvalImages,
  fn: (x: tf.Tensor4D) => tf.Tensor2D,
  onBatch: (values: Float32Array, start: number, rows: number, cols: number) => void,
): void {
  const { height, width } = images;
  const channels = images.channels ?? 1;
  const idx = new Uint32Array(Math.min(EVAL_BATCH, images.count));
  const buffer = new Float32Array(idx.length * height * width * channels);
  for (let start = 0; start < images.count; start += EVAL_BATCH) {
    const rows = Math.min(EVAL_BATCH, images.count - start);
    const batch = idx.subarray(0, rows);
    for (let i = 0; i < rows; i++) batch[i] = start + i;
    const pixels = gatherPixels(images, batch, buffer);
    const out = tf.tidy(() => fn(tf.tensor4d(pixels, [rows, height, width, channels])));
    const values = out.dataSync() as Float32Array;
    const cols = out.shape[1];
    out.dispose();
    onBatch(values, start, rows, cols);
  }
}

/** The class each image is given (argmax of the logits). */
export function predictLabels(model: Classifier, images: EvalImages): Int32Array {
  const out = new Int32Array(images.count);
  mapBatches(
    images,
    (x) => model.logits(x),
    (v, start, rows, cols) => {
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let c = 1; c < cols; c++)
          if ((v[r * cols + c] as number) > (v[r * cols + best] as number)) best = c;
        out[start + r] = best;
      }
    },
  );
  return out;
}

/** Share of `images` classified correctly, in %. */
export function accuracy(model: Classifier, images: EvalImages): number {
  const pred = predictLabels(model, images);
  let right = 0;
  for (let i = 0; i < images.count; i++) if (pred[i] === images.y[i]) right++;
  return (100 * right) / images.count;
}

/** Features (see {@link Classifier.features}) of every image: row-major [count, dims]. */
export function extractFeatures(
  model: Classifier,
  images: EvalImages,
): { values: Float64Array; count: number; dims: number } {
  let values = new Float64Array(0);
  let dims = 0;
  mapBatches(
    images,
    (x) => model.features(x),
    (v, start, rows, cols) => {
      if (values.length === 0) {
        dims = cols;
        values = new Float64Array(images.count * cols);
      }
      values.set(v.subarray(0, rows * cols), start * cols);
    },
  );
  return { values, count: images.count, dims };
}
