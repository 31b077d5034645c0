/**
 * Phase 2 of DP-RandP (Tang et al., "Differentially Private Image
 * Classification by Learning Priors from Random Processes", NeurIPS 2023,
 * arXiv 2306.06076): a softmax linear classifier trained with DP-SGD (Abadi et
 * al. 2016) on the frozen features of the random-process prior.
 *
 * Each step t:
 *   1. S ← Poisson sample, each record with probability q (node:crypto)
 *   2. for i ∈ S, with x̃_i = [x_i, β] (β the bias feature) and p_i the
 *      softmax of the logits W·x̃_i, the gradient of the cross-entropy is
 *      g_i = x̃_i ⊗ (p_i − y_i), whose Frobenius norm is ‖x̃_i‖·‖p_i − y_i‖;
 *      so the clipped sum Σ_i g_i·min(1, C/‖g_i‖) is one product
 *      X̃_Sᵀ·diag(c)·(P − Y) — no per-example gradient is materialised
 *   3. ḡ = (clipped sum + N(0, σ²C²I)) / (q·N)  (noise from SecureGaussian)
 *   4. W ← SGD with momentum or Adam on ḡ + λ·W (post-processing)
 *
 * Privacy: exactly the 'dpsgd' mechanism of src-main/privacy (Poisson rate
 * q, noise multiplier σ, T steps, add/remove adjacency), since the clipped
 * sum has sensitivity C under adding or removing one record. The average of
 * the iterates (EMA) is post-processing too.
 *
 * The sampler and the noise source can be injected (tests use seeded ones
 * for determinism); a private run must use the defaults, which draw from the
 * operating system's CSPRNG.
 */
import { yieldToEvents } from '../../engine/cooperate';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../contract/errors';
import { SecureGaussian, securePoissonSample } from '../../engine/secure-noise';

/** Feature vectors [count × dims] row-major with a class label each. */
export interface LabelledFeatures {
  features: Float32Array;
  labels: ArrayLike<number>;
  count: number;
  dims: number;
}

/** A softmax linear classifier: weights [(dims + 1) × classes], the last row the bias (times {@link LinearModel.biasFeature}). */
export interface LinearModel {
  weights: Float32Array;
  dims: number;
  classes: number;
  /** β: the constant appended to every feature vector. */
  biasFeature: number;
}

/** Anything that fills an array with N(0, std²) draws (in a private run: SecureGaussian). */
export interface NoiseSource {
  fill(out: Float32Array, std: number): Float32Array;
}

/** Poisson sampler: sorted indices in [0, count), each taken with probability `rate`. */
export type PoissonSampler = (count: number, rate: number) => Uint32Array;

/** What one step reports (the sample size is private-data dependent: diagnostics only, never exported). */
export interface DpLinearStep {
  step: number;
  batchSize: number;
}

/** Settings of {@link trainDpLinear}. */
export interface DpLinearOptions {
  classes: number;
  /** σ: noise multiplier; the noise std on the clipped sum is σ·C. */
  sigma: number;
  /** q: Poisson sampling rate. */
  sampleRate: number;
  /** T: noisy steps. */
  steps: number;
  /** C: per-example clipping norm of the whole gradient (weights and bias). */
  clip: number;
  /** Peak step size. */
  lr: number;
  /** 'sgd' (with momentum) or 'adam' (default 'sgd'). */
  optimizer?: 'sgd' | 'adam';
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** 'constant' or 'cosine' decay to 0 over T steps (default 'cosine'). */
  lrSchedule?: 'constant' | 'cosine';
  /**
   * L2 penalty λ on the weights (not the bias), added to the noisy gradient
   * as λ·W (post-processing; default 0). It keeps the noise from wandering in
   * directions the data do not constrain.
   */
  weightDecay?: number;
  /** β, the bias feature (default 1). */
  biasFeature?: number;
  /** Decay of the exponential moving average of the iterates, 0 for none (default 0). */
  emaDecay?: number;
  /** Rows per matrix product (bounds memory; default 8192). */
  maxRows?: number;
  /** Default: the CSPRNG ({@link securePoissonSample}). */
  sampler?: PoissonSampler;
  /** Default: a fresh {@link SecureGaussian}. */
  noise?: NoiseSource;
  /** Called after each step; return `false` to stop early. */
  onStep?: (report: DpLinearStep) => boolean | void;
}

