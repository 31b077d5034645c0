/**
 * The labelled image sets the evaluation layer reads: synthetic images from a
 * released decoder (`.npz` with `x` (N, H, W[, C]) uint8 and `y` (N,)) and the
 * data set's real splits. One shape for both, so MNIST from
 * `loadBundledMnist()` (no `channels`) and `PreparedImages` (NHWC) both fit.
 */
import { UserError } from '../contract/errors';

/** Images (N·H·W·C bytes, row-major NHWC) with one integer label each. */
export interface EvalImages {
  x: Uint8Array;
  y: ArrayLike<number>;
  count: number;
  height: number;
  width: number;
  /** Colour channels; 1 when absent. */
  channels?: number;
}

/** Height, width and channels of one image. */
export interface ImageGeometry {
  height: number;
  width: number;
  channels: number;
}

/** Checks a set's sizes and labels; `what` names it in the message ("the synthetic images"). */
export function checkImages(images: EvalImages, what: string): ImageGeometry {
  const { count, height, width } = images;
  const channels = images.channels ?? 1;
  for (const [name, v] of [
    ['count', count],
    ['height', height],
    ['width', width],
    ['channels', channels],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new UserError(
        'INVALID_INPUT',
        `${capitalise(what)} have ${name} ${String(v)}; it must be a whole number of at least 1.`,
      );
    }
  }
  const expected = count * height * width * channels;
  if (images.x.length !== expected) {
    throw new UserError(
      'INVALID_INPUT',
      `${capitalise(what)} hold ${images.x.length} pixel values, but ${count} images of ` +
        `${height}×${width}×${channels} need ${expected}.`,
    );
  }
  if (images.y.length !== count) {
    throw new UserError(
      'INVALID_INPUT',
      `${capitalise(what)} have ${images.y.length} labels for ${count} images; give one label per image.`,
    );
  }
  for (let i = 0; i < count; i++) {
    const label = images.y[i] as number;
    if (!Number.isInteger(label) || label < 0 || label > 65535) {
      throw new UserError(
        'INVALID_INPUT',
        `${capitalise(what)}: label ${i + 1} is ${label}; labels must be class numbers 0, 1, 2, …`,
      );
    }
  }
  return { height, width, channels };
}

/** Fails unless two sets have images of the same shape. */
export function requireSameGeometry(
  a: ImageGeometry,
  aWhat: string,
  b: ImageGeometry,
  bWhat: string,
): void {
  if (a.height !== b.height || a.width !== b.width || a.channels !== b.channels) {
    throw new UserError(
      'INVALID_INPUT',
      `${capitalise(aWhat)} are ${a.height}×${a.width}×${a.channels} but ${bWhat} are ` +
        `${b.height}×${b.width}×${b.channels}; both must have the same size and channels.`,
    );
  }
}

/** One more than the largest label of the given sets (classes are 0 … K−1). */
export function classCount(...sets: EvalImages[]): number {
  let max = 0;
  for (const s of sets) for (let i = 0; i < s.count; i++) max = Math.max(max, s.y[i] as number);
  return max + 1;
}

/**
 * Pixel values of images `indices` scaled to [0, 1], as one Float32Array
 * (NHWC). Written into the start of `into` when it is large enough (a
 * training loop reuses one buffer: a fresh array every step costs page
 * faults), else into a new array.
 */
export function gatherPixels(
  images: EvalImages,
  indices: ArrayLike<number>,
  into?: Float32Array,
): Float32Array {
  const size = images.height * images.width * (images.channels ?? 1);
  const n = indices.length * size;
  const out = into !== undefined && into.length >= n ? into.subarray(0, n) : new Float32Array(n);
  const x = images.x;
  for (let b = 0; b < indices.length; b++) {
    const src = (indices[b] as number) * size;
    const dst = b * size;
    for (let j = 0; j < size; j++) out[dst + j] = (x[src + j] as number) / 255;
  }
  return out;
}

/** Labels of images `indices` as Int32Array. */
export function gatherLabels(images: EvalImages, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let b = 0; b < indices.length; b++) out[b] = images.y[indices[b] as number] as number;
  return out;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A new set holding copies of the images `indices` of `images`, in that order. */
export function pickImages(images: EvalImages, indices: ArrayLike<number>): EvalImages {
  const size = images.height * images.width * (images.channels ?? 1);
  const x = new Uint8Array(indices.length * size);
  for (let b = 0; b < indices.length; b++) {
    const src = (indices[b] as number) * size;
    x.set(images.x.subarray(src, src + size), b * size);
  }
  return { ...images, x, y: gatherLabels(images, indices), count: indices.length };
}
