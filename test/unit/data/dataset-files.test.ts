import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import {
  fingerprintImages,
  readDatasetFiles,
  writeDatasetFiles,
} from '../../../src-main/data/dataset-files';
import { splitIndices } from '../../../src-main/data/split';
import type { PreparedImages } from '../../../src-main/data/types';
import { tempDir } from './helpers';

function sample(count = 10): PreparedImages {
  const x = Uint8Array.from({ length: count * 4 * 4 * 3 }, (_, i) => (i * 7) % 256);
  const y = Uint8Array.from({ length: count }, (_, i) => i % 3);
  return { x, y, count, height: 4, width: 4, channels: 3, classes: ['a', 'b', 'c'] };
}

test('dataset files round-trip with their split', async (t) => {
  const dir = join(await tempDir(t), 'ds');
  const images = sample();
  const split = splitIndices({ count: 10, testFraction: 0.3, seed: 5 });
  const header = await writeDatasetFiles(dir, { images, split });
  assert.equal(header.fingerprint, fingerprintImages(images));
  const back = await readDatasetFiles(dir);
  assert.equal(back.train.count, 7);
  assert.equal(back.test.count, 3);
  for (const [part, idx] of [
    [back.train, split.train],
    [back.test, split.test],
  ] as const) {
    idx.forEach((src, i) => {
      assert.deepEqual(
        part.x.subarray(i * 48, (i + 1) * 48),
        images.x.subarray(src * 48, (src + 1) * 48),
      );
      assert.equal(part.y[i], images.y[src]);
    });
    assert.deepEqual(part.classes, ['a', 'b', 'c']);
  }
  // No temporary files are left behind.
  assert.deepEqual((await readdir(dir)).sort(), [
    'dataset.json',
    'test_x.npy',
    'test_y.npy',
    'train_x.npy',
    'train_y.npy',
  ]);
});

test('fingerprints change with pixels, labels, names and shape', () => {
  const a = sample();
  const base = fingerprintImages(a);
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(fingerprintImages(sample()), base);
  const px = sample();
  px.x[5] = (px.x[5] ?? 0) ^ 1;
  const lbl = sample();
  lbl.y[0] = 2;
  const names = { ...sample(), classes: ['a', 'b', 'd'] };
  const shape = { ...sample(), height: 8, width: 2 };
  for (const other of [px, lbl, names, shape]) assert.notEqual(fingerprintImages(other), base);
});

test('a damaged stored data set is reported, not silently read', async (t) => {
  const dir = await tempDir(t);
  await writeDatasetFiles(dir, {
    images: sample(),
    split: splitIndices({ count: 10, testFraction: 0.2, seed: 1 }),
  });
  const file = join(dir, 'train_x.npy');
  const bytes = await readFile(file);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  await writeFile(file, bytes);
  await assert.rejects(
    readDatasetFiles(dir),
    (e: unknown) =>
      e instanceof UserError && e.code === 'CORRUPT_DATA' && e.message.includes('train_x.npy'),
  );
  await assert.rejects(
    readDatasetFiles(join(dir, 'missing')),
    (e: unknown) => e instanceof UserError && e.code === 'NOT_FOUND',
  );
});
