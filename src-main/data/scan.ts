import { open, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../contract/errors';
import { IMAGE_SIZES } from '../contract/datasets';
import { isIgnoredName, throwIfCancelled } from './context';
import type { ScanContext, ScanOutcome } from './context';
import { detectImageFormat } from './decode-image';
import { walkFolder } from './folder-tree';
import { labelsCsvText } from './csv-labels';
import { workerCountFromEnv } from '../engine/worker-thread';
import { DicomTally } from './dicom-tally';
import { readFileLimited } from './fs-utils';
import { isIdxName, looksLikeIdx, scanBundledMnist, scanIdx } from './idx-source';
import { scanImageTree } from './image-tree-scan';
import { DEFAULT_MAX_FILE_BYTES, formatBytes } from './limits';
import { scanNpz } from './npz-source';
import { ProblemLog } from './problems';
import { ReadBudget } from './read-budget';
import { givenSplit, splitIndices } from './split';
import type {
  ImportFormat,
  ImportOptions,
  ImportPreview,
  ImportResult,
  PreparedImages,
  Preprocessing,
  Split,
} from './types';
import { openZipTree } from './zip-tree';

/** The path that names the MNIST shipped with the app. */
export const BUNDLED_MNIST = 'mnist';

/** Checks the analyst's preprocessing choices (UserError INVALID_INPUT when wrong). */
export function validatePreprocessing(p: Preprocessing): void {
  if (!(IMAGE_SIZES as readonly number[]).includes(p.size)) {
    throw new UserError(
      'INVALID_INPUT',
      `The image size ${p.size} is not offered. Choose 28, 32, 64 or 128 pixels.`,
    );
  }
  if (p.channels !== 1 && p.channels !== 3) {
    throw new UserError(
      'INVALID_INPUT',
      `${p.channels} channels are not offered. Choose 1 (grayscale) or 3 (colour).`,
    );
  }
  if (!(p.testFraction >= 0 && p.testFraction < 1)) {
    throw new UserError(
      'INVALID_INPUT',
      `The test share ${p.testFraction} is not valid. Choose a share from 0 to below 1, such as 0.1.`,
    );
  }
  if (p.dicomWindow !== undefined && !['file', 'full', 'stored'].includes(p.dicomWindow)) {
    throw new UserError(
      'INVALID_INPUT',
      `The DICOM window "${String(p.dicomWindow)}" is not offered. Choose file (the file's own window), full (each image's full range) or stored (the stored values as they are).`,
    );
  }
  if (!Number.isFinite(p.splitSeed)) {
    throw new UserError(
      'INVALID_INPUT',
      `The split seed ${p.splitSeed} is not a number. Use a whole number such as 1.`,
    );
  }
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** True when a folder holds IDX files and no sub-folders. */
async function isIdxFolder(path: string): Promise<boolean> {
  const entries = (await readdir(path, { withFileTypes: true })).filter(
    (e) => !isIgnoredName(e.name),
  );
  if (entries.some((e) => e.isDirectory())) return false;
  for (const e of entries) {
    if (isIdxName(e.name)) return true;
  }
  for (const e of entries.slice(0, 50)) {
    if (e.isFile() && looksLikeIdx(await readHead(join(path, e.name), 4))) return true;
  }
  return false;
}

function tooLargeFile(path: string, size: number, max: number, kind: string): UserError {
  const advice =
    kind === 'zip'
      ? 'Unpack the zip and import the folder instead.'
      : kind === 'npz'
        ? 'Save the training and test images as separate .npz files, or reduce the image size, then import again.'
        : 'Split it into smaller files, then import again.';
  return new UserError(
    'INVALID_INPUT',
    `${path} is ${formatBytes(size)}, larger than DP² Studio reads at once (${formatBytes(max)}). ${advice}`,
  );
}

/** Recognises the source and runs its reader. Undefined when a reader could not go on (its errors are logged). */
async function scanSource(
  ctx: ScanContext,
): Promise<{ format: ImportFormat; outcome: ScanOutcome | undefined }> {
  const { path } = ctx;
  const labelsDontApply = (what: string): UserError =>
    new UserError(
      'INVALID_INPUT',
      `${ctx.labels?.path ?? 'The labels CSV'} gives classes to image files, but ${path} is ${what}, which brings its own labels. Import it without the CSV, or choose the folder of images the CSV lists.`,
    );
  if (path === BUNDLED_MNIST) {
    if (ctx.labels) throw labelsDontApply('the bundled MNIST');
    return { format: 'mnist', outcome: await scanBundledMnist(ctx) };
  }
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UserError(
        'NOT_FOUND',
        `${path} does not exist. Check the path, or choose the folder or file again.`,
      );
    }
    if (code === 'ELOOP') {
      throw new UserError(
        'INVALID_INPUT',
        `${path} is a symbolic link that loops back on itself. Choose the real folder.`,
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UserError(
        'INVALID_INPUT',
        `${path} cannot be opened (permission denied). Check its permissions.`,
      );
    }
    throw err;
  }
  if (st.isDirectory()) {
    if (await isIdxFolder(path)) {
      if (ctx.labels) throw labelsDontApply('a folder of MNIST IDX files');
      return { format: 'idx', outcome: await scanIdx(path, true, ctx) };
    }
    return {
      format: 'image-folder',
      outcome: await scanImageTree(await walkFolder(path, ctx), ctx, 'image-folder'),
    };
  }
  if (!st.isFile())
    throw new UserError(
      'INVALID_INPUT',
      `${path} is neither a folder nor a file. Choose an image folder, a .zip, a .npz or an IDX file.`,
    );
  const head = await readHead(path, 600);
  const isZip =
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    (head[2] === 3 || head[2] === 5) &&
    (head[3] === 4 || head[3] === 6);
  const isGzip = head[0] === 0x1f && head[1] === 0x8b;
  if (looksLikeIdx(head) || (isGzip && isIdxName(basename(path)))) {
    if (ctx.labels) throw labelsDontApply('an MNIST IDX file');
    return { format: 'idx', outcome: await scanIdx(path, false, ctx) };
  }
  if (!isZip) {
    if (detectImageFormat(head) !== undefined) {
      throw new UserError(
        'INVALID_INPUT',
        `${path} is a single image. Choose the folder that holds one sub-folder per class (for example normal/ and pneumonia/).`,
      );
    }
    throw new UserError(
      'UNSUPPORTED',
      `${path} is not a format DP² Studio imports. Choose a folder of images (one sub-folder per class), a .zip of such a folder, a .npz, or MNIST IDX files.`,
    );
  }
  const read = await readFileLimited(path, ctx.maxFileBytes).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOMEM') throw err;
    throw new UserError(
      'INVALID_INPUT',
      `${path} cannot be read: ${(err as Error).message}. Close other programs and try again, or split the file.`,
    );
  });
  const looksNpz = /\.npz$/i.test(path);
  if (read.kind === 'too-large')
    throw tooLargeFile(path, read.size, ctx.maxFileBytes, looksNpz ? 'npz' : 'zip');
  throwIfCancelled(ctx);
  const tree = looksNpz ? undefined : openZipTree(read.bytes, ctx);
  // A zip holding only .npy arrays is an .npz whatever its name.
  if (
    looksNpz ||
    (tree &&
      tree.files.length > 0 &&
      tree.files.every((f) => /\.npy$/i.test(f.rel[f.rel.length - 1] ?? '')))
  ) {
    if (ctx.labels) throw labelsDontApply('a .npz of arrays');
    return { format: 'npz', outcome: await scanNpz(read.bytes, ctx) };
  }
  return { format: 'zip', outcome: tree && (await scanImageTree(tree, ctx, 'zip')) };
}

