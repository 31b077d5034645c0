import { UserError } from '../contract/errors';
import type { DecodedImage } from './types';

/** The target shape of preprocessing. */
export interface TargetShape {
  size: number;
  channels: 1 | 3;
}

/** Resampling weights from a source axis of length S to a target axis of length D. */
interface AxisWeights {
  /** For output i, its taps are entries start[i] .. start[i+1]-1 of `index` and `weight`. */
  start: Int32Array;
  index: Int32Array;
  weight: Float32Array;
}

const weightCache = new Map<string, AxisWeights>();

/**
 * Weights mapping S source samples to D output samples: area averaging when
 * shrinking (each output is the mean of the source area it covers), bilinear
 * interpolation (pixel centres aligned, edges clamped) when enlarging.
 */
function axisWeights(S: number, D: number): AxisWeights {
  const key = `${S}:${D}`;
  const cached = weightCache.get(key);
  if (cached) return cached;
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(D + 1);
  if (S >= D) {
    const scale = S / D;
    for (let i = 0; i < D; i++) {
      start[i] = index.length;
      const a = i * scale;
      const b = (i + 1) * scale;
      for (let j = Math.floor(a); j < Math.min(S, Math.ceil(b)); j++) {
        const overlap = Math.min(b, j + 1) - Math.max(a, j);
        if (overlap > 1e-9) {
          index.push(j);
          weight.push(overlap / scale);
        }
      }
    }
  } else {
    for (let i = 0; i < D; i++) {
      start[i] = index.length;
      const x = ((i + 0.5) * S) / D - 0.5;
      const j0 = Math.floor(x);
      const f = x - j0;
      const lo = Math.min(Math.max(j0, 0), S - 1);
      const hi = Math.min(Math.max(j0 + 1, 0), S - 1);
      index.push(lo, hi);
      weight.push(1 - f, f);
    }
  }
  start[D] = index.length;
  const w: AxisWeights = {
    start,
    index: Int32Array.from(index),
    weight: Float32Array.from(weight),
  };
  if (weightCache.size > 256) weightCache.clear();
  weightCache.set(key, w);
  return w;
}

/** Converts RGB to gray with the ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B). */
export function rgbToGray(rgb: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    out[i] = Math.round(
      0.299 * (rgb[j] ?? 0) + 0.587 * (rgb[j + 1] ?? 0) + 0.114 * (rgb[j + 2] ?? 0),
    );
  }
  return out;
}

/** Converts gray to RGB by repeating the value in the three channels. */
export function grayToRgb(gray: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    const v = gray[i] ?? 0;
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
  }
  return out;
}

/** Returns the image with 1 or 3 channels (luma for RGB → gray, repetition for gray → RGB). */
export function convertChannels(img: DecodedImage, channels: 1 | 3): DecodedImage {
  if (img.channels === channels) return img;
  const pixels = img.width * img.height;
  const data = channels === 1 ? rgbToGray(img.data, pixels) : grayToRgb(img.data, pixels);
  return { width: img.width, height: img.height, channels, data };
}

/**
 * Resizes the centred square of side min(width, height) to size × size,
 * which equals resizing the shorter side to `size` and cropping the centre.
 * Writes size·size·channels bytes into `out` at `offset` (same channel count
 * as the input).
 */
