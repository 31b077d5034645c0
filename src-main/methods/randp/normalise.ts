/**
 * Feature normalisation for the private linear probe of DP-RandP (phase 2),
 * using nothing computed from the private data: per-record operations (each
 * record's own feature vector: power, per-stage standardisation, a fixed L2
 * norm), and per-feature statistics or the covariance of PUBLIC images — the
 * prior's own procedurally generated families (src-main/priors/families),
 * which contain no real data, so their mean, spread and covariance are
 * data-independent constants of the prior.
 *
 * Why normalise at all: DP-SGD clips each record's gradient to C and adds
 * noise of the same scale to every coordinate, and it has few steps to spend;
 * badly scaled or correlated features make some directions learn at a rate
 * the noise swamps. The measured best (docs/classifier.md) is power 0.5, the
 * per-stage standardisation, then whitening by the public covariance.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../contract/errors';
import { generateFamily, PRIOR_FAMILIES, type PriorFamily } from '../../priors/families';
import { extractFeatures } from '../../priors/features';
import { featureLayers } from '../../priors/network/architecture';
import type { FeatureReadout, FoldedNet } from '../../priors/network/feature-net';
import { timeSlicer } from '../../engine/cooperate';
import {
  applyFeatureMap,
  perRecordTransform,
  type FeatureWhitening,
  type PerRecordOptions,
} from '../../priors/feature-map';

export { perRecordTransform, type FeatureWhitening, type PerRecordOptions };

/** Per-feature shift and scale: x' = (x − shift)·scale. */
export interface FeatureScaling {
  shift: Float32Array;
  scale: Float32Array;
  /** What the statistics were computed on (for the model card). */
  source: string;
  /** The per-record operations applied before the statistics (the private features must get the same). */
  perRecord?: PerRecordOptions;
}

/** How features are normalised before the probe. */
export interface NormaliseOptions extends PerRecordOptions {
  /** Per-feature shift/scale from public data (after the per-record operations), or none. */
  scaling?: FeatureScaling | undefined;
  /** Then each record's vector is scaled to this L2 norm (0 or absent: not). */
  rowNorm?: number | undefined;
}

/** Options of {@link publicFeatureScaling}. */
export interface PublicScalingOptions {
  readout: FeatureReadout;
  /** Procedural images per family (default 1000). */
  perFamily?: number;
  /** Seed of the procedural images (default 7: not the prior's training seed). */
  seed?: number;
  /** Side and channels of the images, as the private set's (default 28, 1). */
  size?: number;
  channels?: number;
  families?: readonly PriorFamily[];
  /** The per-record operations the private features will get (so the statistics match). */
  perRecord?: PerRecordOptions;
}

/** Block sizes of a read-out, one per layer in order (channels × grid²): for {@link PerRecordOptions.groups}. */
export function readoutGroups(net: FoldedNet, readout: FeatureReadout): number[] {
  const names = featureLayers(net.spec);
  return readout.layers.map(
    (l) => (net.spec.widths[names.indexOf(l) + 1] as number) * readout.grid * readout.grid,
  );
}

/**
 * Per-feature mean and standard deviation of the prior's features on its own
 * procedural images (public: made from a seed, no real data). Depends only on
 * the prior, the read-out and these options — never on private records.
 */
