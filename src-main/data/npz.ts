import { unzipSync, zipSync } from 'fflate';
import { UserError } from '../contract/errors';
import type { NpyArray, NpyInput } from './npy';
import { encodeNpy, parseNpy } from './npy';
import type { PreparedImages } from './types';

/**
 * Reads a NumPy `.npz` archive (as written by numpy.savez or
 * numpy.savez_compressed) held in memory. Returns its arrays by name (without
 * `.npy`). Throws a UserError naming `where` when it is not a readable .npz.
 */
export function readNpz(bytes: Uint8Array, where: string): Record<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name.endsWith('.npy') });
  } catch (err) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is not a readable .npz archive (${err instanceof Error ? err.message : String(err)}); it may be truncated. Save it again with numpy.savez, then import again.`,
    );
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, data] of Object.entries(files)) {
    out[name.slice(0, -4)] = parseNpy(data, `${where} (array ${name.slice(0, -4)})`);
  }
  if (Object.keys(out).length === 0) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} holds no NumPy arrays. Choose a .npz written by numpy.savez.`,
    );
  }
  return out;
}

/**
 * Writes arrays as a `.npz` archive loadable by `numpy.load` (no pickles
 * needed): typed arrays keep their dtype, string arrays become `<U…`.
 * Stored uncompressed unless `compress` is true.
 */
export function writeNpz(
  arrays: Record<string, NpyInput>,
  options: { compress?: boolean } = {},
): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, arr] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(arr);
  return zipSync(files, { level: options.compress ? 6 : 0 });
}

/**
 * DESIGN.md's synthetic-data exchange format as .npz bytes: `x` uint8
 * (N, H, W) for gray or (N, H, W, C), `y` int64 (N,), `classes` unicode names.
 */
export function imagesToNpz(images: PreparedImages): Uint8Array {
  const { count, height, width, channels } = images;
  const y = new BigInt64Array(count);
  for (let i = 0; i < count; i++) y[i] = BigInt(images.y[i] ?? 0);
  return writeNpz({
    x: {
      data: images.x.subarray(0, count * height * width * channels),
      shape: channels === 1 ? [count, height, width] : [count, height, width, channels],
    },
    y: { data: y },
    classes: { data: images.classes },
  });
}