export function resizeCropInto(
  img: DecodedImage,
  size: number,
  out: Uint8Array,
  offset: number,
): void {
  const { width, height, channels: c, data } = img;
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  if (side === size) {
    if (width === size && height === size) {
      out.set(data.length === size * size * c ? data : data.subarray(0, size * size * c), offset);
      return;
    }
    const rowBytes = size * c;
    for (let y = 0; y < size; y++) {
      const s = ((y0 + y) * width + x0) * c;
      out.set(data.subarray(s, s + rowBytes), offset + y * rowBytes);
    }
    return;
  }
  const k = side / size;
  if (Number.isInteger(k) && (k & (k - 1)) === 0) {
    boxShrinkInto(data, { width, channels: c, x0, y0, k, size }, out, offset);
    return;
  }
  const wts = axisWeights(side, size);
  // Horizontal pass over the rows of the crop: side rows × size columns.
  const tmp = new Float32Array(side * size * c);
  for (let y = 0; y < side; y++) {
    const rowStart = ((y0 + y) * width + x0) * c;
    for (let i = 0; i < size; i++) {
      const a = wts.start[i] ?? 0;
      const b = wts.start[i + 1] ?? 0;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = a; t < b; t++) {
          acc += (wts.weight[t] ?? 0) * (data[rowStart + (wts.index[t] ?? 0) * c + ch] ?? 0);
        }
        tmp[(y * size + i) * c + ch] = acc;
      }
    }
  }
  // Vertical pass: size rows.
  const rowLen = size * c;
  for (let i = 0; i < size; i++) {
    const a = wts.start[i] ?? 0;
    const b = wts.start[i + 1] ?? 0;
    const o = offset + i * rowLen;
    for (let k = 0; k < rowLen; k++) {
      let acc = 0;
      for (let t = a; t < b; t++)
        acc += (wts.weight[t] ?? 0) * (tmp[(wts.index[t] ?? 0) * rowLen + k] ?? 0);
      const v = Math.round(acc);
      out[o + k] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/**
 * Area averaging by a power-of-two factor `k` (512 → 64, say) with integer
 * sums: the same bytes as the general path (whose weights 1/k and partial
 * sums are then exact in floating point), several times faster, which
 * counts when thousands of large DICOM slices are imported.
 */
function boxShrinkInto(
  data: Uint8Array,
  g: { width: number; channels: number; x0: number; y0: number; k: number; size: number },
  out: Uint8Array,
  offset: number,
): void {
  const { width, channels: c, x0, y0, k, size } = g;
  const rowLen = size * c;
  const acc = new Uint32Array(rowLen);
  const area = k * k;
  for (let oy = 0; oy < size; oy++) {
    acc.fill(0);
    for (let dy = 0; dy < k; dy++) {
      let s = ((y0 + oy * k + dy) * width + x0) * c;
      if (c === 1) {
        for (let ox = 0; ox < size; ox++) {
          let sum = 0;
          for (let dx = 0; dx < k; dx++) sum += data[s + dx]!;
          acc[ox] = acc[ox]! + sum;
          s += k;
        }
      } else {
        for (let ox = 0; ox < size; ox++) {
          for (let dx = 0; dx < k; dx++) {
            for (let ch = 0; ch < c; ch++) acc[ox * c + ch] = acc[ox * c + ch]! + data[s++]!;
          }
        }
      }
    }
    const o = offset + oy * rowLen;
    // sum / area is exact (area is a power of two): Math.round as the general path.
    for (let i = 0; i < rowLen; i++) out[o + i] = Math.round(acc[i]! / area);
  }
}

/**
 * Brings one decoded image to the target shape, writing size·size·channels
 * bytes into `out` at `offset`: channels first when reducing to gray, the
 * resize-and-centre-crop, then channels when expanding to RGB.
 */
export function preprocessInto(
  img: DecodedImage,
  target: TargetShape,
  out: Uint8Array,
  offset: number,
): void {
  const { size, channels } = target;
  if (channels === 1 || img.channels === 1) {
    const src = convertChannels(img, 1);
    if (channels === 1) {
      resizeCropInto(src, size, out, offset);
      return;
    }
    const gray = new Uint8Array(size * size);
    resizeCropInto(src, size, gray, 0);
    out.set(grayToRgb(gray, size * size), offset);
    return;
  }
  resizeCropInto(img, size, out, offset);
}

/** Brings one decoded image to the target shape; returns size·size·channels bytes. */
export function preprocessImage(img: DecodedImage, target: TargetShape): Uint8Array {
  const out = new Uint8Array(target.size * target.size * target.channels);
  preprocessInto(img, target, out, 0);
  return out;
}

/** How array values were mapped to 0–255 pixels. */
export type PixelScaling =
  | { kind: 'none' }
  | { kind: 'unit-float' }
  | { kind: 'rounded-float' }
  | { kind: 'bits'; bits: number };

/** Numeric arrays that can hold pixel values. */
export type NumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * Converts pixel values of any numeric array to 8-bit. Floats whose maximum
 * is at most 1 are taken as [0, 1] and scaled to 0–255, other floats in
 * [0, 255] are rounded; integers in 0–255 are kept
 * and larger integers up to 65535 are scaled from the smallest bit depth
 * (10, 12, 14 or 16 bits) that holds them. NaN, infinities, negative values
 * and values beyond those ranges throw a UserError (INVALID_INPUT) naming
 * `where`, with the first bad position.
 */
export function pixelsToUint8(
  values: NumericArray,
  where: string,
): { data: Uint8Array; scaling: PixelScaling } {
  if (values instanceof Uint8Array) return { data: values, scaling: { kind: 'none' } };
  const isFloat = values instanceof Float32Array || values instanceof Float64Array;
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  let fractional = false;
  for (let i = 0; i < n; i++) {
    const v = Number(values[i] ?? 0);
    if (Number.isNaN(v) || !Number.isFinite(v)) {
      throw new UserError(
        'INVALID_INPUT',
        `${where} holds a value that is not a number (${v}) at position ${i}. Replace missing values with numbers between 0 and 255, then import again.`,
      );
    }
    if (v < min) min = v;
    if (v > max) max = v;
    if (isFloat && !fractional && v !== Math.floor(v)) fractional = true;
  }
  if (n === 0) return { data: new Uint8Array(0), scaling: { kind: 'none' } };
  const limit = isFloat ? 255 : 65535;
  if (min < 0 || max > limit) {
    const bad = min < 0 ? min : max;
    throw new UserError(
      'INVALID_INPUT',
      `${where} holds pixel values from ${min} to ${max}; ${bad} is outside the range DP² Studio accepts (0–1 or 0–255 for decimal numbers, 0–65535 for integers). Rescale the images to 0–255, then import again.`,
    );
  }
  const out = new Uint8Array(n);
  let scaling: PixelScaling;
  let factor = 1;
  if (isFloat && max <= 1) {
    scaling = { kind: 'unit-float' };
    factor = 255;
  } else if (isFloat) {
    scaling = fractional ? { kind: 'rounded-float' } : { kind: 'none' };
  } else if (max <= 255) {
    scaling = { kind: 'none' };
  } else {
    const bits = [10, 12, 14, 16].find((b) => max <= 2 ** b - 1) ?? 16;
    scaling = { kind: 'bits', bits };
    factor = 255 / (2 ** bits - 1);
  }
  for (let i = 0; i < n; i++) out[i] = Math.round(Number(values[i] ?? 0) * factor);
  return { data: out, scaling };
}