export async function publicFeatureScaling(
  net: FoldedNet,
  options: PublicScalingOptions,
): Promise<FeatureScaling> {
  const perFamily = options.perFamily ?? 1000;
  const seed = options.seed ?? 7;
  const size = options.size ?? 28;
  const channels = options.channels ?? 1;
  const families = options.families ?? PRIOR_FAMILIES;
  let sum: Float64Array | null = null;
  let sq: Float64Array | null = null;
  let n = 0;
  for (const family of families) {
    const images = generateFamily({ family, seed, count: perFamily, size, channels });
    const { features, dims } = await extractFeatures(net, images, { readout: options.readout });
    perRecordTransform(features, images.count, dims, options.perRecord ?? {});
    sum ??= new Float64Array(dims);
    sq ??= new Float64Array(dims);
    for (let i = 0; i < images.count; i++) {
      for (let d = 0; d < dims; d++) {
        const v = features[i * dims + d] as number;
        sum[d] = (sum[d] as number) + v;
        sq[d] = (sq[d] as number) + v * v;
      }
    }
    n += images.count;
  }
  if (!sum || !sq)
    throw new UserError(
      'INVALID_INPUT',
      'Public feature statistics need at least one procedural family.',
    );
  const shift = new Float32Array(sum.length);
  const scale = new Float32Array(sum.length);
  for (let d = 0; d < sum.length; d++) {
    const m = (sum[d] as number) / n;
    const v = Math.max(0, (sq[d] as number) / n - m * m);
    shift[d] = m;
    // A floor keeps near-constant features from being blown up into noise.
    scale[d] = 1 / (Math.sqrt(v) + 1e-3);
  }
  return {
    shift,
    scale,
    perRecord: { ...options.perRecord },
    source: `prior features of ${perFamily} procedural images per family (${families.join(', ')}), seed ${seed}, ${size}×${size}×${channels}`,
  };
}

/**
 * The features of `count` records, normalised (a new array): first the
 * per-record operations, then the public per-feature shift/scale when given,
 * then each row scaled to `rowNorm`.
 * Each output row depends on its own input row only.
 */
export function normaliseFeatures(
  features: Float32Array,
  count: number,
  dims: number,
  options: NormaliseOptions,
): Float32Array {
  if (features.length !== count * dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The feature array holds ${features.length} values, not ${count} × ${dims}.`,
    );
  }
  const { scaling, rowNorm } = options;
  const per: PerRecordOptions = { power: options.power, groups: options.groups };
  if (scaling && scaling.shift.length !== dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The feature scaling is for ${scaling.shift.length} features, but the records have ${dims}. Compute it with the same prior and read-out.`,
    );
  }
  const out = perRecordTransform(features.slice(), count, dims, per);
  for (let i = 0; i < count; i++) {
    const o = i * dims;
    let s = 0;
    for (let d = 0; d < dims; d++) {
      let v = out[o + d] as number;
      if (scaling) v = (v - (scaling.shift[d] as number)) * (scaling.scale[d] as number);
      out[o + d] = v;
      s += v * v;
    }
    if (rowNorm && rowNorm > 0) {
      const f = s > 0 ? rowNorm / Math.sqrt(s) : 0;
      for (let d = 0; d < dims; d++) out[o + d] = (out[o + d] as number) * f;
    }
  }
  return out;
}

/**
 * Whitening of the features by the covariance Σ of the prior's features on
 * its own procedural images (public), shrunk toward the identity
 * (Σ + λ·tr(Σ)/d·I, Ledoit–Wolf style, `shrink` = λ): a fixed invertible
 * linear map, so a linear probe on whitened features is a probe on the
 * originals whose gradient steps are preconditioned by (Σ + λI)⁻¹ — better
 * conditioned, at no privacy cost.
 */
