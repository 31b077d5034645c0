/**
 * The generator of method `mepf` (issue #19): the app's CVAE decoder
 * (engine/architecture.ts, cvae.ts decodeLogits; pixels = sigmoid of the
 * logits), trained with Adam so that, class by class, the mean embedding of
 * its images matches the released noisy mean embedding (release.ts). It reads
 * only the release, never the data: training is post-processing and can be
 * repeated freely. The result has the format of every other method's decoder
 * (engine/decoder-file.ts), so generation, export and evaluation work as for
 * them.
 *
 * Loss of a step (DP-MEPF, Harder et al., TMLR 2023, §3, with its moving
 * average of the generated features):
 *
 *   L = Σ_k p̃_k ‖ḡ_k − m̃_k‖²,   ḡ_k ← (1 − α)·ḡ_k + α·mean_{i: y_i = k} φ(G(z_i, k)),
 *
 * where the old ḡ_k is a constant (no gradient) and a class's first batch
 * starts its average (α = 1). Why the average: the plain batch loss
 * ‖mean_B φ − m̃‖² equals the squared bias plus Var(φ)/|B| in expectation, and
 * the variance term rewards the generator for making its images of a class
 * alike (mode collapse). With the average the gradient is α·2(ḡ − m̃)·∂mean_B,
 * whose direction ḡ − m̃ averages over about 1/α batches.
 *
 * Each step draws z ~ N(0, I) (as generate.ts does at generation time) and
 * spreads the batch evenly over the classes (round robin, shifted every
 * step), so every class mean is estimated every step when batch ≥ classes.
 * Everything random comes from the seed (one stream per step, so a resumed
 * run continues exactly): the same seed and settings give the same decoder on
 * one backend.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../contract/errors';
import { filterGradient, geometryOf, hasSubPixelGradient, inputGradient } from '../../eval/conv';
import {
  convArchitecture,
  convBottleneck,
  defaultArchitecture,
  parameterSpecs,
  type Architecture,
} from '../../engine/architecture';
import { decodeLogits } from '../../engine/cvae';
import {
  disposeOptimizer,
  initOptimizer,
  optimizerStep,
  type OptimizerState,
} from '../../engine/optim';
import { initParams } from '../../engine/params';
import { SeededRng } from '../../engine/rng';
import type { Embedding } from './embedding';
import { releasedMeans, releasedProportions, type MepfRelease } from './release';

/** What the generator matches: noisy class means and proportions (post-processing of a release). */
export interface MatchTarget {
  classes: number;
  dims: number;
  /** m̃_k, K × dims. */
  means: Float32Array;
  /** p̃_k (sum 1). */
  proportions: Float64Array;
}

/** The target of a release (releasedMeans, releasedProportions). */
export function matchTarget(release: MepfRelease): MatchTarget {
  return {
    classes: release.classes,
    dims: release.dims,
    means: releasedMeans(release),
    proportions: releasedProportions(release),
  };
}

/** Settings of the generator's training (every one recorded with the run). */
export interface GeneratorOptions {
  /** The decoder's architecture; its image shape must be the embedding's, its classes the release's. */
  arch: Architecture;
  /** Seed of the initial weights and of every draw. */
  seed: number;
  /** Adam steps. */
  steps: number;
  /** Images per step, spread over the classes (default 100). */
  batchSize?: number;
  /** Adam's step size (default 1e-3). */
  learningRate?: number;
  /** Adam's β₁ (default 0.5, as DP-MEPF's generator). */
  beta1?: number;
  /** Weight α of the newest batch in the moving average of generated features (default 0.1; 1 = none). */
  movingAverage?: number;
  /**
   * How the loss estimates ‖E φ(G) − m̃_k‖² from a batch (module comment):
   * `moving-average` (DP-MEPF's ḡ_k, weight {@link movingAverage}) or
   * `unbiased` (the U-statistic: the batch's pairs i ≠ j only, so the loss
   * is unbiased and rewards no sameness; needs ≥ 2 images of a class in a
   * batch, else that class falls back to its plain batch mean).
   */
  estimator?: GeneratorEstimator;
  /** Step size over the run: `constant`, or `cosine` from learningRate down to 0 at `steps`. */
  schedule?: LearningRateSchedule;
}

