/**
 * The one privacy mechanism of method `mepf` (issue #19): the class sums of
 * the per-record embeddings and the class counts, released once through a
 * Gaussian mechanism. Everything after it (the class means, the proportions,
 * the generator) is post-processing and costs no privacy.
 *
 * The statistic, for K classes and embeddings φ of norm ≤ 1 (embedding.ts):
 *
 *   v = [S_1, …, S_K, w·n_1, …, w·n_K],   S_k = Σ_{i: y_i = k} φ(x_i),
 *
 * with n_k the number of records of class k and w the count weight. Adding
 * or removing one record of class k changes S_k by φ(x) (norm ≤ 1) and n_k
 * by 1, and nothing else, so ‖Δv‖₂ ≤ √(1 + w²) =: Δ — the L2 sensitivity
 * under add/remove of one record. The release is ṽ = v + N(0, σ²Δ²·I), a
 * Gaussian mechanism with noise multiplier σ; its (ε, δ) comes from the app's
 * accountant (src-main/privacy), never from a formula here.
 *
 * The computation is kept in two parts on purpose: {@link classStatistic}
 * (exact, private, never leaves the machine) and {@link releaseStatistic}
 * (the noise), so tests can check the sensitivity on the exact statistic.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../contract/errors';
import { SecureGaussian } from '../../engine/secure-noise';
import {
  calibrateSigma,
  epsilonOf,
  type AccountingOptions,
  type MechanismSpec,
} from '../../privacy';
import { z } from 'zod';
import type { Embedding, EmbeddingDescription } from './embedding';

/** The exact statistic (private): class sums of φ and class counts. */
export interface ClassStatistic {
  classes: number;
  dims: number;
  /** S_k, class-major: K × dims. */
  sums: Float64Array;
  /** n_k. */
  counts: Float64Array;
}

/**
 * Accumulates class sums of φ batch by batch, in float64, so per-record
 * embeddings are never all held (nor written anywhere). Each row is re-checked
 * here: a row whose norm exceeds 1 (float32 rounding of a unit vector, or a
 * faulty embedding) is scaled down to norm 1 before it is added, so the
 * sensitivity bound of the module comment holds whatever φ delivers.
 */
export class StatisticAccumulator {
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;

  constructor(
    readonly classes: number,
    readonly dims: number,
  ) {
    if (!Number.isInteger(classes) || classes < 1) {
      throw new RangeError(`The number of classes must be a whole number ≥ 1, not ${classes}.`);
    }
    if (!Number.isInteger(dims) || dims < 1) {
      throw new RangeError(`The embedding length must be a whole number ≥ 1, not ${dims}.`);
    }
    this.sums = new Float64Array(classes * dims);
    this.counts = new Float64Array(classes);
  }

  /** Adds rows `phi` (n × dims, row-major) with their labels (n of them). */
  add(phi: Float32Array | Float64Array, labels: ArrayLike<number>): void {
    const d = this.dims;
    const n = labels.length;
    if (phi.length !== n * d) {
      throw new RangeError(`${n} labels need ${n * d} embedding values, not ${phi.length}.`);
    }
    for (let i = 0; i < n; i++) {
      const k = labels[i] as number;
      if (!Number.isInteger(k) || k < 0 || k >= this.classes) {
        throw new RangeError(`Label ${k} is not one of the ${this.classes} classes.`);
      }
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (phi[i * d + j] as number) ** 2;
      const scale = sq > 1 ? 1 / Math.sqrt(sq) : 1;
      const off = k * d;
      const sums = this.sums;
      for (let j = 0; j < d; j++) {
        sums[off + j] = (sums[off + j] as number) + scale * (phi[i * d + j] as number);
      }
      this.counts[k] = (this.counts[k] as number) + 1;
    }
  }

  /** The statistic so far (copies). */
  result(): ClassStatistic {
    return {
      classes: this.classes,
      dims: this.dims,
      sums: Float64Array.from(this.sums),
      counts: Float64Array.from(this.counts),
    };
  }
}