/** The trained classifier: the last iterate and, with `emaDecay` > 0, the averaged one. */
export interface DpLinearResult {
  model: LinearModel;
  averaged: LinearModel | null;
  stepsTaken: number;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new UserError('INVALID_INPUT', `The private linear probe cannot run: ${what}.`);
}

function checkData(data: LabelledFeatures, classes: number): void {
  check(data.count >= 1, 'the data set has no records');
  check(
    data.features.length === data.count * data.dims && data.labels.length === data.count,
    `the features hold ${data.features.length} values and ${data.labels.length} labels for ${data.count} records of ${data.dims} features`,
  );
  for (let i = 0; i < data.count; i++) {
    const y = data.labels[i] as number;
    check(
      Number.isInteger(y) && y >= 0 && y < classes,
      `record ${i} has label ${y}, outside the ${classes} classes`,
    );
  }
}

/** Rows `records` of `data` copied into `out` ([records.length × dims]). */
function gatherRows(data: LabelledFeatures, records: Uint32Array, out: Float32Array): Float32Array {
  const d = data.dims;
  for (let r = 0; r < records.length; r++) {
    const j = records[r] as number;
    out.set(data.features.subarray(j * d, (j + 1) * d), r * d);
  }
  return out.subarray(0, records.length * d);
}

/**
 * Softmax of the logits [rows × K] in place, then minus the one-hot labels:
 * the per-record gradient of the cross-entropy with respect to the logits.
 */
function softmaxMinusOneHot(
  logits: Float32Array,
  labels: ArrayLike<number>,
  records: Uint32Array,
  k: number,
): void {
  for (let r = 0; r < records.length; r++) {
    const o = r * k;
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[o + c] as number);
    let s = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((logits[o + c] as number) - m);
      logits[o + c] = e;
      s += e;
    }
    for (let c = 0; c < k; c++) logits[o + c] = (logits[o + c] as number) / s;
    const y = labels[records[r] as number] as number;
    logits[o + y] = (logits[o + y] as number) - 1;
  }
}

/**
 * The sum over `records` of each record's cross-entropy gradient with respect
 * to the weights (bias row last), each clipped to norm `clip` — computed as
 * X̃ᵀ·diag(c)·(P − Y) (module comment, line 2). Adds into `sum`
 * [(dims + 1) × K]; returns how many of the records were clipped (c < 1).
 * `rowNormSq[i]` is ‖x_i‖² (without the bias feature).
 */
export function addClippedGradientSum(
  model: LinearModel,
  data: LabelledFeatures,
  rowNormSq: Float32Array,
  records: Uint32Array,
  clip: number,
  sum: Float32Array,
  scratch?: Float32Array,
): number {
  const d = data.dims;
  const k = model.classes;
  const n = records.length;
  if (n === 0) return 0;
  const rows = gatherRows(
    data,
    records,
    scratch && scratch.length >= n * d ? scratch : new Float32Array(n * d),
  );
  const beta = model.biasFeature;
  const coef = tf.tidy(() => {
    const x = tf.tensor2d(rows, [n, d]);
    const w = tf.tensor2d(model.weights.subarray(0, d * k), [d, k]);
    const b = tf.tensor1d(model.weights.subarray(d * k, (d + 1) * k));
    return tf.add(tf.matMul(x, w), tf.mul(b, beta));
  });
  const g = coef.dataSync() as Float32Array;
  coef.dispose();
  softmaxMinusOneHot(g, data.labels, records, k);
  let clipped = 0;
  for (let r = 0; r < n; r++) {
    const o = r * k;
    let gs = 0;
    for (let c = 0; c < k; c++) gs += (g[o + c] as number) ** 2;
    const norm = Math.sqrt(gs * ((rowNormSq[records[r] as number] as number) + beta * beta));
    const f = norm > clip ? clip / norm : 1;
    if (f < 1) clipped++;
    for (let c = 0; c < k; c++) {
      const v = (g[o + c] as number) * f;
      g[o + c] = v;
      // Bias row: β·Σ_i c_i (p_i − y_i).
      sum[d * k + c] = (sum[d * k + c] as number) + beta * v;
    }
  }
  const grad = tf.tidy(() =>
    tf.matMul(tf.tensor2d(rows, [n, d]), tf.tensor2d(g, [n, k]), true, false),
  );
  const gw = grad.dataSync() as Float32Array;
  grad.dispose();
  for (let i = 0; i < d * k; i++) sum[i] = (sum[i] as number) + (gw[i] as number);
  return clipped;
}

