import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../contract/errors';
import { writeError, writeFileAtomic } from './fs-utils';
import { dtypeOf, npyBody, npyHeader, parseNpy, shapeSize } from './npy';
import type { PreparedImages, Split } from './types';

/** Name of the header file of a stored data set. */
export const DATASET_HEADER = 'dataset.json';

/** The header of a stored data set (`dataset.json`). */
export interface DatasetHeader {
  format: 'dp2-dataset';
  version: 1;
  height: number;
  width: number;
  channels: number;
  classes: string[];
  /** Fingerprint of the whole data set before the split (see fingerprintImages). */
  fingerprint: string;
  train: { count: number; fingerprint: string };
  test: { count: number; fingerprint: string };
}

/**
 * A sha256 fingerprint (hex) of a data set: its shape, class names, pixels
 * and labels. Equal data sets (same images in the same order, same labels and
 * names) have equal fingerprints, whatever machine computed them.
 */
export function fingerprintImages(images: PreparedImages): string {
  const h = createHash('sha256');
  const head = {
    count: images.count,
    height: images.height,
    width: images.width,
    channels: images.channels,
    labelBytes: images.y.BYTES_PER_ELEMENT,
    classes: images.classes,
  };
  h.update(`dp2-images-v1\n${JSON.stringify(head)}\n`);
  h.update(images.x.subarray(0, images.count * images.height * images.width * images.channels));
  h.update(
    new Uint8Array(images.y.buffer, images.y.byteOffset, images.count * images.y.BYTES_PER_ELEMENT),
  );
  return h.digest('hex');
}

/** The images at `indices` (in that order) as a new PreparedImages. */
export function subsetImages(images: PreparedImages, indices: Uint32Array): PreparedImages {
  const per = images.height * images.width * images.channels;
  const x = new Uint8Array(indices.length * per);
  const y =
    images.y instanceof Uint16Array
      ? new Uint16Array(indices.length)
      : new Uint8Array(indices.length);
  indices.forEach((src, i) => {
    if (src >= images.count)
      throw new RangeError(`subsetImages: index ${src} ≥ count ${images.count}`);
    x.set(images.x.subarray(src * per, (src + 1) * per), i * per);
    y[i] = images.y[src] ?? 0;
  });
  return { ...images, x, y, count: indices.length, classes: [...images.classes] };
}

function npyChunks(data: Uint8Array | Uint16Array, shape: number[]): Uint8Array[] {
  return [npyHeader(dtypeOf(data), shape), npyBody(data)];
}

/**
 * Stores a prepared data set and its split in `dir` (created if missing):
 * `train_x.npy`, `train_y.npy`, `test_x.npy`, `test_y.npy` (x: uint8
 * N×H×W×C, y: uint8 or uint16 labels) and `dataset.json` (shape, class
 * names, fingerprints). Each file is written to a temporary file and renamed;
 * the header goes last, so a folder with a header is complete.
 * Returns the header.
 */
export async function writeDatasetFiles(
  dir: string,
  data: { images: PreparedImages; split: Split },
): Promise<DatasetHeader> {
  const { images, split } = data;
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw writeError(dir, err);
  });
  const parts = {
    train: subsetImages(images, split.train),
    test: subsetImages(images, split.test),
  };
  for (const [name, part] of Object.entries(parts)) {
    await writeFileAtomic(
      join(dir, `${name}_x.npy`),
      npyChunks(part.x, [part.count, part.height, part.width, part.channels]),
    );
    await writeFileAtomic(join(dir, `${name}_y.npy`), npyChunks(part.y, [part.count]));
  }
  const header: DatasetHeader = {
    format: 'dp2-dataset',
    version: 1,
    height: images.height,
    width: images.width,
    channels: images.channels,
    classes: images.classes,
    fingerprint: fingerprintImages(images),
    train: { count: parts.train.count, fingerprint: fingerprintImages(parts.train) },
    test: { count: parts.test.count, fingerprint: fingerprintImages(parts.test) },
  };
  await writeFileAtomic(join(dir, DATASET_HEADER), [
    new TextEncoder().encode(`${JSON.stringify(header, null, 2)}\n`),
  ]);
  return header;
}

