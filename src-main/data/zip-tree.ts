import { UserError } from '../contract/errors';
import { isIgnoredName } from './context';
import type { ScanContext } from './context';
import type { ImageTree, TreeFile, TreeRead } from './image-tree';
import { detectImageFormat } from './decode-image';
import { formatBytes, MAX_IMAGE_FILE_BYTES } from './limits';
import { inflateZipEntry, listZipEntries, type ZipEntry } from './zip-entries';

/** True when a zip entry name would land outside the folder it is extracted to. */
export function isUnsafeZipName(name: string): boolean {
  const n = name.replace(/\\/g, '/');
  return (
    n.startsWith('/') || /^[A-Za-z]:/.test(n) || n.includes('\0') || n.split('/').includes('..')
  );
}

/**
 * Opens a zip of a class-folder tree held in memory. Every entry name is
 * checked first: one absolute name or one with `..` rejects the whole archive
 * (UserError INVALID_INPUT) before anything is inflated. Nothing is ever
 * written to disk. Entries are inflated when read, in batches whose declared
 * sizes fit in the scan's read budget; an entry is never inflated past the
 * size it declares (a deflate bomb is reported as damaged).
 */
export function openZipTree(bytes: Uint8Array, ctx: ScanContext): ImageTree {
  const where = ctx.path;
  const entries = listZipEntries(bytes, where);
  const unsafe = entries.filter((f) => isUnsafeZipName(f.name)).map((f) => f.name);
  if (unsafe.length > 0) {
    const list = unsafe.slice(0, 3).join(', ');
    throw new UserError(
      'INVALID_INPUT',
      `${where} contains ${unsafe.length} entr${unsafe.length === 1 ? 'y' : 'ies'} whose path leads outside the archive's folder (${list}${unsafe.length > 3 ? ', …' : ''}). DP² Studio does not open such archives, for safety. Zip the image folder again (without ".." or absolute paths), or import the folder itself.`,
    );
  }
  const files: TreeFile[] = [];
  const dirSet = new Map<string, string[]>();
  const info = new Map<string, ZipEntry>();
  for (const f of entries) {
    const parts = f.name
      .replace(/\\/g, '/')
      .split('/')
      .filter((p) => p.length > 0 && p !== '.');
    if (parts.length === 0 || parts.some(isIgnoredName)) continue;
    const isDir = f.name.endsWith('/') || f.name.endsWith('\\');
    const dirDepth = isDir ? parts.length : parts.length - 1;
    for (let d = 1; d <= dirDepth; d++) dirSet.set(parts.slice(0, d).join('/'), parts.slice(0, d));
    if (isDir) continue;
    files.push({ rel: parts, display: `${where}: ${f.name}` });
    info.set(`${where}: ${f.name}`, f);
  }

  /** Bytes taken from the budget by the reads handed out last (held until the next batch). */
  let held = 0;

  const readOne = (f: ZipEntry): TreeRead => {
    if (f.compression !== 0 && f.compression !== 8) {
      return {
        kind: 'error',
        message: `it is compressed with a method (number ${f.compression}) DP² Studio cannot read; create the zip with standard compression`,
      };
    }
    if (f.declaredSize > ctx.maxFileBytes)
      return { kind: 'too-large', size: f.declaredSize, head: new Uint8Array(0) };
    let tooLarge = false;
    try {
      const data = inflateZipEntry(bytes, f, {
        where,
        maxBytes: ctx.maxFileBytes,
        // Only images are worth inflating whole, and only up to the largest image.
        checkHead: (head) => {
          if (head.length < 32 && head.length < f.declaredSize) return 'need-more';
          if (detectImageFormat(head) === undefined) return 'stop';
          if (f.declaredSize <= MAX_IMAGE_FILE_BYTES) return;
          tooLarge = true;
          return 'stop';
        },
      });
      if (!tooLarge) return { kind: 'bytes', bytes: data };
      return {
        kind: 'error',
        message: `it declares ${formatBytes(f.declaredSize)}, more than the largest image DP² Studio reads (${formatBytes(MAX_IMAGE_FILE_BYTES)}); it was not unpacked`,
      };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return { kind: 'error', message: `it is damaged inside the zip (${err.message})` };
    }
  };

  const readBatch = async (batch: readonly TreeFile[]): Promise<TreeRead[]> => {
    ctx.budget.give(held);
    held = 0;
    const reads: TreeRead[] = [];
    for (const file of batch) {
      const f = info.get(file.display);
      if (!f) {
        reads.push({ kind: 'error', message: 'it could not be found inside the zip' });
        continue;
      }
      const cost = Math.min(f.declaredSize, ctx.maxFileBytes);
      if (!ctx.budget.fits(cost)) break;
      ctx.budget.take(cost);
      held += cost;
      reads.push(readOne(f));
    }
    return reads;
  };

  return { files, dirs: [...dirSet.values()], readBatch };
}
