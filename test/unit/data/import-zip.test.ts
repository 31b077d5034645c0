import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { UserError } from '../../../src-main/contract/errors';
import { importSource, previewImport } from '../../../src-main/data/scan';
import { PRE, classFolderFiles, pattern, png, tempDir } from './helpers';

test('a zip of a class folder imports like the folder (wrapping folder stepped into)', async (t) => {
  const dir = await tempDir(t);
  const files = Object.fromEntries(
    Object.entries(classFolderFiles(['a', 'b', 'c'], 3)).map(([k, v]) => [`scans/${k}`, v]),
  );
  files['__MACOSX/scans/a/._img0.png'] = new Uint8Array([0, 5, 22]);
  files['scans/a/notes.txt'] = new TextEncoder().encode('hello');
  const zip = join(dir, 'scans.zip');
  await writeFile(zip, zipSync(files));
  const { images, preview } = await importSource({ path: zip, preprocessing: PRE });
  assert.equal(preview.format, 'zip');
  assert.deepEqual(images.classes, ['a', 'b', 'c']);
  assert.equal(images.count, 9);
  assert.deepEqual(images.x.subarray(0, 784), pattern(0).data);
  assert.ok(preview.problems.some((p) => p.file.includes('notes.txt') && p.severity === 'warning'));
  assert.ok(!preview.problems.some((p) => p.file.includes('__MACOSX')));
});

test('a zip with ../ or absolute entries is rejected before anything is extracted', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'inner');
  await writeFile(join(base, 'marker'), '');
  for (const evil of [
    '../evil.png',
    'a/../../evil.png',
    '/tmp/evil.png',
    'C:/evil.png',
    '..\\evil.png',
  ]) {
    const files: Record<string, Uint8Array> = { ...classFolderFiles(['a', 'b'], 1) };
    files[evil] = png(pattern(9));
    const zip = join(base, 'evil.zip');
    await writeFile(zip, zipSync(files));
    for (const run of [importSource, previewImport]) {
      await assert.rejects(run({ path: zip, preprocessing: PRE }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.code, 'INVALID_INPUT');
        assert.ok(e.message.includes(zip) && e.message.includes('outside'), e.message);
        return true;
      });
    }
  }
  // Nothing was written anywhere near the archive.
  assert.deepEqual((await readdir(base)).sort(), ['evil.zip', 'marker']);
  assert.ok(!existsSync(join(dirname(base), 'evil.png')));
  assert.ok(!existsSync(dir));
});

test('a damaged zip and a damaged entry are reported', async (t) => {
  const dir = await tempDir(t);
  const good = zipSync(classFolderFiles(['a', 'b'], 2));
  const cut = join(dir, 'cut.zip');
  await writeFile(cut, good.subarray(0, good.length - 30));
  await assert.rejects(
    importSource({ path: cut, preprocessing: PRE }),
    (e: unknown) => e instanceof UserError && e.code === 'CORRUPT_DATA' && e.message.includes(cut),
  );
  const withBad = join(dir, 'bad.zip');
  await writeFile(
    withBad,
    zipSync({
      ...classFolderFiles(['a', 'b'], 2),
      'b/broken.png': png(pattern(3)).subarray(0, 50),
    }),
  );
  const preview = await previewImport({ path: withBad, preprocessing: PRE });
  assert.ok(
    preview.problems.some((p) => p.severity === 'error' && p.file.includes('b/broken.png')),
    JSON.stringify(preview.problems),
  );
});

test('one entry with damaged compressed data is reported; the others import', async (t) => {
  const dir = await tempDir(t);
  const files: Record<string, Uint8Array> = classFolderFiles(['a', 'b'], 5);
  files['b/zzz.png'] = png(pattern(42));
  const zip = zipSync(files, { level: 9 });
  const name = new TextEncoder().encode('b/zzz.png');
  const at = Buffer.from(zip).indexOf(Buffer.from(name)) + name.length; // first hit: the local header
  zip.fill(0xff, at, at + 8); // invalid deflate data
  const path = join(dir, 'damaged.zip');
  await writeFile(path, zip);
  const preview = await previewImport({ path, preprocessing: PRE, skipUnreadable: true });
  assert.equal(preview.total, 10);
  assert.ok(
    preview.problems.some(
      (p) => p.file.includes('b/zzz.png') && p.problem.includes('damaged inside the zip'),
    ),
    JSON.stringify(preview.problems),
  );
});
