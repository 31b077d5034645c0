import { UserError } from '../contract/errors';
import { checkPreparedSize, ImageCollector } from './collector';
import { hasImageExtension, sortClassNames, throwIfCancelled, yieldToEventLoop } from './context';
import type { ScanContext, ScanOutcome } from './context';
import { labelTreeFromCsv } from './csv-labels';
import { detectImageFormat } from './decode-image';
import { prepareFile } from './decode-file';
import type { PreparedFile } from './decode-file';
import { DecodePool, MIN_FILES_FOR_WORKERS } from './decode-pool';
import { DicomWithoutImage, ensureDicomCodecs } from './dicom';
import type { ImageTree, TreeFile, TreeRead } from './image-tree';
import { formatBytes, MAX_IMAGE_PIXELS } from './limits';

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

/**
 * Looks at one read before decoding: reports a file that cannot be read, is
 * too large or is not an image, and gives back the bytes worth decoding.
 */
function screenRead(ctx: ScanContext, c: Candidate, read: TreeRead): Uint8Array | undefined {
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
    return undefined;
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
    return undefined;
  }
  if (detectImageFormat(read.bytes) === undefined) {
    if (hasImageExtension(name)) {
      unusable(
        ctx,
        'corrupt',
        where,
        read.bytes.length === 0
          ? 'is empty (0 bytes).'
          : 'has an image file name, but its contents are not a PNG, JPEG, BMP or DICOM image; it may be damaged or in another format.',
        'Re-export it as PNG or remove it.',
        'CORRUPT_DATA',
      );
    } else {
      ctx.log.warn(
        'not-image',
        where,
        'is not an image (not PNG, JPEG, BMP or DICOM); it is ignored.',
        'Move it out of the image folder.',
      );
    }
    return undefined;
  }
  return read.bytes;
}

/** A decoded file, or why it could not be decoded. */
type Decoded = { file: PreparedFile } | { error: unknown };

/** Collects a decoded file's images (every frame of a DICOM file), or reports why it has none. */
function collect(
  ctx: ScanContext,
  collector: ImageCollector,
  c: Candidate,
  isDicom: boolean,
  decoded: Decoded,
): void {
  const where = c.file.display;
  if ('file' in decoded) {
    const { images, dicom } = decoded.file;
    if (dicom) ctx.dicom.add(dicom.header, images.length, dicom.patientFields);
    const many = images.length > 1;
    images.forEach((img, i) => {
      collector.addPrepared(img, c.label, many ? `${where} (frame ${i + 1})` : where);
    });
    return;
  }
  const err = decoded.error;
  if (err instanceof DicomWithoutImage) {
    ctx.log.warn('dicom-no-image', where, err.message, 'No action needed.');
    return;
  }
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
  if (!(err instanceof UserError) || err.code === 'INTERNAL') throw err;
  const code = err.code === 'UNSUPPORTED' ? 'UNSUPPORTED' : 'CORRUPT_DATA';
  unusable(
    ctx,
    code === 'UNSUPPORTED' ? 'unsupported' : 'corrupt',
    where,
    err.message,
    isDicom
      ? 'Export it again from the PACS or viewer (uncompressed, explicit VR little endian, if in doubt), or remove it.'
      : 'Re-export it as PNG or remove it.',
    code,
  );
}

/** Decoder threads for a scan of `files` files: none (this thread) when too few to repay their start. */
function decodeThreads(ctx: ScanContext, files: number): number {
  return ctx.decodeThreads > 1 && files >= MIN_FILES_FOR_WORKERS ? ctx.decodeThreads : 1;
}

/** Reads, decodes and collects every image of a class-folder tree (an image folder or a zip). */
export async function scanImageTree(
  tree: ImageTree,
  ctx: ScanContext,
  format: 'image-folder' | 'zip',
): Promise<ScanOutcome> {
  const { classes, candidates } = ctx.labels
    ? labelTreeFromCsv(tree, ctx.labels.text, ctx.labels.path, ctx)
    : classifyTree(tree, ctx);
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
  const threads = decodeThreads(ctx, total);
  const pool = threads > 1 ? new DecodePool(threads) : undefined;
  const options = { dicomWindow: ctx.dicomWindow, maxPixels: MAX_IMAGE_PIXELS };
  // Decoded files wait in file order; at most `ahead` of them, so memory stays bounded.
  const ahead = 2 * threads;
  try {
    for (let start = 0; start < total;) {
      throwIfCancelled(ctx);
      const batch = candidates.slice(start, start + BATCH);
      // The tree reads as many as fit in the read budget (at least one).
      const reads = await tree.readBatch(batch.map((c) => c.file));
      if (reads.length === 0) throw new Error('scanImageTree: a read batch returned nothing');
      throwIfCancelled(ctx);
      const waiting: { c: Candidate; isDicom: boolean; decoded: Promise<Decoded> }[] = [];
      const collectFirst = async (): Promise<void> => {
        const w = waiting.shift();
        if (w) collect(ctx, collector, w.c, w.isDicom, await w.decoded);
      };
      for (let i = 0; i < reads.length; i++) {
        const c = batch[i];
        const read = reads[i];
        const bytes = c && read && screenRead(ctx, c, read);
        if (!c || !bytes) continue;
        const isDicom = detectImageFormat(bytes) === 'dicom';
        let decoded: Promise<Decoded>;
        if (pool) {
          decoded = pool.decode(bytes, c.file.display, options, ctx.target).then(
            (file) => ({ file }),
            (error: unknown) => ({ error }),
          );
        } else {
          if (isDicom) await ensureDicomCodecs();
          let d: Decoded;
          try {
            d = { file: prepareFile(bytes, c.file.display, options, ctx.target) };
          } catch (error) {
            d = { error };
          }
          decoded = Promise.resolve(d);
        }
        waiting.push({ c, isDicom, decoded });
        if (waiting.length >= ahead) await collectFirst();
      }
      while (waiting.length > 0) await collectFirst();
      start += reads.length;
      ctx.onProgress?.(Math.min(total, start), total);
      if (format === 'zip' || pool) await yieldToEventLoop();
    }
  } finally {
    await pool?.close();
  }
  return { format, classes, collector, dropEmptyClasses: true };
}
