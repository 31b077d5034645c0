import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../contract/errors';
import type { ArrayPart } from './array-scan';
import { classNamesFor, maxLabel, scanArrayParts } from './array-scan';
import type { ScanContext, ScanOutcome } from './context';
import { isIgnoredName } from './context';
import { readFileLimited } from './fs-utils';
import { gunzipLimited } from './gunzip-limited';
import { idxSizeFromHead, parseIdx } from './idx';
import { formatBytes } from './limits';
import { loadBundledMnist } from './mnist';

/** True when the bytes start like an IDX file of unsigned bytes (or are gzip, checked by the caller's name). */
export function looksLikeIdx(head: Uint8Array): boolean {
  return (
    head.length >= 4 &&
    head[0] === 0 &&
    head[1] === 0 &&
    head[2] === 0x08 &&
    (head[3] ?? 0) >= 1 &&
    (head[3] ?? 0) <= 4
  );
}

/** True when the name is an IDX file name such as `train-images-idx3-ubyte(.gz)`. */
export function isIdxName(name: string): boolean {
  return /idx[1-4]-ubyte(\.gz)?$/i.test(name);
}

async function readIdx(path: string, ctx: ScanContext): Promise<ReturnType<typeof parseIdx>> {
  const read = await readFileLimited(path, ctx.maxFileBytes);
  if (read.kind === 'too-large') {
    throw new UserError(
      'INVALID_INPUT',
      `${path} is ${formatBytes(read.size)}, larger than DP² Studio reads at once (${formatBytes(ctx.maxFileBytes)}). Split it into smaller files.`,
    );
  }
  let bytes = read.bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // The IDX header declares the size: checked before the rest is unpacked, and never passed.
    bytes = gunzipLimited(bytes, {
      where: path,
      maxBytes: ctx.maxFileBytes,
      sizeFromHead: (head) => {
        const size = idxSizeFromHead(head);
        if (size !== 'not-idx') return size;
        parseIdx(head, path); // throws, saying what is wrong
        throw new UserError('CORRUPT_DATA', `${path} is not an IDX file.`);
      },
    });
  }
  return parseIdx(bytes, path);
}

/** The labels file that belongs to an images file, by MNIST naming (images ↔ labels, idx3 ↔ idx1). */
function partnerNames(name: string): string[] {
  const swaps: [RegExp, string][] = [
    [/images/i, 'labels'],
    [/labels/i, 'images'],
  ];
  const out = new Set<string>();
  for (const [re, to] of swaps) {
    if (!re.test(name)) continue;
    let n = name.replace(re, (m) =>
      m[0] === m[0]?.toUpperCase() ? to[0]?.toUpperCase() + to.slice(1) : to,
    );
    n = /images/i.test(n) ? n.replace(/idx1/i, 'idx3') : n.replace(/idx3/i, 'idx1');
    out.add(n);
  }
  return [...out];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Finds (images, labels) file pairs in a folder, or for one file, its partner. */
async function findPairs(
  path: string,
  isDir: boolean,
): Promise<{ images: string; labels: string }[]> {
  const folder = isDir ? path : dirname(path);
  const names = isDir
    ? (await readdir(folder)).filter((n) => !isIgnoredName(n) && isIdxName(n)).sort()
    : [basename(path)];
  const pairs: { images: string; labels: string }[] = [];
  for (const name of names) {
    const isImages = /images|idx3/i.test(name);
    if (isDir && !isImages) continue;
    let partner: string | undefined;
    for (const cand of partnerNames(name)) {
      if (cand !== name && (await exists(join(folder, cand)))) {
        partner = cand;
        break;
      }
    }
    if (!partner) {
      throw new UserError(
        'NOT_FOUND',
        `No ${isImages ? 'labels' : 'images'} file was found beside ${join(folder, name)} (expected ${partnerNames(name).join(' or ') || 'a name with "images"/"labels"'}). Put both IDX files of the pair in the same folder, then import again.`,
      );
    }
    pairs.push(
      isImages
        ? { images: join(folder, name), labels: join(folder, partner) }
        : { images: join(folder, partner), labels: join(folder, name) },
    );
  }
  return pairs;
}

/**
 * Scans MNIST-style IDX files: a folder holding `*-images-idx3-ubyte` and
 * `*-labels-idx1-ubyte` pairs (optionally .gz), or one file of a pair. When
 * both a training pair and a test pair (`t10k`/`test` in the name) are
 * present, the test pair is kept as the test split.
 */
export async function scanIdx(
  path: string,
  isDir: boolean,
  ctx: ScanContext,
): Promise<ScanOutcome | undefined> {
  const pairs = await findPairs(path, isDir);
  const isTest = (p: { images: string }): boolean => /t10k|test/i.test(basename(p.images));
  const train = pairs.filter((p) => !isTest(p));
  const test = pairs.filter(isTest);
  if (train.length === 0 && test.length === 1) train.push(...test.splice(0, 1));
  if (train.length !== 1 || test.length > 1) {
    throw new UserError(
      'INVALID_INPUT',
      `${path} holds ${pairs.length} IDX image files (${pairs.map((p) => basename(p.images)).join(', ')}); DP² Studio takes one training pair and at most one test pair. Choose one images file instead of the folder.`,
    );
  }
  const parts: ArrayPart[] = [];
  for (const pair of [...train, ...test]) {
    const img = await readIdx(pair.images, ctx);
    const lbl = await readIdx(pair.labels, ctx);
    if (img.shape.length !== 3) {
      ctx.log.error(
        'array-shape',
        pair.images,
        `has ${img.shape.length} dimensions; an IDX images file has 3 (count, rows, columns).`,
        'Choose the images file (idx3) of the pair.',
      );
      return undefined;
    }
    if (lbl.shape.length !== 1) {
      ctx.log.error(
        'array-shape',
        pair.labels,
        `has ${lbl.shape.length} dimensions; an IDX labels file has 1.`,
        'Choose the labels file (idx1) of the pair.',
      );
      return undefined;
    }
    const [count = 0, height = 0, width = 0] = img.shape;
    if (lbl.shape[0] !== count) {
      ctx.log.error(
        'length-mismatch',
        pair.labels,
        `holds ${lbl.shape[0]} labels but ${pair.images} holds ${count} images.`,
        'Use the labels file that belongs to these images.',
      );
      return undefined;
    }
    parts.push({
      where: pair.images,
      x: img.data,
      count,
      height,
      width,
      channels: 1,
      labels: Int32Array.from(lbl.data),
    });
  }
  const classes = await classNamesFor(
    maxLabel(parts.map((p) => p.labels)),
    parts[0]?.where ?? path,
    undefined,
    path,
    ctx,
  );
  if (!classes) return undefined;
  return scanArrayParts(
    ctx,
    'idx',
    parts,
    classes,
    test.length === 1 ? (parts[0]?.count ?? 0) : undefined,
  );
}

/**
 * Scans the bundled MNIST (shipped with the app, never downloaded): the
 * 60 000 training images, then the official 10 000 test images, which are
 * kept as the test split.
 */
export async function scanBundledMnist(ctx: ScanContext): Promise<ScanOutcome> {
  const { train, test } = loadBundledMnist();
  const part = (d: typeof train, where: string): ArrayPart => ({
    where,
    x: d.x,
    count: d.count,
    height: d.height,
    width: d.width,
    channels: 1,
    labels: Int32Array.from(d.y),
  });
  const classes = Array.from({ length: 10 }, (_, i) => String(i));
  return scanArrayParts(
    ctx,
    'mnist',
    [part(train, 'MNIST train'), part(test, 'MNIST test')],
    classes,
    train.count,
  );
}
