import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkPreparedSize, ImageCollector } from './collector';
import { throwIfCancelled, yieldToEventLoop } from './context';
import type { ScanContext, ScanOutcome } from './context';
import type { NpyArray } from './npy';
import { pixelsToUint8 } from './preprocess';
import type { DecodedImage, ImportFormat } from './types';
import { UserError } from '../contract/errors';

/** Images held in one array (N·H·W·C bytes) with their labels. */
export interface ArrayPart {
  /** How to name the images in messages, e.g. `data.npz: train_images`. */
  where: string;
  x: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  labels: Int32Array;
}

const PROGRESS_EVERY = 4096;

/**
 * Collects the images of array parts in order. With `givenTrain` the first
 * `givenTrain` images (the first parts) form the training split and the rest
 * the test split, as the source defines.
 */
export async function scanArrayParts(
  ctx: ScanContext,
  format: ImportFormat,
  parts: ArrayPart[],
  classes: string[],
  givenTrain?: number,
): Promise<ScanOutcome> {
  const total = parts.reduce((a, p) => a + p.count, 0);
  if (ctx.keepPixels) checkPreparedSize(total, ctx.target, ctx.path);
  const collector = new ImageCollector(ctx.target, classes, total, ctx.keepPixels, ctx.log);
  let done = 0;
  ctx.onProgress?.(0, total);
  for (const part of parts) {
    const per = part.height * part.width * part.channels;
    // A plain Uint8Array view: subarrays of a Buffer cost more per image.
    const x = new Uint8Array(part.x.buffer, part.x.byteOffset, part.x.byteLength);
    for (let i = 0; i < part.count; i++) {
      const img: DecodedImage = {
        width: part.width,
        height: part.height,
        channels: part.channels,
        data: x.subarray(i * per, (i + 1) * per),
      };
      collector.add(img, part.labels[i] ?? 0, `${part.where}[${i}]`);
      done++;
      if (done % PROGRESS_EVERY === 0) {
        ctx.onProgress?.(done, total);
        await yieldToEventLoop();
        throwIfCancelled(ctx);
      }
    }
  }
  ctx.onProgress?.(total, total);
  const outcome: ScanOutcome = { format, classes, collector, dropEmptyClasses: false };
  if (givenTrain !== undefined) outcome.givenTrainCount = givenTrain;
  return outcome;
}

/**
 * Images from a numeric array: (N, H, W), (N, H, W, C) with C = 1, 3 or 4,
 * channels-first (N, 1|3, H, W), or flat (N, D) with D a square. Values are
 * brought to 0–255 (see pixelsToUint8); RGBA is flattened onto black.
 * Problems are logged; undefined when the array cannot be used.
 */
export function imagesFromArray(
  arr: NpyArray,
  where: string,
  ctx: ScanContext,
): Omit<ArrayPart, 'labels' | 'where'> | undefined {
  const { log } = ctx;
  if (Array.isArray(arr.data)) {
    log.error(
      'array-type',
      where,
      `holds text (${arr.dtype}), not pixel values.`,
      'Store the images as a uint8 array.',
    );
    return undefined;
  }
  const shape = arr.shape;
  const count = shape[0] ?? 0;
  let [height = 0, width = 0, channels = 1] = shape.slice(1);
  let layout: 'nhwc' | 'nchw' = 'nhwc';
  if (shape.length === 2) {
    const side = Math.round(Math.sqrt(shape[1] ?? 0));
    if (side * side !== shape[1] || side === 0) {
      log.error(
        'array-shape',
        where,
        `has shape (${shape.join(', ')}), which is not a stack of images.`,
        'Store the images with shape (N, H, W) or (N, H, W, C).',
      );
      return undefined;
    }
    [height, width, channels] = [side, side, 1];
    log.warn(
      'flat-images',
      where,
      `holds flat rows of ${shape[1]} values; they are read as ${side}×${side} grayscale images.`,
      'Store the images with shape (N, H, W) to avoid the guess.',
    );
  } else if (
    shape.length === 4 &&
    ![1, 3, 4].includes(shape[3] ?? 0) &&
    [1, 3].includes(shape[1] ?? 0)
  ) {
    layout = 'nchw';
    [channels, height, width] = [shape[1] ?? 1, shape[2] ?? 0, shape[3] ?? 0];
    log.warn(
      'channels-first',
      where,
      `has shape (${shape.join(', ')}); it is read as channels-first (N, C, H, W).`,
      'No action needed if the images look right in the preview.',
    );
  } else if (shape.length === 4 && ![1, 3, 4].includes(channels)) {
    log.error(
      'array-shape',
      where,
      `has ${channels} channels per pixel; images need 1 (gray), 3 (RGB) or 4 (RGBA).`,
      'Store the images with shape (N, H, W) or (N, H, W, 3).',
    );
    return undefined;
  } else if (shape.length !== 3 && shape.length !== 4) {
    log.error(
      'array-shape',
      where,
      `has shape (${shape.join(', ')}), which is not a stack of images.`,
      'Store the images with shape (N, H, W) or (N, H, W, C).',
    );
    return undefined;
  }
  if (height === 0 || width === 0) {
    log.error(
      'array-shape',
      where,
      `has shape (${shape.join(', ')}): its images are empty.`,
      'Store non-empty images.',
    );
    return undefined;
  }
  let data: Uint8Array;
  try {
    const converted = pixelsToUint8(arr.data, where);
    data = converted.data;
    if (converted.scaling.kind === 'unit-float') {
      log.warn(
        'scaled',
        where,
        'holds decimal values between 0 and 1; they are scaled to 0–255.',
        'No action needed.',
      );
    } else if (converted.scaling.kind === 'rounded-float') {
      log.warn(
        'scaled',
        where,
        'holds decimal values between 0 and 255; they are rounded to whole numbers.',
        'No action needed.',
      );
    } else if (converted.scaling.kind === 'bits') {
      log.warn(
        'scaled',
        where,
        `holds values up to ${2 ** converted.scaling.bits - 1} (${converted.scaling.bits}-bit); they are scaled to 0–255.`,
        'No action needed; window the images beforehand if only a part of the range matters.',
      );
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    log.error('values', where, err.message, 'Fix the values, then import again.');
    return undefined;
  }
  const pixels = height * width;
  if (layout === 'nchw' || channels === 4) {
    const outC = channels === 1 ? 1 : 3;
    const out = new Uint8Array(count * pixels * outC);
    for (let n = 0; n < count; n++) {
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < outC; c++) {
          const src =
            layout === 'nchw' ? (n * channels + c) * pixels + p : (n * pixels + p) * channels + c;
          let v = data[src] ?? 0;
          if (channels === 4) v = Math.round((v * (data[(n * pixels + p) * 4 + 3] ?? 0)) / 255);
          out[(n * pixels + p) * outC + c] = v;
        }
      }
    }
    if (channels === 4)
      log.warn(
        'alpha',
        where,
        'holds RGBA images; the alpha channel is flattened onto black.',
        'No action needed.',
      );
    return { x: out, count, height, width, channels: outC as 1 | 3 };
  }
  return { x: data, count, height, width, channels: channels as 1 | 3 };
}

