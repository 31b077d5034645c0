/**
 * Size limits of the import layer, checked before anything large is read or
 * allocated, so a wrong file gives a plain message instead of exhausting memory.
 */

/** Largest single file read into memory by default: 2 GiB. */
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3;

/** Largest single image decoded, in pixels (width × height): 64 megapixels. */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

/**
 * Largest image file unpacked from a zip: a 64-megapixel image with four
 * bytes per pixel, and room for its format's overhead.
 */
export const MAX_IMAGE_FILE_BYTES = 4 * MAX_IMAGE_PIXELS + 16 * 1024 * 1024;

/** Largest prepared data set (N·H·W·C bytes) built in memory: 2 GiB. */
export const MAX_PREPARED_BYTES = 2 * 1024 ** 3;

/**
 * Largest total of arrays one `.npz` (or zip of `.npy` files) may hold once
 * inflated: 2 GiB, checked against what the archive declares before anything
 * is inflated, and enforced while inflating.
 */
export const DEFAULT_MAX_ARRAY_BYTES = 2 * 1024 ** 3;

/**
 * Bytes of files held in memory at once while a folder or zip of images is
 * scanned (read, not yet decoded): 64 MiB, shared by the concurrent reads.
 * Garbage of earlier batches and decoded images come on top (bench/import-memory.ts).
 */
export const DEFAULT_READ_BUDGET_BYTES = 64 * 1024 ** 2;

/** Formats a byte count for messages, e.g. `2.0 GiB`. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
