import { zipSync } from 'fflate';
import { UserError } from '../contract/errors';
import { DEFAULT_MAX_ARRAY_BYTES, formatBytes } from './limits';
import type { NpyArray, NpyInput } from './npy';
import { encodeNpy, parseNpy, parseNpyHeader } from './npy';
import type { PreparedImages } from './types';
import { inflateZipEntry, listZipEntries } from './zip-entries';

/**
 * Reads a NumPy `.npz` archive (as written by numpy.savez or
 * numpy.savez_compressed) held in memory. Returns its arrays by name (without
 * `.npy`). Throws a UserError naming `where` when it is not a readable .npz.
 *
 * Memory is bounded by `maxBytes` for the whole archive, whatever it claims:
 * the sizes its directory declares are checked before anything is inflated,
 * each array's header (shape × dtype) as soon as it is inflated and before
 * the array's data, and inflating stops where an entry passes what it
 * declares (a deflate bomb).
 */
export function readNpz(
  bytes: Uint8Array,
  where: string,
  options: { maxBytes?: number } = {},
): Record<string, NpyArray> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ARRAY_BYTES;
  const entries = listZipEntries(bytes, where).filter((e) => e.name.endsWith('.npy'));
  if (entries.length === 0) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} holds no NumPy arrays. Choose a .npz written by numpy.savez.`,
    );
  }
  const declared = entries.reduce((n, e) => n + e.declaredSize, 0);
  if (declared > maxBytes) {
    throw new UserError(
      'INVALID_INPUT',
      `${where} declares ${formatBytes(declared)} of arrays, more than DP² Studio reads at once (${formatBytes(maxBytes)}). Nothing of it was unpacked. Save the training and test images as separate .npz files, or reduce the image size, then import again.`,
    );
  }
  const out: Record<string, NpyArray> = {};
  for (const entry of entries) {
    const name = entry.name.slice(0, -4);
    const what = `${where} (array ${name})`;
    const data = inflateZipEntry(bytes, entry, {
      where,
      maxBytes,
      checkHead: (head) => {
        const h = parseNpyHeader(head, what);
        if (h === 'need-more') return 'need-more';
        if (h.dataBytes === null) return; // parseNpy says why it cannot be read
        const total = h.dataStart + h.dataBytes;
        if (total > maxBytes) {
          throw new UserError(
            'INVALID_INPUT',
            `${what} declares shape (${h.shape.join(', ')}) of ${h.descr}, ${formatBytes(total)}, more than DP² Studio reads at once (${formatBytes(maxBytes)}). Its data was not unpacked. Split the data into smaller arrays.`,
          );
        }
        if (total !== entry.declaredSize) {
          throw new UserError(
            'CORRUPT_DATA',
            `${what} declares shape (${h.shape.join(', ')}) of ${h.descr}, ${formatBytes(total)}, but the archive says it holds ${formatBytes(entry.declaredSize)}. Its data was not unpacked: the file is damaged. Save it again with numpy.savez.`,
          );
        }
      },
    });
    out[name] = parseNpy(data, what);
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