/** Labelled images as bytes (NHWC row-major), as the app's data sets hold them. */
export interface LabelledImages {
  x: Uint8Array;
  y: ArrayLike<number>;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Options of {@link classStatistic}. */
export interface StatisticOptions {
  classes: number;
  /** Images per batch through φ (default 500). */
  batchSize?: number;
  /** Called after each batch with the records done so far. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * The exact class statistic of `images` under `embedding` (private: its
 * output must only go to {@link releaseStatistic}). Runs φ in batches,
 * yielding to the event loop between them so progress and cancellation get
 * through; per-record embeddings exist only one batch at a time.
 */
export async function classStatistic(
  embedding: Embedding,
  images: LabelledImages,
  options: StatisticOptions,
): Promise<ClassStatistic> {
  const { height, width, channels, count } = images;
  const e = embedding.image;
  if (height !== e.height || width !== e.width || channels !== e.channels) {
    throw new RangeError(
      `The embedding was made for ${e.height}×${e.width}×${e.channels} images; these are ${height}×${width}×${channels}.`,
    );
  }
  const acc = new StatisticAccumulator(options.classes, embedding.dims);
  const per = height * width * channels;
  const batch = Math.max(1, options.batchSize ?? 500);
  for (let s = 0; s < count; s += batch) {
    options.signal?.throwIfAborted();
    const n = Math.min(batch, count - s);
    const src = images.x.subarray(s * per, (s + n) * per);
    const pixels = new Float32Array(n * per);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (src[i] as number) / 255;
    const phi = tf.tidy(() => embedding.embed(tf.tensor4d(pixels, [n, height, width, channels])));
    const rows = (await phi.data()) as Float32Array;
    phi.dispose();
    acc.add(
      rows,
      Array.from({ length: n }, (_, i) => images.y[s + i] as number),
    );
    rows.fill(0);
    options.onProgress?.(s + n, count);
    await new Promise((r) => setImmediate(r));
  }
  return acc.result();
}

/** The L2 sensitivity Δ = √(1 + w²) of [S, w·n] under add/remove of one record. */
export function releaseSensitivity(countWeight: number): number {
  return Math.sqrt(1 + countWeight * countWeight);
}

/**
 * The released vector [S_1 … S_K, w·n_1 … w·n_K] of an exact statistic,
 * before noise (tests use it to check the sensitivity).
 */
export function statisticVector(stat: ClassStatistic, countWeight: number): Float64Array {
  const out = new Float64Array(stat.sums.length + stat.classes);
  out.set(stat.sums);
  for (let k = 0; k < stat.classes; k++) {
    out[stat.sums.length + k] = countWeight * (stat.counts[k] as number);
  }
  return out;
}

/**
 * The default count weight w for embeddings of `dims` numbers: w = dims^(−1/4).
 *
 * Why: the class mean is estimated as m̃ = S̃/ñ. To first order its error is
 * (e_S − m·e_n)/n, with e_S ~ N(0, σ²Δ²I_D) on the sums and e_n ~ N(0,
 * σ²Δ²/w²) on the count (the released w·n carries noise σΔ, so n carries
 * σΔ/w). So E‖m̃ − m‖² ≈ σ²(1 + w²)(D + ‖m‖²/w²)/n². The w that minimises
 * (1 + w²)(D + a/w²) is w⁴ = a/D; with a = ‖m‖² ≤ 1 unknown (it is private)
 * and close to 1 for non-negative features, w = D^(−1/4) — e.g. 0.22 at
 * D = 448 — which spends almost all the noise budget on the sums: it costs
 * (1 + 1/√D)² ≈ 1.1 times the error of a release of the sums alone with
 * public counts, against 2 times for w = 1. The counts are still ample for
 * the proportions (noise σΔ/w ≈ 20 records at σ = 4, D = 448). Measured in
 * bench/mepf.ts (`--part weights`).
 */
export function defaultCountWeight(dims: number): number {
  return dims ** -0.25;
}

/** Settings of {@link releaseStatistic}. */
export interface ReleaseOptions {
  /** Noise multiplier σ: the noise on every coordinate has std σ·Δ. */
  sigma: number;
  /** Weight w of the counts in the released vector (default {@link defaultCountWeight}). */
  countWeight?: number;
  /** Source of the noise (default a fresh {@link SecureGaussian}, node:crypto). */
  noise?: SecureGaussian;
}

/**
 * What `mepf` releases: the noisy class sums and counts (the output of the
 * Gaussian mechanism, safe to store and show), and the settings that produced
 * it. Plain data: it serialises as JSON with the typed arrays as lists.
 */
export interface MepfRelease {
  classes: number;
  dims: number;
  sigma: number;
  countWeight: number;
  /** Δ = √(1 + w²). */
  sensitivity: number;
  /** S̃_k, class-major K × dims. */
  sums: Float64Array;
  /** ñ_k = (w·n_k + noise)/w: may be fractional or negative. */
  counts: Float64Array;
}

function requireSigma(sigma: unknown): number {
  if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma)) {
    throw new UserError(
      'INVALID_INPUT',
      `The noise multiplier σ must be a positive number; got ${String(sigma)}.`,
    );
  }
  return sigma;
}

