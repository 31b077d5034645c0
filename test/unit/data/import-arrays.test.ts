import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import type { NpyInput } from '../../../src-main/data/npy';
import { imagesToNpz, writeNpz } from '../../../src-main/data/npz';
import { importSource, previewImport } from '../../../src-main/data/scan';
import type { ImportPreview } from '../../../src-main/data/types';
import { PRE, tempDir, writeTree } from './helpers';

function problem(preview: ImportPreview, kind: 'error' | 'warning', textIncludes: string): void {
  const hit = preview.problems.find(
    (p) => p.severity === kind && `${p.file} ${p.problem}`.includes(textIncludes),
  );
  assert.ok(
    hit,
    `expected a ${kind} “${textIncludes}”, got ${JSON.stringify(preview.problems, null, 1)}`,
  );
}

/** n distinct 28×28 images. */
function stack(n: number, seed = 0, size = 28): Uint8Array {
  return Uint8Array.from(
    { length: n * size * size },
    (_, i) => (i * 31 + seed * 7 + Math.floor(i / (size * size)) * 101) % 256,
  );
}

async function npzFile(
  dir: string,
  name: string,
  arrays: Record<string, NpyInput>,
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, writeNpz(arrays));
  return path;
}

test('MedMNIST layout: train + val for training, test kept as the test split; names from labels.txt', async (t) => {
  const dir = await tempDir(t);
  const path = await npzFile(dir, 'pneumoniamnist.npz', {
    train_images: { data: stack(6), shape: [6, 28, 28] },
    train_labels: { data: Uint8Array.from([0, 1, 0, 1, 0, 1]), shape: [6, 1] },
    val_images: { data: stack(2, 1), shape: [2, 28, 28] },
    val_labels: { data: Uint8Array.from([1, 0]), shape: [2, 1] },
    test_images: { data: stack(3, 2), shape: [3, 28, 28] },
    test_labels: { data: Uint8Array.from([0, 0, 1]), shape: [3, 1] },
  });
  await writeTree(dir, { 'labels.txt': '0: normal\n1: pneumonia\n' });
  const { images, split, preview } = await importSource({ path, preprocessing: PRE });
  assert.equal(preview.format, 'npz');
  assert.deepEqual(images.classes, ['normal', 'pneumonia']);
  assert.equal(images.count, 11);
  assert.deepEqual([...split.test], [8, 9, 10]);
  assert.deepEqual(preview.split, { train: 8, test: 3, given: true });
  assert.deepEqual([...images.y], [0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1]);
  assert.deepEqual(images.x.subarray(0, 6 * 784), stack(6));
});

test('x/y npz with classes, RGB (N,H,W,3) to gray, float [0,1] scaled and reported', async (t) => {
  const dir = await tempDir(t);
  const n = 4;
  const x = Float32Array.from({ length: n * 32 * 32 * 3 }, (_, i) => ((i * 13) % 101) / 100);
  const path = await npzFile(dir, 'syn.npz', {
    x: { data: x, shape: [n, 32, 32, 3] },
    y: { data: BigInt64Array.from([0n, 1n, 2n, 1n]) },
    classes: { data: ['a', 'b', 'c'] },
  });
  const { images, preview } = await importSource({ path, preprocessing: PRE });
  assert.deepEqual(images.classes, ['a', 'b', 'c']);
  assert.equal(images.x.length, n * 784);
  problem(preview, 'warning', 'scaled to 0–255');
  problem(preview, 'warning', 'converted to grayscale');
  assert.equal(preview.split.given, false);
  assert.equal(preview.split.test, 1);
});

test('NaN, out-of-range values, mismatched lengths and bad labels are errors naming the array', async (t) => {
  const dir = await tempDir(t);
  const nan = new Float32Array(2 * 784);
  nan[5] = NaN;
  const cases: [string, Record<string, NpyInput>, string][] = [
    [
      'nan.npz',
      { x: { data: nan, shape: [2, 28, 28] }, y: { data: Uint8Array.from([0, 1]) } },
      'not a number',
    ],
    [
      'range.npz',
      {
        x: { data: new Float64Array(2 * 784).fill(300), shape: [2, 28, 28] },
        y: { data: Uint8Array.from([0, 1]) },
      },
      'outside the range',
    ],
    [
      'len.npz',
      { x: { data: stack(3), shape: [3, 28, 28] }, y: { data: Uint8Array.from([0, 1]) } },
      '3 images in "x" but 2 labels',
    ],
    [
      'neg.npz',
      { x: { data: stack(2), shape: [2, 28, 28] }, y: { data: BigInt64Array.from([0n, -1n]) } },
      'label -1',
    ],
    [
      'multi.npz',
      { x: { data: stack(2), shape: [2, 28, 28] }, y: { data: new Uint8Array(4), shape: [2, 2] } },
      'one class per image',
    ],
    [
      'names.npz',
      {
        x: { data: stack(2), shape: [2, 28, 28] },
        y: { data: Uint8Array.from([0, 5]) },
        classes: { data: ['a', 'b'] },
      },
      'has the label 5',
    ],
    ['other.npz', { images_x: { data: stack(1), shape: [1, 28, 28] } }, 'not images with labels'],
  ];
  for (const [name, arrays, text] of cases) {
    const path = await npzFile(dir, name, arrays);
    const preview = await previewImport({ path, preprocessing: PRE });
    problem(preview, 'error', name);
    problem(preview, 'error', text);
    await assert.rejects(
      importSource({ path, preprocessing: PRE }),
      (e: unknown) =>
        e instanceof UserError && e.message.includes(name) && e.message.includes(text),
    );
  }
});

