/**
 * Turning uint8 images and labels into the float batches of the CVAE
 * (cvae.ts): x ∈ [0, 1] (the Bernoulli means of Appendix B.1 of DP²-VAE),
 * one-hot labels, a padding mask and the reparameterisation noise ε, stacked
 * over the group axis G.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { imageSize, type Architecture } from './architecture';
import type { CvaeBatch } from './cvae';
import type { SeededRng } from './rng';

/** Labelled uint8 images, N×H×W(×C) row-major (compatible with data/mnist's LabelledImages). */
export interface EngineImages {
  x: Uint8Array;
  y: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Channels per pixel; 1 when absent. */
  channels?: number;
}

/** Checks that `data` fits `arch`; throws a plain-words UserError otherwise. */
export function checkImages(arch: Architecture, data: EngineImages): void {
  const channels = data.channels ?? 1;
  const { height, width } = arch.image;
  if (data.height !== height || data.width !== width || channels !== arch.image.channels) {
    throw new UserError(
      'INVALID_INPUT',
      `The model expects ${height}×${width} images with ${arch.image.channels} channel(s); this data set has ${data.height}×${data.width}×${channels}.`,
    );
  }
  if (
    data.count < 1 ||
    data.x.length !== data.count * imageSize(arch) ||
    data.y.length !== data.count
  ) {
    throw new UserError('CORRUPT_DATA', 'The data set arrays do not match its record count.');
  }
  for (let i = 0; i < data.count; i++) {
    if ((data.y[i] as number) >= arch.classes) {
      throw new UserError(
        'INVALID_INPUT',
        `Record ${i} has label ${data.y[i]}, but the model has ${arch.classes} classes.`,
      );
    }
  }
}

/**
 * A batch for G models of `rows` rows each. `records[g]` lists model g's
 * record indices (at most `rows`; the rest is padding with mask 0). `rngs[g]`
 * draws model g's ε for all `rows` rows (padding included), so a model's
 * stream does not depend on the others in its group.
 */
export function makeBatch(
  arch: Architecture,
  data: EngineImages,
  records: readonly Uint32Array[],
  rows: number,
  rngs: readonly SeededRng[],
): CvaeBatch {
  const g = records.length;
  const d = imageSize(arch);
  const c = arch.classes;
  const l = arch.latent;
  const x = new Float32Array(g * rows * d);
  const y = new Float32Array(g * rows * c);
  const mask = new Float32Array(g * rows);
  const eps = new Float32Array(g * rows * l);
  for (let m = 0; m < g; m++) {
    const idx = records[m] as Uint32Array;
    if (idx.length > rows) throw new RangeError('More records than batch rows.');
    for (let r = 0; r < idx.length; r++) {
      const rec = idx[r] as number;
      const row = m * rows + r;
      const src = data.x.subarray(rec * d, (rec + 1) * d);
      const dst = row * d;
      for (let i = 0; i < d; i++) x[dst + i] = (src[i] as number) / 255;
      y[row * c + (data.y[rec] as number)] = 1;
      mask[row] = 1;
    }
    (rngs[m] as SeededRng).fillNormal(eps.subarray(m * rows * l, (m + 1) * rows * l));
  }
  return {
    x: tf.tensor3d(x, [g, rows, d]),
    y: tf.tensor3d(y, [g, rows, c]),
    mask: tf.tensor2d(mask, [g, rows]),
    eps: tf.tensor3d(eps, [g, rows, l]),
  };
}

/**
 * The rows of `records` for a flat (2-D) batch: pixels scaled to [0, 1]
 * ([n × D]) and one-hot labels ([n × classes]), in the order given.
 */
export function recordRows(
  arch: Architecture,
  data: EngineImages,
  records: Uint32Array,
): { x: Float32Array; y: Float32Array } {
  const n = records.length;
  const d = imageSize(arch);
  const c = arch.classes;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * c);
  for (let r = 0; r < n; r++) {
    const rec = records[r] as number;
    const src = data.x.subarray(rec * d, (rec + 1) * d);
    const off = r * d;
    for (let i = 0; i < d; i++) x[off + i] = (src[i] as number) / 255;
    y[r * c + (data.y[rec] as number)] = 1;
  }
  return { x, y };
}

/** Disposes a batch's tensors. */
export function disposeBatch(b: CvaeBatch): void {
  b.x.dispose();
  b.y.dispose();
  b.mask.dispose();
  b.eps.dispose();
}

/** `n` distinct records drawn uniformly from `pool` (partial Fisher–Yates on a copy). */
export function sampleWithoutReplacement(
  pool: Uint32Array,
  n: number,
  rng: SeededRng,
): Uint32Array {
  const a = Uint32Array.from(pool);
  const take = Math.min(n, a.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.nextInt(a.length - i);
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
  return a.slice(0, take);
}
