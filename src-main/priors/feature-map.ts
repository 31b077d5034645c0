/**
 * A fixed map applied to each record's prior features before a linear model
 * reads them (DP-RandP phase 2, methods/randp): per-record operations (a
 * power, per-stage standardisation within the record), then an affine
 * whitening x ↦ A·(x − mean) whose A and mean come from public images only.
 * Nothing in it depends on other records, so it may run wherever the
 * features are computed (features.ts applies it batch by batch, on the
 * feature worker threads too).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { yieldToEvents } from '../engine/cooperate';

/**
 * Operations on each record's own feature vector, applied first (and to the
 * public images' features before their statistics are taken).
 */
export interface PerRecordOptions {
  /** Element-wise sign(x)·|x|^p (power normalisation, e.g. 0.5); absent: none. */
  power?: number | undefined;
  /**
   * Sizes of consecutive blocks (e.g. one per network stage) each standardised
   * within the record to mean 0 and unit variance (a per-record layer norm,
   * like the group normalisation of Tramèr and Boneh 2021); absent: none.
   */
  groups?: readonly number[] | undefined;
}

/** A whitening map from public data: x' = A·(x − mean), A = L⁻¹ with L·Lᵀ = Σ + λI. */
export interface FeatureWhitening {
  mean: Float32Array;
  /** A [dims × dims] row-major (lower triangular). */
  factor: Float32Array;
  dims: number;
  source: string;
}

/** Applies the per-record operations to every row, in place; returns `x`. */
export function perRecordTransform(
  x: Float32Array,
  count: number,
  dims: number,
  options: PerRecordOptions,
): Float32Array {
  const { power, groups } = options;
  requireGroupsFit(groups, dims);
  for (let i = 0; i < count; i++) {
    const o = i * dims;
    if (power !== undefined && power !== 1) {
      for (let d = o; d < o + dims; d++) {
        const v = x[d] as number;
        x[d] = Math.sign(v) * Math.abs(v) ** power;
      }
    }
    if (groups) {
      let start = o;
      for (const g of groups) {
        let m = 0;
        for (let d = start; d < start + g; d++) m += x[d] as number;
        m /= g;
        let v = 0;
        for (let d = start; d < start + g; d++) v += ((x[d] as number) - m) ** 2;
        const f = 1 / Math.sqrt(v / g + 1e-6);
        for (let d = start; d < start + g; d++) x[d] = ((x[d] as number) - m) * f;
        start += g;
      }
    }
  }
  return x;
}

/** Refuses feature groups that do not add up to the records' length. */
function requireGroupsFit(groups: readonly number[] | undefined, dims: number): void {
  if (groups && groups.reduce((a, b) => a + b, 0) !== dims) {
    throw new UserError(
      'INVALID_INPUT',
      `The feature groups add up to ${groups.reduce((a, b) => a + b, 0)} features, but the records have ${dims}. Take them from the same prior and read-out.`,
    );
  }
}

/**
 * Each block of `groups` standardised within its row to mean 0 and unit
 * variance (population variance, + 10⁻⁶), as {@link perRecordTransform} does,
 * as tfjs ops (differentiable: phase 3 trains through it).
 */
export function standardiseGroups(f: tf.Tensor2D, groups: readonly number[]): tf.Tensor2D {
  let start = 0;
  const blocks = groups.map((g) => {
    const part = tf.slice(f, [0, start], [-1, g]);
    start += g;
    const { mean, variance } = tf.moments(part, 1, true);
    return tf.mul(tf.sub(part, mean), tf.rsqrt(tf.add(variance, 1e-6))) as tf.Tensor2D;
  });
  return blocks.length === 1 ? (blocks[0] as tf.Tensor2D) : tf.concat(blocks, 1);
}

/** The per-record operations and the public whitening together. */
export interface FeatureMap {
  perRecord: PerRecordOptions;
  whitening: FeatureWhitening;
}

/** A {@link FeatureMap} as TensorFlow.js operations on batches, its constants held as tensors. */
export interface FeatureMapOps {
  /** The mapped rows of a batch of raw features [n × dims] (call inside a tidy). */
  apply: (f: tf.Tensor2D) => tf.Tensor2D;
  dispose: () => void;
}

/**
 * The map as tfjs operations: the same arithmetic as
 * {@link perRecordTransform} then A·(x − mean), in float32 (features are
 * non-negative averages of ReLU outputs, so sign(x)·|x|^p is x^p; the group
 * variance is the population variance, as there).
 */
export function featureMapOps(map: FeatureMap): FeatureMapOps {
  const { perRecord, whitening } = map;
  const d = whitening.dims;
  const groups = perRecord.groups;
  requireGroupsFit(groups, d);
  const factor = tf.tensor2d(whitening.factor, [d, d]);
  const mean = tf.tensor1d(whitening.mean);
  const power = perRecord.power;
  return {
    apply: (f) => {
      if (f.shape[1] !== d) {
        throw new UserError(
          'INVALID_INPUT',
          `The features have ${f.shape[1]} numbers per record, but the map takes ${d}.`,
        );
      }
      let x = f;
      if (power !== undefined && power !== 1)
        x = tf.mul(tf.sign(x), tf.pow(tf.abs(x), power)) as tf.Tensor2D;
      if (groups) x = standardiseGroups(x, groups);
      return tf.matMul(tf.sub(x, mean), factor, false, true);
    },
    dispose: () => {
      factor.dispose();
      mean.dispose();
    },
  };
}

/**
 * Raw prior features [count × dims] → mapped rows (a new array; `features`
 * is left as it was), by {@link featureMapOps} in blocks of rows, yielding
 * to the event loop in between (60 000 rows of 2 016 features are about
 * 0.5 TFLOP: tens of seconds on one core).
 */
export async function applyFeatureMap(
  map: FeatureMap,
  features: Float32Array,
  count: number,
): Promise<Float32Array> {
  const dims = map.whitening.dims;
  const out = new Float32Array(count * dims);
  const ops = featureMapOps(map);
  try {
    for (let s = 0; s < count; s += ROWS_PER_BLOCK) {
      const n = Math.min(ROWS_PER_BLOCK, count - s);
      const y = tf.tidy(() =>
        ops.apply(tf.tensor2d(features.subarray(s * dims, (s + n) * dims), [n, dims])),
      );
      out.set((await y.data()) as Float32Array, s * dims);
      y.dispose();
      await yieldToEvents();
    }
  } finally {
    ops.dispose();
  }
  return out;
}

/** Rows per block of {@link applyFeatureMap}. */
const ROWS_PER_BLOCK = 1024;