test('labels beyond labels.txt are out of range; uint16 12-bit images are scaled', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, { 'classes.txt': 'benign\nmalignant\n' });
  const path = await npzFile(dir, 'd.npz', {
    x: { data: new Uint16Array(3 * 784).fill(4095), shape: [3, 28, 28] },
    y: { data: Int32Array.from([0, 1, 2]) },
  });
  const preview = await previewImport({ path, preprocessing: PRE });
  problem(preview, 'error', 'names only 2 classes');
  problem(preview, 'warning', '12-bit');
});

test('a .npz larger than memory allows is refused before reading, with advice', async (t) => {
  const dir = await tempDir(t);
  const path = await npzFile(dir, 'huge.npz', {
    x: { data: stack(1), shape: [1, 28, 28] },
    y: { data: Uint8Array.from([0]) },
  });
  await truncate(path, 2 * 1024 ** 3 + 10);
  await assert.rejects(
    previewImport({ path, preprocessing: PRE }),
    (e: unknown) =>
      e instanceof UserError &&
      e.code === 'INVALID_INPUT' &&
      e.message.includes('huge.npz') &&
      e.message.includes('separate'),
  );
});

/** IDX bytes: magic 0 0 8 ndim, big-endian sizes, data. */
function idx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out.set([0, 0, 8, shape.length]);
  const v = new DataView(out.buffer);
  shape.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

test('IDX: a folder with train and t10k pairs keeps the test pair; one file finds its partner', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, {
    'train-images-idx3-ubyte': idx([4, 28, 28], stack(4)),
    'train-labels-idx1-ubyte': idx([4], Uint8Array.from([0, 1, 2, 1])),
    't10k-images-idx3-ubyte': idx([2, 28, 28], stack(2, 5)),
    't10k-labels-idx1-ubyte': idx([2], Uint8Array.from([2, 0])),
  });
  const { images, split, preview } = await importSource({ path: dir, preprocessing: PRE });
  assert.equal(preview.format, 'idx');
  assert.deepEqual(images.classes, ['0', '1', '2']);
  assert.deepEqual([...split.test], [4, 5]);
  assert.deepEqual([...images.y], [0, 1, 2, 1, 2, 0]);
  const one = await importSource({
    path: join(dir, 'train-images-idx3-ubyte'),
    preprocessing: PRE,
  });
  assert.equal(one.images.count, 4);
  assert.equal(one.preview.split.given, false);
});

test('IDX: a missing partner or mismatched counts are reported', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, { 'train-images-idx3-ubyte': idx([3, 28, 28], stack(3)) });
  await assert.rejects(
    importSource({ path: dir, preprocessing: PRE }),
    (e: unknown) =>
      e instanceof UserError &&
      e.code === 'NOT_FOUND' &&
      e.message.includes('train-labels-idx1-ubyte'),
  );
  await writeTree(dir, { 'train-labels-idx1-ubyte': idx([2], Uint8Array.from([0, 1])) });
  const preview = await previewImport({ path: dir, preprocessing: PRE });
  problem(preview, 'error', 'holds 2 labels but');
});

test('bundled MNIST: 60 000 training and the official 10 000 test images', async () => {
  const { images, split, preview } = await importSource({
    path: 'mnist',
    preprocessing: { ...PRE, testFraction: 0.1 },
  });
  const mnist = loadBundledMnist();
  assert.equal(preview.format, 'mnist');
  assert.equal(images.count, 70000);
  assert.equal(split.train.length, 60000);
  assert.equal(split.test.length, 10000);
  assert.equal(split.test[0], 60000);
  assert.deepEqual(preview.split, { train: 60000, test: 10000, given: true });
  assert.deepEqual(images.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(images.y[0], mnist.train.y[0]);
  assert.equal(images.y[60000], mnist.test.y[0]);
  assert.deepEqual(
    images.x.subarray(60000 * 784, 60001 * 784),
    Uint8Array.from(mnist.test.x.subarray(0, 784)),
  );
  assert.equal(
    preview.perClass.reduce((a, c) => a + c.count, 0),
    70000,
  );
  problem(preview, 'warning', 'own test set');
});

test('our own exchange .npz (imagesToNpz) imports back identically', async (t) => {
  const dir = await tempDir(t);
  const x = Uint8Array.from({ length: 5 * 32 * 32 * 3 }, (_, i) => (i * 37) % 256);
  const images = {
    x,
    y: Uint8Array.from([0, 1, 2, 0, 1]),
    count: 5,
    height: 32,
    width: 32,
    channels: 3,
    classes: ['ant', 'bee', 'cow'],
  };
  const path = join(dir, 'synthetic.npz');
  await writeFile(path, imagesToNpz(images));
  const back = await importSource({ path, preprocessing: { ...PRE, size: 32, channels: 3 } });
  assert.deepEqual(back.images.classes, images.classes);
  assert.deepEqual(back.images.x, x);
  assert.deepEqual([...back.images.y], [0, 1, 2, 0, 1]);
});