/**
 * Labels from an array of shape (N,) or (N, 1): whole numbers ≥ 0. Logs an
 * error (multi-label, fractional or negative labels) and returns undefined
 * when they cannot be used.
 */
export function labelsFromArray(
  arr: NpyArray,
  where: string,
  ctx: ScanContext,
): Int32Array | undefined {
  const { log } = ctx;
  if (Array.isArray(arr.data)) {
    log.error(
      'label-type',
      where,
      `holds text (${arr.dtype}) instead of class numbers.`,
      'Store the labels as whole numbers 0, 1, 2, … and the names in labels.txt.',
    );
    return undefined;
  }
  const [n = 0, k = 1] = arr.shape;
  if (arr.shape.length > 2 || (arr.shape.length === 2 && k !== 1) || arr.shape.length === 0) {
    log.error(
      'multi-label',
      where,
      `has shape (${arr.shape.join(', ')}); DP² Studio needs one class per image (shape (N,)).`,
      'Store one label per image; multi-label data sets are not supported.',
    );
    return undefined;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(arr.data[i] ?? 0);
    if (!Number.isInteger(v) || v < 0 || v > 65535) {
      log.error(
        'label-range',
        where,
        `has the label ${v} at position ${i}; labels must be whole numbers from 0 to 65535.`,
        'Fix the labels, then import again.',
      );
      return undefined;
    }
    out[i] = v;
  }
  return out;
}

/** The largest label, or -1 when there are none. */
export function maxLabel(labels: Int32Array[]): number {
  let m = -1;
  for (const l of labels) for (const v of l) if (v > m) m = v;
  return m;
}

/**
 * Class names for labels 0..max: from `given` names (an array in the file),
 * else from `labels.txt` or `classes.txt` beside the file (one name per line,
 * optionally `0: name`), else the numbers themselves. A label beyond the
 * names is an error naming `where`.
 */
export async function classNamesFor(
  max: number,
  sourcePath: string,
  given: string[] | undefined,
  where: string,
  ctx: ScanContext,
): Promise<string[] | undefined> {
  let names = given;
  let from = `${where} (its class names)`;
  if (!names) {
    for (const file of ['labels.txt', 'classes.txt']) {
      const path = join(dirname(sourcePath), file);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue;
      }
      const lines = text
        .replace(/^\uFEFF/, '')
        .split(/\r?\n/)
        .map((l) => l.trim());
      while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      const numbered = lines.every((l, i) => new RegExp(`^${i}\\s*[:,=\\t ]\\s*\\S`).test(l));
      names = numbered ? lines.map((l) => l.replace(/^\d+\s*[:,=\t ]\s*/, '')) : lines;
      from = path;
      break;
    }
  }
  if (!names) return Array.from({ length: max + 1 }, (_, i) => String(i));
  if (max >= names.length) {
    ctx.log.error(
      'label-range',
      where,
      `has the label ${max}, but ${from} names only ${names.length} classes (labels 0 to ${names.length - 1}).`,
      'Fix the labels or add the missing class names, then import again.',
    );
    return undefined;
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) {
      ctx.log.error(
        'class-names',
        from,
        `names the class "${n}" twice.`,
        'Give every class its own name.',
      );
      return undefined;
    }
    seen.add(n);
  }
  return names;
}