function requireCountWeight(w: unknown): number {
  if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w)) {
    throw new UserError(
      'INVALID_INPUT',
      `The count weight w must be a positive number; got ${String(w)}.`,
    );
  }
  return w;
}

/**
 * The Gaussian mechanism of the module comment: ṽ = [S, w·n] + N(0, σ²Δ²·I)
 * with noise from the CSPRNG. Returns the noisy sums and counts (the counts
 * divided back by w).
 */
export function releaseStatistic(stat: ClassStatistic, options: ReleaseOptions): MepfRelease {
  const sigma = requireSigma(options.sigma);
  const countWeight = requireCountWeight(options.countWeight ?? defaultCountWeight(stat.dims));
  const sensitivity = releaseSensitivity(countWeight);
  const v = statisticVector(stat, countWeight);
  const noise = (options.noise ?? new SecureGaussian()).sample(v.length, sigma * sensitivity);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + (noise[i] as number);
  noise.fill(0);
  const m = stat.sums.length;
  const counts = new Float64Array(stat.classes);
  for (let k = 0; k < stat.classes; k++) counts[k] = (v[m + k] as number) / countWeight;
  return {
    classes: stat.classes,
    dims: stat.dims,
    sigma,
    countWeight,
    sensitivity,
    sums: v.slice(0, m),
    counts,
  };
}

/**
 * The noisy class means m̃_k = S̃_k / max(ñ_k, 1), K × dims (float32, for the
 * generator). The clamp at 1: a small class's noisy count can be near 0 or
 * negative, and dividing by it would blow the mean up or flip its sign; no
 * class that holds a record has fewer than 1, so clamping never moves a
 * count toward a wrong value, and it is post-processing (no privacy cost).
 */
export function releasedMeans(release: MepfRelease): Float32Array {
  const { classes, dims } = release;
  const out = new Float32Array(classes * dims);
  for (let k = 0; k < classes; k++) {
    const n = Math.max(release.counts[k] as number, 1);
    for (let j = 0; j < dims; j++) out[k * dims + j] = (release.sums[k * dims + j] as number) / n;
  }
  return out;
}

/**
 * The noisy class proportions p̃_k = max(ñ_k, 0) / Σ_j max(ñ_j, 0) (uniform
 * if every noisy count is ≤ 0): the weights of the generator's loss and the
 * label mix of the synthetic data.
 */
export function releasedProportions(release: MepfRelease): Float64Array {
  const p = release.counts.map((c) => Math.max(c, 0));
  const total = p.reduce((a, b) => a + b, 0);
  return total > 0 ? p.map((c) => c / total) : p.map(() => 1 / release.classes);
}

/**
 * The release as a privacy mechanism: one Gaussian mechanism with noise
 * multiplier σ against its sensitivity (the accountant's `gaussian`
 * mechanism, steps 1; the same as DP-SGD with sampling rate 1 and one step).
 */
export function releaseMechanism(sigma: number): MechanismSpec {
  return { mechanism: 'gaussian', sigma, steps: 1 };
}

