import assert from 'node:assert/strict';
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { encodeBmp } from '../../../src-main/data/decode-bmp';
import { importSource, previewImport } from '../../../src-main/data/scan';
import type { ImportPreview } from '../../../src-main/data/types';
import { PRE, classFolderFiles, gray, jpg, pattern, png, rgb, tempDir, writeTree } from './helpers';

function problem(
  preview: ImportPreview,
  kind: 'error' | 'warning',
  fileIncludes: string,
  textIncludes: string,
): void {
  const hit = preview.problems.find(
    (p) => p.severity === kind && p.file.includes(fileIncludes) && p.problem.includes(textIncludes),
  );
  assert.ok(
    hit,
    `expected a ${kind} about ${fileIncludes} (“${textIncludes}”), got ${JSON.stringify(preview.problems, null, 1)}`,
  );
  assert.ok(hit.action.length > 0);
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  includes: string[],
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.equal(e.code, code, e.message);
    for (const s of includes)
      assert.ok(e.message.includes(s), `“${e.message}” should include ${s}`);
    return true;
  });
}

test('a good 3-class folder (PNG, JPEG, BMP) imports with counts, labels and split', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, {
    ...classFolderFiles(['normal', 'effusion'], 4),
    'pneumonia/a.jpg': jpg(pattern(900)),
    'pneumonia/b.bmp': encodeBmp(pattern(901)),
    'pneumonia/c.png': png(pattern(902)),
    'pneumonia/sub/d.png': png(pattern(903)),
  });
  const progress: number[][] = [];
  const { images, split, preview } = await importSource({
    path: root,
    preprocessing: PRE,
    onProgress: (d, n) => progress.push([d, n]),
  });
  assert.equal(preview.format, 'image-folder');
  assert.deepEqual(images.classes, ['effusion', 'normal', 'pneumonia']);
  assert.deepEqual(preview.perClass, [
    { name: 'effusion', count: 4 },
    { name: 'normal', count: 4 },
    { name: 'pneumonia', count: 4 },
  ]);
  assert.equal(images.count, 12);
  assert.deepEqual([...images.y], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  assert.equal(images.x.length, 12 * 28 * 28);
  // normal/img0.png is pattern(0): stored exactly (already 28×28 gray).
  assert.deepEqual(images.x.subarray(4 * 784, 5 * 784), pattern(0).data);
  assert.equal(split.test.length, 3);
  assert.equal(split.train.length + split.test.length, 12);
  assert.deepEqual(preview.split, { train: 9, test: 3, given: false });
  assert.equal(preview.duplicates, 0);
  assert.deepEqual(
    preview.problems.filter((p) => p.severity === 'error'),
    [],
  );
  assert.ok(preview.thumbnails.length >= 3 && preview.thumbnails.every((th) => th.png[0] === 0x89));
  assert.deepEqual(progress.at(-1), [12, 12]);
  // The preview agrees with the import.
  const pv = await previewImport({ path: root, preprocessing: PRE });
  assert.deepEqual(pv.perClass, preview.perClass);
});

test('colour output: gray and RGB images become RGB, mixed sizes are resized and reported', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, {
    'a/big.png': png(rgb(64, 48, (x) => [x * 4, 0, 0])),
    'a/small.png': png(gray(16, 16, () => 50)),
    'b/1.png': png(pattern(1)),
    'b/2.png': png(pattern(2, 40)),
  });
  const { images, preview } = await importSource({
    path: root,
    preprocessing: { ...PRE, size: 32, channels: 3 },
  });
  assert.equal(images.channels, 3);
  assert.equal(images.x.length, 4 * 32 * 32 * 3);
  // small.png (gray 50) enlarged: all 50 in every channel. Files are sorted: big.png first, small.png second.
  assert.ok(images.x.subarray(32 * 32 * 3, 2 * 32 * 32 * 3).every((v) => v === 50));
  problem(preview, 'warning', root, 'different sizes');
  problem(preview, 'warning', root, 'grayscale and');
  problem(preview, 'warning', root, 'enlarged');
  assert.deepEqual(
    preview.sizeHistogram.map((s) => s.count).reduce((a, b) => a + b),
    4,
  );
});

