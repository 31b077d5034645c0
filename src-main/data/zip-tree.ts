import { unzipSync } from 'fflate';
import type { UnzipFileInfo } from 'fflate';
import { UserError } from '../contract/errors';
import { isIgnoredName } from './context';
import type { ScanContext } from './context';
import type { ImageTree, TreeFile, TreeRead } from './image-tree';

/** Batches of entries inflated together: bounded by count and by uncompressed bytes. */
const BATCH_ENTRIES = 8192;
const BATCH_BYTES = 256 * 1024 * 1024;

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
 * written to disk; entries are inflated in bounded batches when read.
 */
export function openZipTree(bytes: Uint8Array, ctx: ScanContext): ImageTree {
  const where = ctx.path;
  const infos: UnzipFileInfo[] = [];
  try {
    unzipSync(bytes, {
      filter: (f) => {
        infos.push({ ...f });
        return false;
      },
    });
  } catch (err) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is not a readable zip archive (${err instanceof Error ? err.message : String(err)}); it may be truncated. Create the zip again, or import the folder itself.`,
    );
  }
  const unsafe = infos.filter((f) => isUnsafeZipName(f.name)).map((f) => f.name);
  if (unsafe.length > 0) {
    const list = unsafe.slice(0, 3).join(', ');
    throw new UserError(
      'INVALID_INPUT',
      `${where} contains ${unsafe.length} entr${unsafe.length === 1 ? 'y' : 'ies'} whose path leads outside the archive's folder (${list}${unsafe.length > 3 ? ', …' : ''}). DP² Studio does not open such archives, for safety. Zip the image folder again (without ".." or absolute paths), or import the folder itself.`,
    );
  }
  const files: TreeFile[] = [];
  const dirSet = new Map<string, string[]>();
  const info = new Map<string, UnzipFileInfo>();
  for (const f of infos) {
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

  /** Reads of entries inflated ahead of need, taken out (and freed) when read. */
  const cache = new Map<string, TreeRead>();
  let order: string[] = [];
  const position = new Map<string, number>();

  /** Inflates a group of entries in one pass; on failure halves it to find the damaged ones. */
  const inflateGroup = (group: string[]): void => {
    if (group.length === 0) return;
    const names = new Set(group);
    try {
      const got = unzipSync(bytes, { filter: (f) => names.has(f.name) });
      for (const [name, data] of Object.entries(got))
        cache.set(name, { kind: 'bytes', bytes: data });
    } catch (err) {
      if (group.length === 1) {
        cache.set(group[0] ?? '', {
          kind: 'error',
          message: `it is damaged inside the zip (${err instanceof Error ? err.message : String(err)})`,
        });
        return;
      }
      const half = Math.ceil(group.length / 2);
      inflateGroup(group.slice(0, half));
      inflateGroup(group.slice(half));
    }
  };

  /** Settles one entry without inflating it when it cannot be read; true when it needs inflating. */
  const needsInflating = (f: UnzipFileInfo): boolean => {
    if (f.compression !== 0 && f.compression !== 8) {
      cache.set(f.name, {
        kind: 'error',
        message: `it is compressed with a method (number ${f.compression}) DP² Studio cannot read; create the zip with standard compression`,
      });
      return false;
    }
    if (f.originalSize > ctx.maxFileBytes) {
      cache.set(f.name, { kind: 'too-large', size: f.originalSize, head: new Uint8Array(0) });
      return false;
    }
    return true;
  };

  const readBatch = async (batch: readonly TreeFile[]): Promise<TreeRead[]> => {
    for (const file of batch) {
      const f = info.get(file.display);
      if (!f || cache.has(f.name)) continue;
      // Inflate a window: this entry and, following the plan, the next ones not yet read.
      const start = position.get(f.name);
      const window =
        start === undefined
          ? batch.map((b) => info.get(b.display)?.name ?? '')
          : order.slice(start);
      const group: string[] = [];
      let groupBytes = 0;
      for (const name of window) {
        const g = info.get(`${where}: ${name}`);
        if (!g || cache.has(name) || !needsInflating(g)) continue;
        if (
          group.length > 0 &&
          (group.length >= BATCH_ENTRIES || groupBytes + g.originalSize > BATCH_BYTES)
        )
          break;
        group.push(name);
        groupBytes += g.originalSize;
      }
      inflateGroup(group);
    }
    return batch.map((file) => {
      const f = info.get(file.display);
      const read = f && cache.get(f.name);
      if (f) cache.delete(f.name);
      return read ?? { kind: 'error', message: 'it could not be found inside the zip' };
    });
  };

  const plan = (planned: readonly TreeFile[]): void => {
    order = planned.map((file) => info.get(file.display)?.name ?? '');
    position.clear();
    order.forEach((name, i) => position.set(name, i));
  };

  return { files, dirs: [...dirSet.values()], readBatch, plan };
}