/** {@link GeneratorOptions.estimator}. */
export type GeneratorEstimator = 'moving-average' | 'unbiased';

/** {@link GeneratorOptions.schedule}. */
export type LearningRateSchedule = 'constant' | 'cosine';

/** Defaults of {@link GeneratorOptions}. */
export const GENERATOR_DEFAULTS = {
  batchSize: 100,
  learningRate: 1e-3,
  beta1: 0.5,
  movingAverage: 0.1,
  estimator: 'moving-average',
  schedule: 'constant',
} as const;

type ResolvedOptions = Required<GeneratorOptions>;

/**
 * The decoder a generator uses unless told otherwise: the app's
 * convolutional decoder when the sides divide by 4, else the MLP decoder.
 */
export function defaultGeneratorArchitecture(
  image: { height: number; width: number; channels: number },
  classes: number,
): Architecture {
  if (image.height % 4 === 0 && image.width % 4 === 0) return convArchitecture(image, classes);
  return { ...defaultArchitecture(classes), image: { ...image } };
}

function resolve(o: GeneratorOptions, embedding: Embedding, target: MatchTarget): ResolvedOptions {
  const r: ResolvedOptions = {
    arch: o.arch,
    seed: o.seed,
    steps: o.steps,
    batchSize: o.batchSize ?? GENERATOR_DEFAULTS.batchSize,
    learningRate: o.learningRate ?? GENERATOR_DEFAULTS.learningRate,
    beta1: o.beta1 ?? GENERATOR_DEFAULTS.beta1,
    movingAverage: o.movingAverage ?? GENERATOR_DEFAULTS.movingAverage,
    estimator: o.estimator ?? GENERATOR_DEFAULTS.estimator,
    schedule: o.schedule ?? GENERATOR_DEFAULTS.schedule,
  };
  const bad = (what: string, v: unknown, want: string): never => {
    throw new UserError(
      'INVALID_INPUT',
      `The generator's ${what} must be ${want}; got ${String(v)}.`,
    );
  };
  if (!Number.isSafeInteger(r.seed) || r.seed < 0) bad('seed', r.seed, 'a whole number ≥ 0');
  if (!Number.isInteger(r.steps) || r.steps < 0)
    bad('number of steps', r.steps, 'a whole number ≥ 0');
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1 || r.batchSize > 4096) {
    bad('batch size', r.batchSize, 'a whole number 1 to 4096');
  }
  if (!(r.learningRate > 0) || !Number.isFinite(r.learningRate)) {
    bad('learning rate', r.learningRate, 'a positive number');
  }
  if (!(r.beta1 >= 0 && r.beta1 < 1)) bad('β₁', r.beta1, 'in [0, 1)');
  if (!(r.movingAverage > 0 && r.movingAverage <= 1))
    bad('moving-average weight', r.movingAverage, 'in (0, 1]');
  if (r.estimator !== 'moving-average' && r.estimator !== 'unbiased')
    bad('estimator', r.estimator, "'moving-average' or 'unbiased'");
  if (r.schedule !== 'constant' && r.schedule !== 'cosine')
    bad('learning-rate schedule', r.schedule, "'constant' or 'cosine'");
  const { image, classes } = r.arch;
  const e = embedding.image;
  if (image.height !== e.height || image.width !== e.width || image.channels !== e.channels) {
    bad(
      'image shape',
      `${image.height}×${image.width}×${image.channels}`,
      `the release's ${e.height}×${e.width}×${e.channels}`,
    );
  }
  if (classes !== target.classes)
    bad('number of classes', classes, `the release's ${target.classes}`);
  if (embedding.dims !== target.dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The release holds embeddings of ${target.dims} numbers but this feature map gives ${embedding.dims}: they were made with other settings.`,
    );
  }
  return r;
}

/**
 * conv2dTranspose(a, w, stride 2, 'same') as the app's decoder computes it
 * (cvae.ts), with w [k, k, out, in]: the transposed convolution is the input
 * gradient of conv2d(·, w, 2, 'same'), so the forward pass is eval/conv.ts's
 * sub-pixel inputGradient (stride-1 convolutions on XNNPACK) instead of
 * tfjs-backend-wasm 4.22's Conv2DBackpropInput, which loops in plain code;
 * its gradients are conv2d(dy, w) for a and the filter gradient of that
 * conv2d for w. The same numbers as tf.conv2dTranspose (mepf-generator.test.ts).
 */
function convTranspose2(a: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const [b, ih, iw] = a.shape;
  const g = geometryOf([b, 2 * ih, 2 * iw, w.shape[2]], w.shape[0], 2);
  if (!hasSubPixelGradient(g) || w.shape[1] !== w.shape[0]) {
    return tf.conv2dTranspose(a, w, [b, 2 * ih, 2 * iw, w.shape[2]], 2, 'same');
  }
  const op = tf.customGrad((aIn, wIn, save) => {
    (save as tf.GradSaveFunc)([aIn as tf.Tensor, wIn as tf.Tensor]);
    return {
      value: inputGradient(aIn as tf.Tensor4D, wIn as tf.Tensor4D, g),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [as, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [
          tf.conv2d(dy as tf.Tensor4D, ws, 2, 'same'),
          filterGradient(dy as tf.Tensor4D, as, g),
        ];
      },
    };
  });
  return op(a, w) as tf.Tensor4D;
}

/**
 * The generator's images [B, H, W, C] in [0, 1]: sigmoid of the decoder's
 * logits for latents z [B, latent] and one-hot labels y [B, classes]. The
 * same function as cvae.ts decodeLogits (one model, G = 1), which the app
 * uses to generate from the released decoder; the convolutional decoder runs
 * its transposed convolutions through {@link convTranspose2} for speed.
 */
export function generatorPixels(
  arch: Architecture,
  params: readonly tf.Tensor[],
  z: tf.Tensor2D,
  y: tf.Tensor2D,
): tf.Tensor4D {
  const { height, width, channels } = arch.image;
  const batch = z.shape[0];
  return tf.tidy(() => {
    if (arch.kind !== 'conv-cvae') {
      const logits = decodeLogits(
        arch,
        params,
        tf.reshape(z, [1, batch, arch.latent]) as tf.Tensor3D,
        tf.reshape(y, [1, batch, arch.classes]) as tf.Tensor3D,
      );
      return tf.reshape(tf.sigmoid(logits), [batch, height, width, channels]) as tf.Tensor4D;
    }
    const p = (i: number): tf.Tensor => {
      const t = params[i];
      if (!t) throw new RangeError(`The decoder lacks parameter ${i}.`);
      return tf.reshape(t, t.shape.slice(1));
    };
    const dense = (h: tf.Tensor2D, i: number): tf.Tensor2D =>
      tf.relu(tf.add(tf.matMul(h, p(i) as tf.Tensor2D), p(i + 1)));
    let h = dense(dense(tf.concat([z, y], 1), 0), 2);
    const bottleneck = convBottleneck(arch);
    let a = tf.reshape(h, [
      batch,
      bottleneck.height,
      bottleneck.width,
      bottleneck.channels,
    ]) as tf.Tensor4D;
    const layers = arch.convChannels.length;
    for (let i = 0; i < layers; i++) {
      const pre = tf.add(
        convTranspose2(a, p(4 + 2 * i) as tf.Tensor4D),
        p(5 + 2 * i),
      ) as tf.Tensor4D;
      a = i + 1 < layers ? tf.relu(pre) : pre;
    }
    h = tf.reshape(a, [batch, height * width * channels]);
    return tf.reshape(tf.sigmoid(h), [batch, height, width, channels]) as tf.Tensor4D;
  });
}

/** Stream tag of the generator's per-step draws. */
const STEP_STREAM = 0x6d657066; // "mepf"

/** A trainer's state for a checkpoint (plain data). */
export interface GeneratorCheckpoint {
  step: number;
  /** Decoder parameters, one array per parameter (architecture order). */
  params: Float32Array[];
  adam: { t: number; m: Float32Array[]; v: Float32Array[] };
  /** ḡ_k, K × dims, and whether class k has been seen. */
  average: Float32Array;
  seen: boolean[];
}

/**
 * Trains a decoder to match a {@link MatchTarget} (module comment). Holds
 * tensors: call {@link GeneratorTrainer.dispose} when done. The embedding is
 * the caller's (it must be the map the release was made with).
 */
export class GeneratorTrainer {
  readonly options: ResolvedOptions;
  private params: tf.Tensor[];
  private opt: OptimizerState;
  private average: tf.Tensor2D;
  private readonly seen: boolean[];
  private readonly targetMeans: tf.Tensor2D;
  private readonly weights: tf.Tensor2D;
  private taken: number;

  constructor(
    private readonly embedding: Embedding,
    target: MatchTarget,
    options: GeneratorOptions,
    checkpoint?: GeneratorCheckpoint,
  ) {
    this.options = resolve(options, embedding, target);
    const { arch } = this.options;
    const { classes, dims } = target;
    if (target.means.length !== classes * dims || target.proportions.length !== classes) {
      throw new RangeError('The target means and proportions do not match its classes and length.');
    }
    this.targetMeans = tf.tensor2d(target.means, [classes, dims]);
    this.weights = tf.tensor2d(Float32Array.from(target.proportions), [classes, 1]);
    const specs = parameterSpecs(arch, 'decoder');
    if (checkpoint) {
      if (
        checkpoint.params.length !== specs.length ||
        checkpoint.average.length !== classes * dims
      ) {
        throw new UserError('CORRUPT_DATA', 'The checkpoint does not match this generator.');
      }
      this.params = checkpoint.params.map((a, i) => tf.tensor(a, [1, ...(specs[i]?.shape ?? [])]));
      this.opt = {
        kind: 'adam',
        t: checkpoint.adam.t,
        m: checkpoint.adam.m.map((a, i) => tf.tensor(a, this.params[i]?.shape)),
        v: checkpoint.adam.v.map((a, i) => tf.tensor(a, this.params[i]?.shape)),
      };
      this.average = tf.tensor2d(checkpoint.average, [classes, dims]);
      this.seen = [...checkpoint.seen];
      this.taken = checkpoint.step;
    } else {
      this.params = initParams(arch, 'decoder', [this.options.seed]).tensors;
      this.opt = initOptimizer('adam', this.params);
      this.average = tf.zeros([classes, dims]);
      this.seen = new Array<boolean>(classes).fill(false);
      this.taken = 0;
    }
  }

  /** Steps taken so far. */
  get step(): number {
    return this.taken;
  }

  /** The labels of step `t`: round robin over the classes, starting at t·B mod K. */
  private labels(t: number): Int32Array {
    const { batchSize } = this.options;
    const k = this.options.arch.classes;
    const start = (t * batchSize) % k;
    return Int32Array.from({ length: batchSize }, (_, i) => (start + i) % k);
  }

  /** Adam's step size at step t (0-based) under the schedule. */
  learningRateAt(t: number): number {
    const { learningRate, schedule, steps } = this.options;
    if (schedule === 'constant' || steps === 0) return learningRate;
    return 0.5 * learningRate * (1 + Math.cos((Math.PI * Math.min(t, steps)) / steps));
  }

  /** One Adam step; returns its loss L (module comment). */
  trainStep(): number {
    const { arch, batchSize, movingAverage, beta1, estimator } = this.options;
    const learningRate = this.learningRateAt(this.taken);
    const { classes, latent } = arch;
    const t = this.taken;
    const labels = this.labels(t);
    const z = new Float32Array(batchSize * latent);
    SeededRng.fromSeed(this.options.seed, STEP_STREAM, t).fillNormal(z);
    const counts = new Float32Array(classes);
    for (const y of labels) counts[y] = (counts[y] as number) + 1;
    // α_k: the weight of this batch in class k's average (1 for a class's first batch, 0 if absent).
    const alpha = Float32Array.from(counts, (c, k) =>
      c === 0 ? 0 : this.seen[k] ? movingAverage : 1,
    );
    let mixedKept: tf.Tensor2D | undefined;
    const { value, grads } = tf.tidy(() => {
      const zt = tf.tensor2d(z, [batchSize, latent]);
      const yHot = tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D;
      const invCounts = tf.tensor2d(
        Float32Array.from(counts, (c) => (c === 0 ? 0 : 1 / c)),
        [classes, 1],
      );
      const a = tf.tensor2d(alpha, [classes, 1]);
      const loss = (...p: tf.Tensor[]): tf.Scalar => {
        const phi = this.embedding.embed(generatorPixels(arch, p, zt, yHot));
        const batchSum = tf.matMul(yHot, phi, true, false) as tf.Tensor2D;
        const batchMean = tf.mul(batchSum, invCounts);
        const mixed = tf.add(
          this.average,
          tf.mul(a, tf.sub(batchMean, this.average)),
        ) as tf.Tensor2D;
        // Kept under either estimator, so a checkpoint has the same shape.
        mixedKept = tf.keep(mixed);
        if (estimator === 'unbiased') return this.unbiasedLoss(phi, yHot, batchSum, counts);
        const diff = tf.sub(mixed, this.targetMeans);
        return tf.sum(tf.mul(this.weights, tf.sum(tf.square(diff), 1, true)));
      };
      return tf.valueAndGrads(loss)(this.params);
    });
    const next = optimizerStep(this.params, grads, this.opt, {
      kind: 'adam',
      lr: learningRate,
      beta1,
    });
    for (const g of grads) g.dispose();
    this.params = next.params;
    this.opt = next.state;
    this.average.dispose();
    this.average = mixedKept as tf.Tensor2D;
    for (let k = 0; k < classes; k++) if ((counts[k] as number) > 0) this.seen[k] = true;
    const l = (value.dataSync() as Float32Array)[0] as number;
    value.dispose();
    this.taken = t + 1;
    return l;
  }

  /**
   * Σ_k p̃_k · (U_k − 2 m̄_kᵀm̃_k + ‖m̃_k‖²) over the classes in the batch,
   * U_k = (‖Σφ_i‖² − Σ‖φ_i‖²) / (n_k(n_k − 1)) the unbiased estimate of
   * ‖E φ‖² from the pairs i ≠ j of class k (n_k = 1: ‖φ_i‖², the plain
   * estimate). Its expectation is the population loss, so no gradient
   * rewards images of a class for being alike.
   */
  private unbiasedLoss(
    phi: tf.Tensor2D,
    yHot: tf.Tensor2D,
    batchSum: tf.Tensor2D,
    counts: Float32Array,
  ): tf.Scalar {
    const n = Array.from(counts);
    const present = tf.tensor2d(
      n.map((c) => (c > 0 ? 1 : 0)),
      [n.length, 1],
    );
    const pairs = tf.tensor2d(
      n.map((c) => (c > 1 ? 1 / (c * (c - 1)) : c === 1 ? 1 : 0)),
      [n.length, 1],
    );
    const self = tf.tensor2d(
      n.map((c) => (c > 1 ? 1 : 0)),
      [n.length, 1],
    );
    const inv = tf.tensor2d(
      n.map((c) => (c > 0 ? 1 / c : 0)),
      [n.length, 1],
    );
    // Σ_{i in k} ‖φ_i‖², per class.
    const squares = tf.matMul(yHot, tf.sum(tf.square(phi), 1, true), true, false);
    const u = tf.mul(tf.sub(tf.sum(tf.square(batchSum), 1, true), tf.mul(self, squares)), pairs);
    const cross = tf.sum(tf.mul(tf.mul(batchSum, inv), this.targetMeans), 1, true);
    const target = tf.sum(tf.square(this.targetMeans), 1, true);
    const perClass = tf.mul(present, tf.add(tf.sub(u, tf.mul(cross, 2)), target));
    return tf.sum(tf.mul(this.weights, perClass));
  }

  /** The decoder's parameters, one array per parameter (architecture order), for decoder-file.ts. */
  decoderWeights(): Float32Array[] {
    return this.params.map((p) => Float32Array.from(p.dataSync() as Float32Array));
  }

  /** The trainer's state for a checkpoint (resume with the constructor's `checkpoint`). */
  checkpoint(): GeneratorCheckpoint {
    const copy = (t: tf.Tensor): Float32Array => Float32Array.from(t.dataSync() as Float32Array);
    return {
      step: this.taken,
      params: this.params.map(copy),
      adam: { t: this.opt.t, m: this.opt.m.map(copy), v: this.opt.v.map(copy) },
      average: copy(this.average),
      seen: [...this.seen],
    };
  }

  /** Frees the trainer's tensors (not the embedding's). */
  dispose(): void {
    for (const p of this.params) p.dispose();
    disposeOptimizer(this.opt);
    this.average.dispose();
    this.targetMeans.dispose();
    this.weights.dispose();
  }
}

/** Progress of {@link trainGenerator}: return false to stop early. */
export type GeneratorProgress = (step: number, steps: number, loss: number) => boolean | void;

/** What {@link trainGenerator} gives. */
export interface TrainedGenerator {
  arch: Architecture;
  /** Decoder parameters (architecture order), as decoder-file.ts reads them. */
  weights: Float32Array[];
  /** Loss of every step. */
  losses: number[];
  /** Steps taken (fewer than asked if stopped). */
  steps: number;
}

/**
 * Trains a generator for `options.steps` steps (or until `onStep` returns
 * false or `signal` aborts), yielding to the event loop every few steps.
 */
export async function trainGenerator(
  embedding: Embedding,
  target: MatchTarget,
  options: GeneratorOptions,
  hooks: { onStep?: GeneratorProgress; signal?: AbortSignal } = {},
): Promise<TrainedGenerator> {
  const trainer = new GeneratorTrainer(embedding, target, options);
  const losses: number[] = [];
  try {
    while (trainer.step < trainer.options.steps) {
      hooks.signal?.throwIfAborted();
      const loss = trainer.trainStep();
      losses.push(loss);
      if (hooks.onStep?.(trainer.step, trainer.options.steps, loss) === false) break;
      if (trainer.step % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    return {
      arch: trainer.options.arch,
      weights: trainer.decoderWeights(),
      losses,
      steps: trainer.step,
    };
  } finally {
    trainer.dispose();
  }
}

/**
 * How firmly the release itself places each image in its label's class: for
 * images x [N, H, W, C] in [0, 1] with labels y, the score of class j is
 * φ(x)ᵀm̃_j − ½‖m̃_j‖² (nearest released mean in feature space: without the
 * second term a tightly clustered class, whose mean embedding is longer,
 * claims every image) and the margin is y's score minus the best other's. Post-processing of the
 * release only (no privacy cost). Used to order a generator's candidates of
 * a class and keep the firmest (measured on MNIST at ε = 1: CNN 68 → 81 %
 * when the best third of three times as many candidates is kept, because the
 * generator of a class also paints neighbouring classes' digits; see docs/methods.md).
 */
export function releaseMargins(
  embedding: Embedding,
  target: MatchTarget,
  x: tf.Tensor4D,
  labels: Int32Array,
): Float32Array {
  const n = x.shape[0];
  if (labels.length !== n) throw new RangeError('One label per image is needed.');
  if (embedding.dims !== target.dims) {
    throw new RangeError('The embedding is not the one the release was made with.');
  }
  const margins = tf.tidy(() => {
    const means = tf.tensor2d(target.means, [target.classes, target.dims]);
    // Nearest released mean: −½‖φ − m̃_j‖² up to a term common to all j.
    const scores = tf.sub(
      tf.matMul(embedding.embed(x), means, false, true),
      tf.mul(tf.reshape(tf.sum(tf.square(means), 1), [1, target.classes]), 0.5),
    );
    const own = tf.oneHot(tf.tensor1d(labels, 'int32'), target.classes);
    const mine = tf.sum(tf.mul(scores, own), 1);
    const others = tf.max(tf.sub(scores, tf.mul(own, 1e9)), 1);
    return tf.sub(mine, others);
  });
  const out = Float32Array.from(margins.dataSync() as Float32Array);
  margins.dispose();
  return out;
}