test('truncated image: error naming the file; skipUnreadable turns it into a warning', async (t) => {
  const root = await tempDir(t);
  const good = png(pattern(7));
  await writeTree(root, {
    ...classFolderFiles(['a', 'b'], 2),
    'b/broken.png': good.subarray(0, 60),
  });
  const preview = await previewImport({ path: root, preprocessing: PRE });
  problem(preview, 'error', 'broken.png', 'broken.png');
  await rejectsWith(importSource({ path: root, preprocessing: PRE }), 'CORRUPT_DATA', [
    'broken.png',
  ]);
  const skipped = await importSource({ path: root, preprocessing: PRE, skipUnreadable: true });
  assert.equal(skipped.images.count, 4);
  problem(skipped.preview, 'warning', 'broken.png', 'skipped');
});

test('non-image files are ignored with a warning; images outside class folders too', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, {
    ...classFolderFiles(['a', 'b'], 2),
    'a/notes.txt': 'not an image',
    'a/.DS_Store': 'mac clutter, skipped silently',
    'stray.png': png(pattern(50)),
    'README.md': 'top-level text is not an image and not in a class: silent',
  });
  const { images, preview } = await importSource({ path: root, preprocessing: PRE });
  assert.equal(images.count, 4);
  problem(preview, 'warning', 'notes.txt', 'not an image');
  problem(preview, 'warning', 'stray.png', 'not inside a class folder');
  assert.ok(
    !preview.problems.some((p) => p.file.includes('.DS_Store') || p.file.includes('README')),
  );
});

test('an image-named file that is not an image is an error', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, {
    ...classFolderFiles(['a', 'b'], 2),
    'a/fake.jpg': 'text pretending to be a JPEG',
    'a/empty.png': '',
  });
  const preview = await previewImport({ path: root, preprocessing: PRE });
  problem(preview, 'error', 'fake.jpg', 'contents are not');
  problem(preview, 'error', 'empty.png', 'empty');
});

test('an empty class folder is reported and dropped', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, { ...classFolderFiles(['a', 'c'], 2), 'b/readme.txt': 'nothing here' });
  await mkdir(join(root, 'd'));
  const { images, preview } = await importSource({ path: root, preprocessing: PRE });
  assert.deepEqual(images.classes, ['a', 'c']);
  assert.deepEqual([...images.y], [0, 0, 1, 1]);
  problem(preview, 'warning', join(root, 'b'), 'no usable images');
  problem(preview, 'warning', join(root, 'd'), 'no usable images');
});

test('a single class is an error: a generator needs two', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['only'], 3));
  problem(await previewImport({ path: root, preprocessing: PRE }), 'error', root, 'Only one class');
  await rejectsWith(importSource({ path: root, preprocessing: PRE }), 'INVALID_INPUT', [
    'Only one class',
    'sub-folder',
  ]);
  const flat = await tempDir(t);
  await writeTree(flat, { 'a.png': png(pattern(1)), 'b.png': png(pattern(2)) });
  await rejectsWith(importSource({ path: flat, preprocessing: PRE }), 'INVALID_INPUT', [
    'No usable images',
  ]);
});

test('a path that does not exist is NOT_FOUND', async (t) => {
  const missing = join(await tempDir(t), 'nope');
  await rejectsWith(importSource({ path: missing, preprocessing: PRE }), 'NOT_FOUND', [missing]);
  await rejectsWith(previewImport({ path: missing, preprocessing: PRE }), 'NOT_FOUND', [missing]);
});

test('symlink loops terminate; each folder is read once', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['a', 'b'], 2));
  await symlink(root, join(root, 'a', 'loop')); // a/loop → root
  await symlink(join(root, 'b'), join(root, 'c')); // c → b: a second way to b
  await symlink(join(root, 'self'), join(root, 'self')); // a link to itself
  await symlink(join(root, 'gone'), join(root, 'a', 'dangling.png'));
  const { images, preview } = await importSource({ path: root, preprocessing: PRE });
  assert.equal(images.count, 4);
  assert.deepEqual(images.classes, ['a', 'b']);
  problem(preview, 'warning', join(root, 'a', 'loop'), 'already read');
  problem(preview, 'warning', join(root, 'c'), 'already read');
  problem(preview, 'warning', join(root, 'self'), 'loops');
  problem(preview, 'warning', 'dangling.png', 'does not exist');
});

