import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_FILES_FOR_WORKERS } from '../../../src-main/data/decode-pool';
import { importSource, previewImport } from '../../../src-main/data/scan';
import { PRE, jpg, pattern, png, tempDir, writeTree } from '../../unit/data/helpers';

test('decoding a large folder on two worker threads gives the same data set and problems as one thread', async (t) => {
  const dir = await tempDir(t);
  const files: Record<string, Uint8Array | string> = {};
  const per = Math.ceil(MIN_FILES_FOR_WORKERS / 2) + 5;
  for (let i = 0; i < per; i++) {
    files[`a/${String(i).padStart(3, '0')}.png`] = png(pattern(i, 40));
    files[`b/${String(i).padStart(3, '0')}.jpg`] = jpg(pattern(1000 + i, 36));
  }
  files['a/broken.png'] = png(pattern(7)).subarray(0, 60);
  files['b/notes.txt'] = 'not an image';
  files['b/copy.png'] = png(pattern(3, 40));
  await writeTree(dir, files);
  const pre = { ...PRE, size: 32 as const };
  const one = await importSource({
    path: dir,
    preprocessing: pre,
    decodeThreads: 1,
    skipUnreadable: true,
  });
  const two = await importSource({
    path: dir,
    preprocessing: pre,
    decodeThreads: 2,
    skipUnreadable: true,
  });
  assert.equal(two.images.count, 2 * per + 1);
  assert.deepEqual(two.images.classes, one.images.classes);
  assert.ok(Buffer.from(two.images.x).equals(Buffer.from(one.images.x)), 'same pixels, same order');
  assert.deepEqual([...two.images.y], [...one.images.y]);
  assert.deepEqual(two.preview.problems, one.preview.problems);
  assert.ok(two.preview.problems.some((p) => p.file.endsWith('broken.png')));
  // Without skipping, the damaged file stops the import on threads too.
  const preview = await previewImport({ path: dir, preprocessing: pre, decodeThreads: 2 });
  assert.ok(preview.problems.some((p) => p.severity === 'error' && p.file.endsWith('broken.png')));
  assert.equal(preview.duplicates, 1);
});
