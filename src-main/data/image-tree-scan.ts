import { UserError } from '../contract/errors';
import { checkPreparedSize, ImageCollector } from './collector';
import { hasImageExtension, sortClassNames, throwIfCancelled, yieldToEventLoop } from './context';
import type { ScanContext, ScanOutcome } from './context';
import { decodeImage, detectImageFormat } from './decode-image';
import type { ImageTree, TreeFile, TreeRead } from './image-tree';
import { formatBytes } from './limits';

/** Files read and decoded per batch at most (the read budget may allow fewer): enough to keep the disk busy. */
const BATCH = 256;

/** A file that should hold an image of a class. */
interface Candidate {
  file: TreeFile;
  label: number;
}

/**
 * Finds the classes of a tree: its top-level folders (sorted), after
 * stepping into a single wrapping folder (a zip of a folder usually holds
 * `name/class/…`). Files at the top level are not in any class.
 */
export function classifyTree(
  tree: ImageTree,
  ctx: ScanContext,
): { classes: string[]; candidates: Candidate[] } {
  let files = tree.files;
  let dirs = tree.dirs;
  const stripped: string[] = [];
  for (let level = 0; level < 4; level++) {
    const tops = new Set([...files.map((f) => f.rel[0]), ...dirs.map((d) => d[0])]);
    const [only] = tops;
    if (
      tops.size !== 1 ||
      only === undefined ||
      files.length === 0 ||
      !files.every((f) => f.rel.length >= 2) ||
      !files.some((f) => f.rel.length >= 3)
    ) {
      break;
    }
    stripped.push(only);
    files = files.map((f) => ({ ...f, rel: f.rel.slice(1) }));
    dirs = dirs.filter((d) => d.length > 1).map((d) => d.slice(1));
  }
  if (stripped.length > 0) {
    ctx.log.warn(
      'wrapper-folder',
      ctx.path,
      `All images are inside the folder "${stripped.join('/')}"; its sub-folders are used as the classes.`,
      'No action needed if those sub-folders are the classes.',
    );
  }
  for (const f of files) {
    if (f.rel.length === 1 && hasImageExtension(f.rel[0] ?? '')) {
      ctx.log.warn(
        'outside-class',
        f.display,
        'is not inside a class folder, so it is ignored.',
        'Move it into the folder of its class.',
      );
    }
  }
  const classes = sortClassNames([
    ...dirs.map((d) => d[0] ?? ''),
    ...files.filter((f) => f.rel.length >= 2).map((f) => f.rel[0] ?? ''),
  ]);
  const index = new Map(classes.map((c, i) => [c, i]));
  const keyed = files
    .filter((f) => f.rel.length >= 2)
    .map((f) => ({
      file: f,
      label: index.get(f.rel[0] ?? '') ?? 0,
      key: f.rel.slice(1).join('/'),
    }));
  keyed.sort((a, b) => a.label - b.label || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { classes, candidates: keyed.map(({ file, label }) => ({ file, label })) };
}

/** Records a file that could not be used: an error, or a warning when unreadable files are skipped. */
function unusable(
  ctx: ScanContext,
  kind: string,
  file: string,
  problem: string,
  action: string,
  code: 'CORRUPT_DATA' | 'UNSUPPORTED' | 'INVALID_INPUT',
): void {
  if (ctx.skipUnreadable) {
    ctx.log.warn(kind, file, `${problem} It is skipped.`, action);
  } else {
    ctx.log.error(kind, file, problem, `${action} Or choose to skip unreadable files.`, code);
  }
}

function handleRead(
  ctx: ScanContext,
  collector: ImageCollector,
  c: Candidate,
  read: TreeRead,
): void {
  const name = c.file.rel[c.file.rel.length - 1] ?? '';
  const where = c.file.display;
  if (read.kind === 'error') {
    unusable(
      ctx,
      'unreadable',
      where,
      `cannot be read: ${read.message}.`,
      'Check the file (permissions, disk) or remove it.',
      'INVALID_INPUT',
    );
    return;
  }
  if (read.kind === 'too-large') {
    if (detectImageFormat(read.head) !== undefined || hasImageExtension(name)) {
      unusable(
        ctx,
        'too-large',
        where,
        `is ${formatBytes(read.size)}, larger than DP² Studio reads as one image (${formatBytes(ctx.maxFileBytes)}).`,
        'Reduce the image (smaller size or stronger compression) or remove it.',
        'INVALID_INPUT',
      );
    } else {
      ctx.log.warn(
        'not-image',
        where,
        `is not an image (and is ${formatBytes(read.size)}); it is ignored.`,
        'Move it out of the image folder.',
      );
    }
    return;
  }
  const format = detectImageFormat(read.bytes);
  if (format === undefined) {
    if (hasImageExtension(name)) {
      unusable(
        ctx,
        'corrupt',
        where,
        read.bytes.length === 0
          ? 'is empty (0 bytes).'
          : 'has an image file name, but its contents are not a PNG, JPEG or BMP image; it may be damaged or in another format.',
        'Re-export it as PNG or remove it.',
        'CORRUPT_DATA',
      );
    } else {
      ctx.log.warn(
        'not-image',
        where,
        'is not an image (not PNG, JPEG or BMP); it is ignored.',
        'Move it out of the image folder.',
      );
    }
    return;
  }
  try {
    collector.add(decodeImage(read.bytes, where), c.label, where);
  } catch (err) {
    if (err instanceof RangeError) {
      // An allocation failed: this file is too large for the memory left, not a reason to stop.
      unusable(
        ctx,
        'too-large',
        where,
        'is too large to decode with the memory available.',
        'Reduce the image (smaller size) or remove it.',
        'INVALID_INPUT',
      );
      return;
    }
    if (!(err instanceof UserError)) throw err;
    const code = err.code === 'UNSUPPORTED' ? 'UNSUPPORTED' : 'CORRUPT_DATA';
    unusable(
      ctx,
      code === 'UNSUPPORTED' ? 'unsupported' : 'corrupt',
      where,
      err.message,
      'Re-export it as PNG or remove it.',
      code,
    );
  }
}

/** Reads, decodes and collects every image of a class-folder tree (an image folder or a zip). */
export async function scanImageTree(
  tree: ImageTree,
  ctx: ScanContext,
  format: 'image-folder' | 'zip',
): Promise<ScanOutcome> {
  const { classes, candidates } = classifyTree(tree, ctx);
  if (ctx.keepPixels) checkPreparedSize(candidates.length, ctx.target, ctx.path);
  const collector = new ImageCollector(
    ctx.target,
    classes,
    candidates.length,
    ctx.keepPixels,
    ctx.log,
  );
  const total = candidates.length;
  tree.plan?.(candidates.map((c) => c.file));
  ctx.onProgress?.(0, total);
  for (let start = 0; start < total;) {
    throwIfCancelled(ctx);
    const batch = candidates.slice(start, start + BATCH);
    // The tree reads as many as fit in the read budget (at least one).
    const reads = await tree.readBatch(batch.map((c) => c.file));
    if (reads.length === 0) throw new Error('scanImageTree: a read batch returned nothing');
    throwIfCancelled(ctx);
    reads.forEach((read, i) => {
      const c = batch[i];
      if (c) handleRead(ctx, collector, c, read);
    });
    start += reads.length;
    ctx.onProgress?.(Math.min(total, start), total);
    if (format === 'zip') await yieldToEventLoop();
  }
  return { format, classes, collector, dropEmptyClasses: true };
}