async function readPart(
  dir: string,
  name: 'train' | 'test',
  header: DatasetHeader,
): Promise<PreparedImages> {
  const corrupt = (file: string, what: string): UserError =>
    new UserError(
      'CORRUPT_DATA',
      `${file} is damaged: ${what}. Delete this data set and import the images again.`,
    );
  const xFile = join(dir, `${name}_x.npy`);
  const yFile = join(dir, `${name}_y.npy`);
  const xa = parseNpy(await readExisting(xFile), xFile);
  const ya = parseNpy(await readExisting(yFile), yFile);
  const { height, width, channels } = header;
  const count = header[name].count;
  const expect = [count, height, width, channels];
  if (!(xa.data instanceof Uint8Array) || xa.shape.join(',') !== expect.join(',')) {
    throw corrupt(xFile, `it should hold uint8 images of shape (${expect.join(', ')})`);
  }
  if (
    !(ya.data instanceof Uint8Array || ya.data instanceof Uint16Array) ||
    ya.shape.join(',') !== String(count)
  ) {
    throw corrupt(yFile, `it should hold ${count} labels`);
  }
  for (let i = 0; i < count; i++) {
    if ((ya.data[i] ?? 0) >= header.classes.length)
      throw corrupt(yFile, `label ${ya.data[i]} has no class`);
  }
  const part: PreparedImages = {
    x: xa.data,
    y: ya.data,
    count,
    height,
    width,
    channels,
    classes: [...header.classes],
  };
  if (
    shapeSize(xa.shape) !== xa.data.length ||
    fingerprintImages(part) !== header[name].fingerprint
  ) {
    throw corrupt(xFile, 'its contents do not match the fingerprint in dataset.json');
  }
  return part;
}

async function readExisting(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError(
        'NOT_FOUND',
        `${file} is missing. Delete this data set and import the images again.`,
      );
    }
    throw err;
  }
}

/**
 * How many training images each class of a stored data set has (its header
 * and train labels only, not the images): private figures, for plans shown
 * inside the app.
 */
export async function readTrainClassCounts(
  dir: string,
): Promise<{ classes: string[]; counts: number[] }> {
  const header = await readHeaderFile(dir);
  const yFile = join(dir, 'train_y.npy');
  const ya = parseNpy(await readExisting(yFile), yFile);
  const counts = new Array<number>(header.classes.length).fill(0);
  if (
    !(ya.data instanceof Uint8Array || ya.data instanceof Uint16Array) ||
    ya.data.length !== header.train.count
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      `${yFile} is damaged: it should hold ${header.train.count} labels. Delete this data set and import the images again.`,
    );
  }
  for (const y of ya.data) if (y < counts.length) counts[y] = (counts[y] as number) + 1;
  return { classes: [...header.classes], counts };
}

/**
 * Reads a data set stored by writeDatasetFiles, checking shapes, labels and
 * fingerprints (UserError CORRUPT_DATA when anything does not match,
 * NOT_FOUND when a file is missing).
 */
export async function readDatasetFiles(
  dir: string,
): Promise<{ train: PreparedImages; test: PreparedImages; header: DatasetHeader }> {
  const header = await readHeaderFile(dir);
  return {
    train: await readPart(dir, 'train', header),
    test: await readPart(dir, 'test', header),
    header,
  };
}

/** A stored data set's header, checked. */
async function readHeaderFile(dir: string): Promise<DatasetHeader> {
  const file = join(dir, DATASET_HEADER);
  let header: DatasetHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(await readExisting(file))) as DatasetHeader;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      'CORRUPT_DATA',
      `${file} is not valid JSON. Delete this data set and import the images again.`,
    );
  }
  if (header.format !== 'dp2-dataset' || header.version !== 1 || !Array.isArray(header.classes)) {
    throw new UserError(
      'CORRUPT_DATA',
      `${file} is not a DP² Studio data set header (or is from a newer version).`,
    );
  }
  return header;
}