/** ‖x_i‖² of every record (the bias feature not included). */
export function rowNormsSquared(data: LabelledFeatures): Float32Array {
  const out = new Float32Array(data.count);
  for (let i = 0; i < data.count; i++) {
    let s = 0;
    for (let j = i * data.dims; j < (i + 1) * data.dims; j++)
      s += (data.features[j] as number) ** 2;
    out[i] = s;
  }
  return out;
}

/** A zero model (all classes equally likely). */
export function zeroModel(dims: number, classes: number, biasFeature = 1): LinearModel {
  return { weights: new Float32Array((dims + 1) * classes), dims, classes, biasFeature };
}

/** The whole state of a {@link DpLinearStepper} after `t` steps (a checkpoint resumes it exactly). */
export interface DpLinearState {
  /** Noisy steps taken. */
  t: number;
  weights: Float32Array;
  /** SGD momentum, or Adam's first moment. */
  m1: Float32Array;
  /** Adam's second moment (null for SGD). */
  m2: Float32Array | null;
  /** The EMA of the iterates (null without averaging). */
  averaged: Float32Array | null;
}

function checkOptions(o: DpLinearOptions): void {
  check(
    Number.isInteger(o.classes) && o.classes >= 2,
    `it needs at least 2 classes, not ${o.classes}`,
  );
  check(
    o.sigma > 0 && Number.isFinite(o.sigma),
    `the noise multiplier σ must be above 0, not ${o.sigma}`,
  );
  check(
    o.sampleRate > 0 && o.sampleRate <= 1,
    `the sampling rate must be in (0, 1], not ${o.sampleRate}`,
  );
  check(
    Number.isInteger(o.steps) && o.steps >= 1,
    `the number of steps must be a whole number ≥ 1, not ${o.steps}`,
  );
  check(o.clip > 0 && Number.isFinite(o.clip), `the clipping norm must be above 0, not ${o.clip}`);
  check(o.lr > 0 && Number.isFinite(o.lr), `the step size must be above 0, not ${o.lr}`);
  const ema = o.emaDecay ?? 0;
  check(ema >= 0 && ema < 1, `the averaging decay must be in [0, 1), not ${ema}`);
  const decay = o.weightDecay ?? 0;
  check(decay >= 0 && Number.isFinite(decay), `the weight decay must be ≥ 0, not ${decay}`);
}

/**
 * DP-SGD on the linear classifier one noisy step at a time (module comment),
 * so that a caller can pay for each step before its sample and noise are
 * drawn (the write-ahead ledger) and checkpoint between steps: the state
 * ({@link DpLinearStepper.state}) resumes the same trajectory exactly, given
 * the same samples and noise.
 */
export class DpLinearStepper {
  private readonly o: DpLinearOptions;
  private readonly data: LabelledFeatures;
  private readonly model: LinearModel;
  private readonly avg: LinearModel | null;
  private readonly m1: Float32Array;
  private readonly m2: Float32Array | null;
  private readonly norms: Float32Array;
  private readonly sum: Float32Array;
  private readonly noiseVec: Float32Array;
  private readonly scratch: Float32Array;
  private readonly sampler: PoissonSampler;
  private readonly noise: NoiseSource;
  private t = 0;