test('a link out of the tree is followed once', async (t) => {
  const outside = await tempDir(t);
  await writeTree(outside, { 'x.png': png(pattern(77)) });
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['a', 'b'], 1));
  await symlink(outside, join(root, 'a', 'ext1'));
  await symlink(outside, join(root, 'b', 'ext2'));
  const { images, preview } = await importSource({ path: root, preprocessing: PRE });
  assert.equal(images.count, 3);
  problem(preview, 'warning', 'ext2', 'already read');
});

test('exact duplicates are counted and reported (also across classes)', async (t) => {
  const root = await tempDir(t);
  const same = png(pattern(5));
  await writeTree(root, {
    ...classFolderFiles(['a', 'b'], 2),
    'a/copy1.png': same,
    'a/copy2.bmp': encodeBmp(pattern(5)),
    'b/copy3.png': same,
  });
  const preview = await previewImport({ path: root, preprocessing: PRE });
  assert.equal(preview.duplicates, 2);
  problem(preview, 'warning', 'copy2.bmp', 'exact copy');
  problem(preview, 'warning', 'copy3.png', 'has another class');
});

test('a file larger than the limit is refused before it is read', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['a', 'b'], 2));
  const huge = join(root, 'a', 'huge.png');
  await writeFile(huge, png(pattern(1)));
  await truncate(huge, 2 * 1024 ** 3 + 1); // sparse: takes no disk space
  const preview = await previewImport({ path: root, preprocessing: PRE });
  problem(preview, 'error', 'huge.png', '2.0 GiB');
  // A smaller configured limit works the same way.
  const p2 = await previewImport({ path: root, preprocessing: PRE, maxFileBytes: 100 });
  problem(p2, 'error', 'img0.png', 'larger than');
});

test('cancel stops the import with CANCELLED', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['a', 'b'], 300));
  const ctl = new AbortController();
  let calls = 0;
  await rejectsWith(
    importSource({
      path: root,
      preprocessing: PRE,
      signal: ctl.signal,
      onProgress: (done) => {
        calls++;
        if (done > 0) ctl.abort();
      },
    }),
    'CANCELLED',
    [root],
  );
  assert.ok(calls >= 2);
  const already = new AbortController();
  already.abort();
  await rejectsWith(
    importSource({ path: root, preprocessing: PRE, signal: already.signal }),
    'CANCELLED',
    [],
  );
});

test('a wrapping folder is stepped into; bad preprocessing is refused', async (t) => {
  const root = await tempDir(t);
  await writeTree(
    root,
    Object.fromEntries(
      Object.entries(classFolderFiles(['a', 'b'], 1)).map(([k, v]) => [`data/${k}`, v]),
    ),
  );
  const { images, preview } = await importSource({ path: root, preprocessing: PRE });
  assert.deepEqual(images.classes, ['a', 'b']);
  problem(preview, 'warning', root, 'inside the folder "data"');
  await rejectsWith(
    importSource({ path: root, preprocessing: { ...PRE, size: 30 as 32 } }),
    'INVALID_INPUT',
    ['28, 32, 64 or 128'],
  );
  await rejectsWith(
    importSource({ path: root, preprocessing: { ...PRE, testFraction: 1 } }),
    'INVALID_INPUT',
    ['test share'],
  );
});

test('numeric class folders sort as numbers', async (t) => {
  const root = await tempDir(t);
  await writeTree(root, classFolderFiles(['10', '2', '1'], 1));
  const { images } = await importSource({ path: root, preprocessing: PRE });
  assert.deepEqual(images.classes, ['1', '2', '10']);
});

test('many problems of one kind are summarised after the first 20', async (t) => {
  const root = await tempDir(t);
  const junk: Record<string, string> = {};
  for (let i = 0; i < 25; i++) junk[`a/junk${String(i).padStart(2, '0')}.txt`] = 'x';
  await writeTree(root, { ...classFolderFiles(['a', 'b'], 1), ...junk });
  const preview = await previewImport({ path: root, preprocessing: PRE });
  const notImage = preview.problems.filter((p) => p.problem.includes('not an image'));
  assert.equal(notImage.length, 21);
  assert.ok(notImage[20]?.problem.startsWith('5 more files'));
});