/** ε of the release at δ, from the app's accountant (RDP by default, or PLD). */
export function releaseEpsilon(options: { sigma: number; delta: number } & AccountingOptions): {
  epsilon: number;
  order: number;
} {
  const { sigma, delta, ...accounting } = options;
  return epsilonOf({ spec: releaseMechanism(requireSigma(sigma)), delta, ...accounting });
}

/** The smallest σ (the accountant's calibration) for which the release is (ε, δ)-DP. */
export function calibrateReleaseSigma(
  options: { epsilon: number; delta: number } & AccountingOptions,
): { sigma: number; epsilon: number } {
  const { epsilon, delta, ...accounting } = options;
  const r = calibrateSigma({
    spec: { mechanism: 'gaussian', steps: 1 },
    epsilon,
    delta,
    ...accounting,
  });
  return { sigma: r.sigma, epsilon: r.epsilon };
}

/**
 * The expected relative error of a class's released mean, before any data is
 * read: √(E‖m̃_k − m_k‖²)/‖m_k‖ ≈ σΔ·√(D + 1/w²) / n_k, taking ‖m_k‖ = 1 (an
 * upper bound on the signal: it is near 1 for the network embeddings, whose
 * features are non-negative, and smaller for `rff`, whose relative error is
 * then larger). For the plan's words ("noise about 30 % of the signal"); the
 * count n_k stays inside the app.
 */
export function expectedNoiseToSignal(options: {
  sigma: number;
  countWeight: number;
  dims: number;
  count: number;
}): number {
  const { sigma, countWeight: w, dims, count } = options;
  return (sigma * releaseSensitivity(w) * Math.sqrt(dims + 1 / (w * w))) / Math.max(count, 1);
}

/** Format tag of a stored release. */
export const RELEASE_FORMAT = 'dp2-mepf-release';

const releaseFileSchema = z.strictObject({
  format: z.literal(RELEASE_FORMAT),
  version: z.literal(1),
  embedding: z.looseObject({ source: z.enum(['prior', 'random-net', 'rff', 'combined']) }),
  classes: z.number().int().min(1),
  dims: z.number().int().min(1),
  sigma: z.number().positive(),
  countWeight: z.number().positive(),
  sensitivity: z.number().positive(),
  sums: z.array(z.number()),
  counts: z.array(z.number()),
});

/**
 * A release as JSON text, with the description of the φ it was made with
 * (to rebuild φ when a generator is trained again: embedding.ts
 * embeddingFromDescription). Only the mechanism's output and its settings:
 * nothing else computed from the data.
 */
export function releaseToJson(release: MepfRelease, embedding: EmbeddingDescription): string {
  return `${JSON.stringify({
    format: RELEASE_FORMAT,
    version: 1,
    embedding,
    classes: release.classes,
    dims: release.dims,
    sigma: release.sigma,
    countWeight: release.countWeight,
    sensitivity: release.sensitivity,
    sums: Array.from(release.sums),
    counts: Array.from(release.counts),
  })}\n`;
}

/** Reads {@link releaseToJson}'s text back; a damaged or foreign file is refused in plain words. */
export function releaseFromJson(text: string): {
  release: MepfRelease;
  embedding: EmbeddingDescription;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const r = releaseFileSchema.safeParse(parsed);
  if (
    !r.success ||
    r.data.sums.length !== r.data.classes * r.data.dims ||
    r.data.counts.length !== r.data.classes ||
    Math.abs(r.data.sensitivity - releaseSensitivity(r.data.countWeight)) > 1e-12
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      'This is not a readable mepf release (the noisy class sums of a DP² Studio run): it is damaged or of another kind. Use the release of a finished mepf run.',
    );
  }
  const d = r.data;
  return {
    release: {
      classes: d.classes,
      dims: d.dims,
      sigma: d.sigma,
      countWeight: d.countWeight,
      sensitivity: d.sensitivity,
      sums: Float64Array.from(d.sums),
      counts: Float64Array.from(d.counts),
    },
    embedding: d.embedding as unknown as EmbeddingDescription,
  };
}