interface Finished {
  preview: ImportPreview;
  images: PreparedImages | undefined;
  split: Split;
}

/** Turns a scan outcome into the preview (and the images): drops or reports empty classes, checks class counts, splits. */
function finish(outcome: ScanOutcome, ctx: ScanContext, pre: Preprocessing): Finished {
  const { collector, classes } = outcome;
  const { log } = ctx;
  collector.reportShapes(ctx.path);
  ctx.dicom.report(ctx.path, log);
  let finalClasses = classes;
  let labelMap: Int32Array | undefined;
  const empty = classes.filter((_, i) => (collector.perClass[i] ?? 0) === 0);
  for (const name of empty) {
    if (outcome.dropEmptyClasses) {
      log.warn(
        'empty-class',
        outcome.format === 'zip' ? `${ctx.path}: ${name}/` : join(ctx.path, name),
        `The class folder "${name}" holds no usable images, so it is not used as a class.`,
        'Add images to it, or remove the folder.',
      );
    } else {
      log.warn(
        'empty-class',
        ctx.path,
        `No image has the class "${name}" (label ${classes.indexOf(name)}).`,
        'Check the labels; the generator cannot learn a class without images.',
      );
    }
  }
  if (outcome.dropEmptyClasses && empty.length > 0) {
    labelMap = new Int32Array(classes.length).fill(-1);
    finalClasses = [];
    classes.forEach((name, i) => {
      if ((collector.perClass[i] ?? 0) > 0) {
        labelMap![i] = finalClasses.length;
        finalClasses.push(name);
      }
    });
  }
  const nonEmpty = classes.filter((_, i) => (collector.perClass[i] ?? 0) > 0);
  if (collector.count === 0) {
    log.error(
      'no-images',
      ctx.path,
      'No usable images were found.',
      outcome.format === 'image-folder' || outcome.format === 'zip'
        ? 'Put the images in one sub-folder per class (for example normal/ and pneumonia/), then import again.'
        : 'Choose a file that holds images.',
    );
  } else if (nonEmpty.length < 2) {
    log.error(
      'single-class',
      ctx.path,
      `Only one class (${nonEmpty[0] ?? '?'}) has images; a conditional generator needs at least two classes.`,
      outcome.format === 'image-folder' || outcome.format === 'zip'
        ? ctx.labels
          ? 'Give the images of at least two classes in the labels CSV, then import again.'
          : 'Put the images of each class in its own sub-folder (for example normal/ and pneumonia/), or give a labels CSV that names each file’s class (for a DICOMDIR export), then import again.'
        : 'Import a data set with images of at least two classes.',
    );
  }
  const count = collector.count;
  const given = outcome.givenTrainCount;
  if (given !== undefined && pre.testFraction > 0) {
    log.warn(
      'given-split',
      ctx.path,
      `This source brings its own test set (${count - given} images), which is kept as the test split; the test share of ${pre.testFraction} is not used.`,
      'No action needed.',
    );
  }
  const split =
    given !== undefined
      ? givenSplit(given, count)
      : splitIndices({ count, testFraction: pre.testFraction, seed: pre.splitSeed });
  const perClass = (labelMap ? finalClasses : classes).map((name) => ({
    name,
    count: collector.perClass[classes.indexOf(name)] ?? 0,
  }));
  const preview: ImportPreview = {
    format: outcome.format,
    total: count,
    perClass,
    sizeHistogram: collector.sizeHistogram(),
    thumbnails: collector.thumbnails(classes),
    problems: log.list(),
    duplicates: collector.duplicates,
    split: { train: split.train.length, test: split.test.length, given: given !== undefined },
  };
  const dicom = ctx.dicom.summary();
  if (dicom) preview.dicom = dicom;
  return { preview, images: collector.images(finalClasses, labelMap), split };
}