  /**
   * @param state a state from {@link DpLinearStepper.state} of a stepper with the same options and data; absent: zero weights.
   * @throws UserError INVALID_INPUT for bad settings, data or state.
   */
  constructor(data: LabelledFeatures, options: DpLinearOptions, state?: DpLinearState) {
    checkOptions(options);
    checkData(data, options.classes);
    this.o = options;
    this.data = data;
    this.model = zeroModel(data.dims, options.classes, options.biasFeature ?? 1);
    const size = this.model.weights.length;
    const ema = options.emaDecay ?? 0;
    this.avg = ema > 0 ? zeroModel(data.dims, options.classes, this.model.biasFeature) : null;
    this.m1 = new Float32Array(size);
    this.m2 = (options.optimizer ?? 'sgd') === 'adam' ? new Float32Array(size) : null;
    if (state) {
      const fits = (a: Float32Array | null, want: boolean): boolean =>
        want ? a !== null && a.length === size : a === null;
      check(
        Number.isInteger(state.t) &&
          state.t >= 0 &&
          state.t <= options.steps &&
          state.weights.length === size &&
          state.m1.length === size &&
          fits(state.m2, this.m2 !== null) &&
          fits(state.averaged, this.avg !== null),
        'the saved state does not fit these settings and features',
      );
      this.t = state.t;
      this.model.weights.set(state.weights);
      this.m1.set(state.m1);
      if (this.m2 && state.m2) this.m2.set(state.m2);
      if (this.avg && state.averaged) this.avg.weights.set(state.averaged);
    }
    this.norms = rowNormsSquared(data);
    this.sum = new Float32Array(size);
    this.noiseVec = new Float32Array(size);
    this.scratch = new Float32Array(Math.min(options.maxRows ?? 8192, data.count) * data.dims);
    this.sampler = options.sampler ?? securePoissonSample;
    this.noise = options.noise ?? new SecureGaussian();
  }

  /** Noisy steps taken. */
  get step(): number {
    return this.t;
  }

  /**
   * One noisy step: Poisson sample, clipped sum, Gaussian noise, update. The
   * caller must have paid for step `step + 1` before calling.
   * @throws Error when the step budget T is spent.
   */
  takeStep(): DpLinearStep {
    const o = this.o;
    if (this.t >= o.steps)
      throw new Error(`The private linear probe has taken its ${o.steps} steps.`);
    const { data, sum, noiseVec } = this;
    const w = this.model.weights;
    const size = w.length;
    const maxRows = o.maxRows ?? 8192;
    const sample = this.sampler(data.count, o.sampleRate);
    sum.fill(0);
    for (let s = 0; s < sample.length; s += maxRows) {
      addClippedGradientSum(
        this.model,
        data,
        this.norms,
        sample.subarray(s, s + maxRows),
        o.clip,
        sum,
        this.scratch,
      );
    }
    this.noise.fill(noiseVec, o.sigma * o.clip);
    const t = this.t;
    const schedule = o.lrSchedule ?? 'cosine';
    const lr = schedule === 'cosine' ? 0.5 * o.lr * (1 + Math.cos((Math.PI * t) / o.steps)) : o.lr;
    const expectedBatch = o.sampleRate * data.count;
    const biasStart = data.dims * o.classes;
    const decay = o.weightDecay ?? 0;
    const momentum = o.momentum ?? 0.9;
    const { m1, m2 } = this;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    for (let i = 0; i < size; i++) {
      const g =
        ((sum[i] as number) + (noiseVec[i] as number)) / expectedBatch +
        (i < biasStart ? decay * (w[i] as number) : 0);
      if (m2) {
        const a = (m1[i] = b1 * (m1[i] as number) + (1 - b1) * g);
        const v = (m2[i] = b2 * (m2[i] as number) + (1 - b2) * g * g);
        const ah = a / (1 - b1 ** (t + 1));
        const vh = v / (1 - b2 ** (t + 1));
        w[i] = (w[i] as number) - (lr * ah) / (Math.sqrt(vh) + eps);
      } else {
        const v = (m1[i] = momentum * (m1[i] as number) + g);
        w[i] = (w[i] as number) - lr * v;
      }
    }
    if (this.avg) {
      // Bias-corrected EMA: early on it is the plain mean of the iterates so far.
      const a = Math.min(o.emaDecay ?? 0, t / (t + 10));
      const aw = this.avg.weights;
      for (let i = 0; i < size; i++) aw[i] = a * (aw[i] as number) + (1 - a) * (w[i] as number);
    }
    this.t = t + 1;
    return { step: this.t, batchSize: sample.length };
  }