export async function publicFeatureWhitening(
  net: FoldedNet,
  options: PublicScalingOptions & { shrink?: number },
): Promise<FeatureWhitening> {
  const perFamily = options.perFamily ?? 1000;
  const seed = options.seed ?? 7;
  const size = options.size ?? 28;
  const channels = options.channels ?? 1;
  const families = options.families ?? PRIOR_FAMILIES;
  const shrink = options.shrink ?? 0.1;
  const parts: Float32Array[] = [];
  let dims = 0;
  let n = 0;
  for (const family of families) {
    const images = generateFamily({ family, seed, count: perFamily, size, channels });
    const f = await extractFeatures(net, images, { readout: options.readout });
    perRecordTransform(f.features, images.count, f.dims, options.perRecord ?? {});
    parts.push(f.features);
    dims = f.dims;
    n += images.count;
  }
  const all = new Float32Array(n * dims);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const slice = timeSlicer();
  const mean = new Float32Array(dims);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dims; d++)
      mean[d] = (mean[d] as number) + (all[i * dims + d] as number) / n;
  }
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dims; d++)
      all[i * dims + d] = (all[i * dims + d] as number) - (mean[d] as number);
  }
  // Σ (n−1) = Σ_rows xᵀx, summed over chunks of rows so the event loop runs between them.
  const cov = new Float64Array(dims * dims);
  for (let s = 0; s < n; s += ROWS_PER_CHUNK) {
    const rows = Math.min(ROWS_PER_CHUNK, n - s);
    const part = tf.tidy(() => {
      const x = tf.tensor2d(all.subarray(s * dims, (s + rows) * dims), [rows, dims]);
      return tf.matMul(x, x, true, false);
    });
    const p = (await part.data()) as Float32Array;
    part.dispose();
    for (let k = 0; k < p.length; k++) cov[k] = (cov[k] as number) + (p[k] as number) / (n - 1);
    await slice();
  }
  let tr = 0;
  for (let d = 0; d < dims; d++) tr += cov[d * dims + d] as number;
  const ridge = (shrink * tr) / dims;
  for (let d = 0; d < dims; d++) cov[d * dims + d] = (cov[d * dims + d] as number) + ridge;
  const factor = Float32Array.from(
    await lowerInverse(await cholesky(cov, dims, slice), dims, slice),
  );
  return {
    mean,
    factor,
    dims,
    source: `covariance of prior features of ${perFamily} procedural images per family (${families.join(', ')}), seed ${seed}, shrinkage ${shrink}`,
  };
}

/** Rows per tfjs product when the public covariance is summed. */
const ROWS_PER_CHUNK = 1024;

/**
 * Cholesky factor L (row-major, lower) of a symmetric positive definite
 * matrix (Golub and Van Loan, "Matrix Computations", Alg. 4.2.1, by
 * columns); `slice` is awaited after each column.
 */
async function cholesky(
  a: Float64Array,
  n: number,
  slice: () => Promise<void>,
): Promise<Float64Array> {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j] as number;
    const rj = j * n;
    for (let k = 0; k < j; k++) s -= (l[rj + k] as number) ** 2;
    if (!(s > 0))
      throw new UserError(
        'INVALID_INPUT',
        'The public feature covariance is not positive definite; raise the shrinkage.',
      );
    const d = Math.sqrt(s);
    l[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j] as number;
      for (let k = 0; k < j; k++) t -= (l[ri + k] as number) * (l[rj + k] as number);
      l[ri + j] = t / d;
    }
    await slice();
  }
  return l;
}

/**
 * L⁻¹ of a lower-triangular L (row-major), by forward substitution one row
 * at a time: row i of X = L⁻¹ is (eᵢ − Σ_{k<i} L_ik X_k) / L_ii, and row k of
 * X is zero beyond column k, so every inner loop runs along a row.
 */
async function lowerInverse(
  l: Float64Array,
  n: number,
  slice: () => Promise<void>,
): Promise<Float64Array> {
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const c = l[ri + k] as number;
      if (c === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++)
        inv[ri + j] = (inv[ri + j] as number) - c * (inv[rk + j] as number);
    }
    inv[ri + i] = 1;
    const d = l[ri + i] as number;
    for (let j = 0; j <= i; j++) inv[ri + j] = (inv[ri + j] as number) / d;
    await slice();
  }
  return inv;
}

/**
 * A·(x − mean) for every row (a new array): the whitening alone, that is
 * {@link applyFeatureMap} without per-record operations.
 */
export function whitenFeatures(
  features: Float32Array,
  count: number,
  w: FeatureWhitening,
): Promise<Float32Array> {
  return applyFeatureMap({ perRecord: {}, whitening: w }, features, count);
}
