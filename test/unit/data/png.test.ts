import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { decodeImage } from '../../../src-main/data/decode-image';
import { classFolderNames, encodePng, writePngFolder } from '../../../src-main/data/png';
import { importSource } from '../../../src-main/data/scan';
import type { PreparedImages } from '../../../src-main/data/types';
import { PRE, pattern, tempDir } from './helpers';

test('encodePng writes gray and RGB that decode back exactly', () => {
  const g = pattern(5, 6);
  assert.deepEqual(decodeImage(encodePng(g), 'g'), g);
  const data = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 13);
  assert.deepEqual(
    decodeImage(encodePng({ width: 2, height: 3, channels: 3, data }), 'c').data,
    data,
  );
});

test('class folder names are safe and distinct', () => {
  assert.deepEqual(classFolderNames(['a/b', 'CON', 'x.', 'A', 'a', '', '..']), [
    'a_b',
    '_CON',
    'x',
    'A',
    'a_2',
    'class_5',
    'class_6',
  ]);
});

test('writePngFolder writes CLASS/000001.png, re-imports identically, never overwrites', async (t) => {
  const dir = join(await tempDir(t), 'out');
  const count = 6;
  const per = 28 * 28;
  const x = new Uint8Array(count * per);
  for (let i = 0; i < count; i++) x.set(pattern(i).data, i * per);
  const images: PreparedImages = {
    x,
    y: Uint8Array.from([0, 1, 0, 1, 0, 1]),
    count,
    height: 28,
    width: 28,
    channels: 1,
    classes: ['cat', 'dog'],
  };
  assert.equal(await writePngFolder(dir, images), 6);
  assert.deepEqual((await readdir(join(dir, 'cat'))).sort(), [
    '000001.png',
    '000002.png',
    '000003.png',
  ]);
  const first = decodeImage(await readFile(join(dir, 'dog', '000001.png')), 'dog/000001.png');
  assert.deepEqual(first.data, pattern(1).data);
  const back = await importSource({ path: dir, preprocessing: { ...PRE, testFraction: 0 } });
  assert.deepEqual(back.images.classes, ['cat', 'dog']);
  assert.deepEqual([...back.images.y], [0, 0, 0, 1, 1, 1]);
  await assert.rejects(
    writePngFolder(dir, images),
    (e: unknown) => e instanceof UserError && e.code === 'ALREADY_EXISTS',
  );
});
