import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { importSource, previewImport } from '../../../src-main/data/scan';
import { PRE, pattern, png, tempDir, writeTree } from './helpers';

/** A flat export: files in study folders that say nothing of the class. */
async function flatTree(root: string): Promise<void> {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 6; i++) files[`study1/IM${i}`] = png(pattern(i));
  for (let i = 0; i < 6; i++) files[`study2/SE${i}.png`] = png(pattern(50 + i));
  await writeTree(root, files);
}

test('a labels CSV gives the classes of a flat tree: paths or unique bare names, header, quotes and semicolons', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'export');
  await flatTree(root);
  const csv = join(dir, 'labels.csv');
  const lines = ['"file name";diagnosis'];
  for (let i = 0; i < 6; i++) lines.push(`study1\\IM${i};${i < 3 ? 'normal' : 'pneumonia'}`);
  for (let i = 0; i < 6; i++) lines.push(`SE${i}.png;"${i % 2 ? 'normal' : 'pneumonia'}"`);
  await writeFile(csv, '\uFEFF' + lines.join('\r\n') + '\r\n');
  const { images, preview } = await importSource({
    path: root,
    labels: csv,
    preprocessing: { ...PRE, testFraction: 0 },
  });
  assert.deepEqual(images.classes, ['normal', 'pneumonia']);
  assert.deepEqual(
    preview.perClass.map((c) => c.count),
    [6, 6],
  );
  assert.equal(preview.problems.filter((p) => p.severity === 'error').length, 0);
  // Image order follows the class, then the tree: study1/IM0 (normal) comes first.
  assert.equal(images.y[0], 0);
});

test('a labels CSV that names missing files, repeats a file with another class, or leaves files out is reported line by line', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'export');
  await flatTree(root);
  // The CSV lives inside the imported folder: it is not reported as a stray file.
  const csv = join(root, 'labels.csv');
  await writeFile(
    csv,
    [
      'file,label',
      'study1/IM0,a',
      'study1/IM1,b',
      'study1/IM1,a',
      'study1/IM2,b',
      'study1/IM2,b',
      'study9/IM7,a',
      'study1/IM3,',
    ].join('\n'),
  );
  const preview = await previewImport({ path: root, labels: csv, preprocessing: PRE });
  const find = (sev: string, where: string, text: string) =>
    preview.problems.find(
      (p) => p.severity === sev && p.file.includes(where) && p.problem.includes(text),
    );
  assert.ok(find('error', 'line 4', 'line 3 gives it "b"'), JSON.stringify(preview.problems));
  assert.ok(find('error', 'line 7', 'study9/IM7, which is not in'));
  assert.ok(find('error', 'line 8', 'gives no class'));
  assert.ok(find('warning', 'line 6', 'repeats study1/IM2'));
  assert.ok(find('warning', root, 'are not listed in'));
  assert.ok(
    !preview.problems.some(
      (p) => p.file.endsWith('labels.csv') && p.problem.includes('not an image'),
    ),
  );
  await assert.rejects(
    importSource({ path: root, labels: csv, preprocessing: PRE }),
    (e: unknown) => e instanceof UserError && e.message.includes('study9/IM7'),
  );
});

test('a bare name found in two folders is refused as ambiguous; a CSV for MNIST or a missing CSV are refused plainly', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'export');
  await writeTree(root, {
    'a/IM0': png(pattern(1)),
    'b/IM0': png(pattern(2)),
    'a/IM1': png(pattern(3)),
  });
  const csv = join(dir, 'labels.csv');
  await writeFile(csv, 'IM0,x\na/IM1,y\n');
  const preview = await previewImport({ path: root, labels: csv, preprocessing: PRE });
  assert.ok(
    preview.problems.some(
      (p) =>
        p.severity === 'error' && p.problem.includes('2 files of') && p.action.includes('relative'),
    ),
    JSON.stringify(preview.problems),
  );
  await assert.rejects(
    previewImport({ path: 'mnist', labels: csv, preprocessing: PRE }),
    (e: unknown) => e instanceof UserError && e.message.includes('brings its own labels'),
  );
  await assert.rejects(
    previewImport({ path: root, labels: join(dir, 'nope.csv'), preprocessing: PRE }),
    (e: unknown) =>
      e instanceof UserError && e.code === 'NOT_FOUND' && e.message.includes('nope.csv'),
  );
  await writeFile(join(dir, 'binary.csv'), new Uint8Array([0xff, 0xfe, 0, 0x41]));
  await assert.rejects(
    previewImport({ path: root, labels: join(dir, 'binary.csv'), preprocessing: PRE }),
    (e: unknown) => e instanceof UserError && e.message.includes('not text'),
  );
});
