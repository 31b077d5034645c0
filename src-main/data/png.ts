import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { UserError } from '../contract/errors';
import { writeError } from './fs-utils';
import type { PreparedImages } from './types';

/** Raw 8-bit pixels to encode: channels 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA). */
export interface RawImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

const COLOR_TYPE: Record<number, 0 | 2 | 4 | 6> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** Encodes 8-bit pixels as PNG bytes (gray, gray + alpha, RGB or RGBA), for sample grids and exports. */
export function encodePng(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  const colorType = COLOR_TYPE[channels];
  if (colorType === undefined) throw new Error(`encodePng: ${channels} channels are not supported`);
  if (data.length !== width * height * channels) {
    throw new Error(
      `encodePng: ${data.length} bytes do not make a ${width}×${height}×${channels} image`,
    );
  }
  const png = new PNG({
    width,
    height,
    colorType,
    inputColorType: colorType,
    inputHasAlpha: channels % 2 === 0,
  });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = PNG.sync.write(png, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: channels % 2 === 0,
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/**
 * Turns class names into folder names that are safe on Windows, macOS and
 * Linux (no separators or reserved characters, no reserved device names,
 * no trailing dots or spaces) and distinct even on case-insensitive disks.
 */
export function classFolderNames(classes: readonly string[]): string[] {
  const used = new Set<string>();
  return classes.map((name, i) => {
    let safe = [...name]
      .map((ch) => (ch.charCodeAt(0) < 32 || '<>:"/\\|?*'.includes(ch) ? '_' : ch))
      .join('')
      .replace(/[. ]+$/, '')
      .trim();
    if (safe === '' || safe === '.' || safe === '..') safe = `class_${i}`;
    if (RESERVED.test(safe)) safe = `_${safe}`;
    let candidate = safe;
    for (let k = 2; used.has(candidate.toLowerCase()); k++) candidate = `${safe}_${k}`;
    used.add(candidate.toLowerCase());
    return candidate;
  });
}

/**
 * Writes images as `dir/CLASS_NAME/000001.png` (numbered from 1 within each
 * class; DESIGN.md's exchange format). Creates `dir` and the class folders;
 * refuses to overwrite an existing file (UserError ALREADY_EXISTS).
 * Returns the number of files written.
 */
export async function writePngFolder(
  dir: string,
  images: PreparedImages,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<number> {
  const { count, height, width, channels, x, y, classes } = images;
  const folders = classFolderNames(classes);
  for (const f of folders) {
    await mkdir(join(dir, f), { recursive: true }).catch((err: unknown) => {
      throw writeError(join(dir, f), err);
    });
  }
  const perClass = new Uint32Array(classes.length);
  const imageBytes = height * width * channels;
  const BATCH = 64;
  for (let start = 0; start < count; start += BATCH) {
    if (options.signal?.aborted)
      throw new UserError('CANCELLED', `Writing PNG files to ${dir} was cancelled.`);
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const label = y[i] ?? 0;
      const folder = folders[label];
      if (folder === undefined) throw new Error(`writePngFolder: label ${label} has no class name`);
      perClass[label] = (perClass[label] ?? 0) + 1;
      const file = join(dir, folder, `${String(perClass[label]).padStart(6, '0')}.png`);
      const png = encodePng({
        width,
        height,
        channels,
        data: x.subarray(i * imageBytes, (i + 1) * imageBytes),
      });
      jobs.push(
        writeFile(file, png, { flag: 'wx' }).catch((err: unknown) => {
          throw writeError(file, err);
        }),
      );
    }
    await Promise.all(jobs);
    options.onProgress?.(Math.min(count, start + BATCH), count);
  }
  return count;
}
