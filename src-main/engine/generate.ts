/**
 * Synthetic images from a released decoder (post-processing of the DP output
 * of Algorithm 2 of DP²-VAE, Jiang et al. arXiv 2208.03409, so it costs no
 * privacy): for each class y, z ~ N(0, I) from the prior and the image is the
 * Bernoulli mean sigmoid(decoder(z, y)), scaled to uint8. A seeded generator is
 * right here: the same seed gives the same images (on the same backend).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { imageSize, parameterSpecs, type Architecture } from './architecture';
import { decodeLogits } from './cvae';
import { SeededRng } from './rng';

const GENERATE_STREAM = 0x67656e; // "gen"

/** uint8 images N×H×W×C (row-major) with labels. */
export interface ImageBatch {
  x: Uint8Array;
  y: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface GenerateOptions {
  /** Images per class. */
  perClass: number;
  /** Seed of the latent draws. */
  seed: number;
  /** Classes to generate (default all, in order). */
  classes?: readonly number[];
  /** Images decoded per batch (memory bound; default 500). */
  chunk?: number;
}

/**
 * `perClass` samples of every class from a decoder given as one array per
 * parameter (architecture order, as from Stage2Trainer.decoderWeights).
 * Images are class-major: class c's samples are contiguous.
 */
export function generateImages(
  arch: Architecture,
  decoder: readonly Float32Array[],
  options: GenerateOptions,
): ImageBatch {
  const { perClass, seed } = options;
  if (!Number.isSafeInteger(perClass) || perClass < 1) {
    throw new UserError(
      'INVALID_INPUT',
      `The number of images per class must be a whole number ≥ 1; got ${perClass}.`,
    );
  }
  const classes = options.classes ?? Array.from({ length: arch.classes }, (_, i) => i);
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= arch.classes) {
      throw new UserError(
        'INVALID_INPUT',
        `Class ${c} does not exist (the model has ${arch.classes}).`,
      );
    }
  }
  const specs = parameterSpecs(arch, 'decoder');
  if (decoder.length !== specs.length)
    throw new UserError('CORRUPT_DATA', 'The decoder does not match its architecture.');
  const count = perClass * classes.length;
  const d = imageSize(arch);
  const labels = new Uint8Array(count);
  classes.forEach((c, i) => labels.fill(c, i * perClass, (i + 1) * perClass));
  const z = new Float32Array(count * arch.latent);
  SeededRng.fromSeed(seed, GENERATE_STREAM).fillNormal(z);
  const out = new Uint8Array(count * d);
  const chunk = Math.max(1, options.chunk ?? 500);
  const params = decoder.map((a, i) =>
    tf.tensor(a, [1, ...(specs[i] as { shape: number[] }).shape], 'float32'),
  );
  try {
    for (let s = 0; s < count; s += chunk) {
      const n = Math.min(chunk, count - s);
      const pix = tf.tidy(() => {
        const zt = tf.tensor3d(z.subarray(s * arch.latent, (s + n) * arch.latent), [
          1,
          n,
          arch.latent,
        ]);
        const yt = tf
          .oneHot(tf.tensor1d(labels.subarray(s, s + n), 'int32'), arch.classes)
          .toFloat()
          .reshape([1, n, arch.classes]);
        const probs = tf.sigmoid(decodeLogits(arch, params, zt, yt as tf.Tensor3D));
        return tf.round(tf.mul(probs, 255));
      });
      const vals = pix.dataSync();
      pix.dispose();
      for (let i = 0; i < vals.length; i++) out[s * d + i] = vals[i] as number;
    }
  } finally {
    for (const p of params) p.dispose();
  }
  return {
    x: out,
    y: labels,
    count,
    height: arch.image.height,
    width: arch.image.width,
    channels: arch.image.channels,
  };
}

/** One uint8 image (H×W×C row-major). */
export interface GridImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

/**
 * Tiles images into a rows × cols mosaic (image i at row ⌊i/cols⌋, column
 * i mod cols; empty cells stay black). With class-major images from
 * generateImages and cols = perClass, each row is one class.
 */
export function grid(
  images: ImageBatch,
  rows = 10,
  cols = Math.ceil(images.count / rows),
): GridImage {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new UserError('INVALID_INPUT', 'A grid needs whole numbers ≥ 1 of rows and columns.');
  }
  const { height: h, width: w, channels: c } = images;
  const W = cols * w;
  const data = new Uint8Array(rows * h * W * c);
  const n = Math.min(images.count, rows * cols);
  for (let i = 0; i < n; i++) {
    const r0 = Math.floor(i / cols) * h;
    const c0 = (i % cols) * w;
    for (let y = 0; y < h; y++) {
      const src = (i * h * w + y * w) * c;
      data.set(images.x.subarray(src, src + w * c), ((r0 + y) * W + c0) * c);
    }
  }
  return { data, height: rows * h, width: W, channels: c };
}