async function run(
  opts: ImportOptions,
  keepPixels: boolean,
): Promise<{ finished: Finished | undefined; log: ProblemLog; format: ImportFormat }> {
  validatePreprocessing(opts.preprocessing);
  const log = new ProblemLog();
  const ctx: ScanContext = {
    path: opts.path,
    target: { size: opts.preprocessing.size, channels: opts.preprocessing.channels },
    keepPixels,
    log,
    skipUnreadable: opts.skipUnreadable ?? false,
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    budget: opts.readBudget ?? new ReadBudget(),
    signal: opts.signal,
    onProgress: opts.onProgress,
    dicomWindow: opts.preprocessing.dicomWindow ?? 'file',
    dicom: new DicomTally(),
    decodeThreads: opts.decodeThreads ?? workerCountFromEnv('DP2_IMPORT_THREADS', process.env),
  };
  if (opts.labels !== undefined) ctx.labels = await labelsCsvText(opts.labels);
  throwIfCancelled(ctx);
  const { format, outcome } = await scanSource(ctx);
  throwIfCancelled(ctx);
  return { finished: outcome ? finish(outcome, ctx, opts.preprocessing) : undefined, log, format };
}

/**
 * Looks at a source without keeping its pixels: what would be imported
 * (counts per class, original sizes, a few thumbnails, duplicates, the
 * split) and every problem found, errors included. Throws a UserError only
 * when the source cannot be looked at all: NOT_FOUND (no such path),
 * INVALID_INPUT (unsafe zip, file too large), UNSUPPORTED (unknown format),
 * CORRUPT_DATA (unreadable archive), CANCELLED. Reads everything, writes
 * nothing.
 */
export async function previewImport(opts: ImportOptions): Promise<ImportPreview> {
  const { finished, log, format } = await run(opts, false);
  if (finished) return finished.preview;
  return {
    format,
    total: 0,
    perClass: [],
    sizeHistogram: [],
    thumbnails: [],
    problems: log.list(),
    duplicates: 0,
    split: { train: 0, test: 0, given: false },
  };
}

/**
 * Imports a source: every image decoded, brought to the chosen size and
 * channels, labelled by class, and split into training and test images
 * (the source's own test set when it has one — bundled MNIST keeps its
 * official 10 000 test images — else a seeded random split). When any error
 * is found the import fails with a UserError listing the first problems;
 * warnings are returned in the preview. Writes nothing.
 */
export async function importSource(opts: ImportOptions): Promise<ImportResult> {
  const { finished, log } = await run(opts, true);
  log.throwIfErrors();
  if (!finished?.images) throw new Error('importSource: a scan without errors produced no images');
  return { images: finished.images, split: finished.split, preview: finished.preview };
}
