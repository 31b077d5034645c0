/**
 * Random views of procedural images for contrastive pre-training, the
 * augmentations of SimCLR (Chen et al., ICML 2020, Appendix A) that
 * Baradad et al. (NeurIPS 2021) use on their noise images: a random resized
 * crop (area 25–100 %, aspect ratio 3/4 to 4/3) with a horizontal flip half
 * the time; with probability 0.8 a colour jitter of brightness, contrast and
 * saturation (each ×[0.6, 1.4]); grey with probability 0.5 (more often than
 * SimCLR's 0.2, because most images the app sees are grey); and, our
 * addition, the negative with probability 0.2 (X-rays and digits are light
 * on dark, most photographs are not).
 *
 * The images are public (made from a seed), so the draws come from the
 * seeded generator: a pre-training run is reproducible.
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '../../engine/rng';

/** The augmentation's settings (defaults in the module comment). */
export interface AugmentOptions {
  /** Side of the views, pixels. */
  size: number;
  /** Smallest share of the image's area a crop keeps. */
  minArea: number;
  /** Probability of the colour jitter, of grey, of the negative. */
  jitter: number;
  grey: number;
  negative: number;
}

export const DEFAULT_AUGMENT: Omit<AugmentOptions, 'size'> = {
  minArea: 0.25,
  jitter: 0.8,
  grey: 0.5,
  negative: 0.2,
};

/** Per-view factors [n, 1, 1, 1] drawn by `draw`. */
function perView(n: number, draw: () => number): tf.Tensor4D {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = draw();
  return tf.tensor4d(v, [n, 1, 1, 1]);
}

/** Luminance (ITU-R BT.601) of colour images [n, h, w, 3], as [n, h, w, 1]. */
function luminance(x: tf.Tensor4D): tf.Tensor4D {
  return tf.conv2d(x, tf.tensor4d([0.299, 0.587, 0.114], [1, 1, 3, 1]), 1, 'valid');
}

/**
 * One random view of each image: `images` [n, H, W, 3] in [0, 1] → views
 * [n, size, size, 3] in [0, 1].
 */
export function augmentViews(
  images: tf.Tensor4D,
  rng: SeededRng,
  options: AugmentOptions,
): tf.Tensor4D {
  const n = images.shape[0];
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const area = options.minArea + (1 - options.minArea) * rng.nextFloat();
    const ratio = Math.exp((2 * rng.nextFloat() - 1) * Math.log(4 / 3));
    const w = Math.min(1, Math.sqrt(area * ratio));
    const h = Math.min(1, Math.sqrt(area / ratio));
    const y0 = (1 - h) * rng.nextFloat();
    const x0 = (1 - w) * rng.nextFloat();
    // x1 < x0 asks cropAndResize for the mirrored crop.
    const flip = rng.nextFloat() < 0.5;
    boxes.set([y0, flip ? x0 + w : x0, y0 + h, flip ? x0 : x0 + w], 4 * i);
  }
  const jitterOn = (): boolean => rng.nextFloat() < options.jitter;
  const factor = (): number => 0.6 + 0.8 * rng.nextFloat();
  const jit = Array.from({ length: n }, () =>
    jitterOn() ? [factor(), factor(), factor()] : [1, 1, 1],
  );
  const grey = perView(n, () => (rng.nextFloat() < options.grey ? 1 : 0));
  const negative = perView(n, () => (rng.nextFloat() < options.negative ? 1 : 0));
  return tf.tidy(() => {
    const index = tf.tensor1d(
      Array.from({ length: n }, (_, i) => i),
      'int32',
    );
    let v = tf.image.cropAndResize(images, tf.tensor2d(boxes, [n, 4]), index, [
      options.size,
      options.size,
    ]);
    const brightness = tf.tensor4d(
      jit.map((j) => j[0] as number),
      [n, 1, 1, 1],
    );
    const contrast = tf.tensor4d(
      jit.map((j) => j[1] as number),
      [n, 1, 1, 1],
    );
    const saturation = tf.tensor4d(
      jit.map((j) => j[2] as number),
      [n, 1, 1, 1],
    );
    v = tf.mul(v, brightness);
    const mean = tf.mean(v, [1, 2, 3], true);
    v = tf.add(tf.mul(tf.sub(v, mean), contrast), mean);
    const lum = luminance(v);
    v = tf.add(tf.mul(tf.sub(v, lum), saturation), lum);
    v = tf.clipByValue(v, 0, 1);
    const g = tf.tile(luminance(v), [1, 1, 1, 3]);
    v = tf.add(tf.mul(g, grey), tf.mul(v, tf.sub(1, grey)));
    v = tf.add(tf.mul(tf.sub(1, v), negative), tf.mul(v, tf.sub(1, negative)));
    grey.dispose();
    negative.dispose();
    return v as tf.Tensor4D;
  });
}