  /** A copy of the last iterate. */
  last(): LinearModel {
    return { ...this.model, weights: this.model.weights.slice() };
  }

  /** A copy of the averaged iterate (null without averaging). */
  averaged(): LinearModel | null {
    return this.avg ? { ...this.avg, weights: this.avg.weights.slice() } : null;
  }

  /** The model to release: the averaged iterate when there is one, else the last. */
  released(): LinearModel {
    return this.averaged() ?? this.last();
  }

  /** A copy of the whole state (for a checkpoint). */
  state(): DpLinearState {
    return {
      t: this.t,
      weights: this.model.weights.slice(),
      m1: this.m1.slice(),
      m2: this.m2 ? this.m2.slice() : null,
      averaged: this.avg ? this.avg.weights.slice() : null,
    };
  }
}

/**
 * Trains the classifier with DP-SGD (module comment) for `steps` steps,
 * starting from zero weights. (ε, δ) are those of the 'dpsgd' mechanism
 * with (q, σ, T) — see {@link dpLinearEpsilon} — when the defaults for the
 * sampler and the noise are kept.
 * @throws UserError INVALID_INPUT for bad settings or data.
 */
export async function trainDpLinear(
  data: LabelledFeatures,
  options: DpLinearOptions,
): Promise<DpLinearResult> {
  const stepper = new DpLinearStepper(data, options);
  while (stepper.step < options.steps) {
    const report = stepper.takeStep();
    const go = options.onStep?.(report);
    if (stepper.step % 16 === 0) await yieldToEvents();
    if (go === false) break;
  }
  return { model: stepper.last(), averaged: stepper.averaged(), stepsTaken: stepper.step };
}

/** Class scores [count × classes] of the model on feature vectors. */
export function linearLogits(
  model: LinearModel,
  features: Float32Array,
  count: number,
): Float32Array {
  const { dims: d, classes: k } = model;
  if (features.length !== count * d) {
    throw new UserError(
      'INVALID_INPUT',
      `The classifier takes ${d} features per image; got ${features.length} values for ${count} images.`,
    );
  }
  const t = tf.tidy(() =>
    tf.add(
      tf.matMul(
        tf.tensor2d(features, [count, d]),
        tf.tensor2d(model.weights.subarray(0, d * k), [d, k]),
      ),
      tf.mul(tf.tensor1d(model.weights.subarray(d * k)), model.biasFeature),
    ),
  );
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

/** The predicted class of each feature vector. */
export function predictLinear(
  model: LinearModel,
  features: Float32Array,
  count: number,
): Int32Array {
  const z = linearLogits(model, features, count);
  const k = model.classes;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < k; c++)
      if ((z[i * k + c] as number) > (z[i * k + best] as number)) best = c;
    out[i] = best;
  }
  return out;
}

/** Accuracy in % of the model on labelled features. */
export function linearAccuracy(model: LinearModel, data: LabelledFeatures): number {
  const p = predictLinear(model, data.features, data.count);
  let right = 0;
  for (let i = 0; i < data.count; i++) if (p[i] === data.labels[i]) right++;
  return (100 * right) / data.count;
}
