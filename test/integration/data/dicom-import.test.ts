/**
 * DICOM through the whole import: class folders and DICOMDIR-style trees,
 * mixed with PNG, multi-frame files, every lossless transfer syntax giving
 * the same pixels, the window choice, and each bad file named plainly.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { zipSync } from 'fflate';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { importSource, previewImport } from '../../../src-main/data/scan';
import type { Preprocessing } from '../../../src-main/data/types';
import { ensureWriterCodecs, LOSSLESS_SYNTAXES, writeDicom } from '../../helpers/dicom-writer';
import type { DicomSpec } from '../../helpers/dicom-writer';
import { pattern, png, tempDir, writeTree } from '../../unit/data/helpers';

const PRE: Preprocessing = { size: 32, channels: 1, testFraction: 0, splitSeed: 3 };
const LOSSLESS = LOSSLESS_SYNTAXES;

/** A 48×40 16-bit slice with 12 bits stored: a gradient and a bright square, distinct per seed. */
function slice(seed: number, rows = 40, columns = 48): Uint16Array {
  const px = new Uint16Array(rows * columns);
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < columns; x++) {
      const square = Math.abs(x - 24 - (seed % 7)) < 6 && Math.abs(y - 20) < 6 ? 1500 : 0;
      px[y * columns + x] = (x * 40 + y * 23 + seed * 97 + square) % 4096;
    }
  return px;
}

function ct(seed: number, extra: Partial<DicomSpec> = {}): Uint8Array {
  return writeDicom({
    rows: 40,
    columns: 48,
    frames: [slice(seed)],
    transferSyntax: 'explicit-le',
    bitsStored: 12,
    windowCenter: 1800,
    windowWidth: 2400,
    modality: 'CT',
    patient: { name: 'DOE^JANE', id: `P${seed}`, birthDate: '19600101' },
    ...extra,
  });
}

before(ensureWriterCodecs);

test('the same image in every lossless transfer syntax imports to identical pixels', async (t) => {
  const dir = await tempDir(t);
  const files: Record<string, Uint8Array> = {};
  for (const syntax of LOSSLESS) files[`same/${syntax}.dcm`] = ct(1, { transferSyntax: syntax });
  files['other/x.dcm'] = ct(2);
  await writeTree(dir, files);
  const { images, preview } = await importSource({ path: dir, preprocessing: PRE });
  assert.equal(images.count, LOSSLESS.length + 1);
  const per = 32 * 32;
  const first = Buffer.from(images.x.subarray(per, 2 * per));
  for (let i = 1; i < images.count; i++) {
    if (images.y[i] !== images.y[1]) continue;
    assert.ok(Buffer.from(images.x.subarray(i * per, (i + 1) * per)).equals(first), `image ${i}`);
  }
  // Identical decoded pixels are exact duplicates, whatever the file's syntax.
  assert.equal(preview.duplicates, LOSSLESS.length - 1);
  assert.equal(preview.dicom?.files, LOSSLESS.length + 1);
  assert.equal(preview.dicom?.withPatientFields, LOSSLESS.length + 1);
  assert.equal(preview.dicom?.transferSyntaxes.length, LOSSLESS.length);
  assert.deepEqual(preview.dicom?.modalities, [{ name: 'CT', count: LOSSLESS.length + 1 }]);
});

test('a folder mixing PNG and extension-less DICOM (with a DICOMDIR index and a report) imports as a user expects', async (t) => {
  const dir = await tempDir(t);
  await writeTree(dir, {
    // A DICOMDIR-style tree inside the class folder; the index and a structured report hold no image.
    'pneumonia/DICOMDIR': ct(9, { omitPixelData: true, sopClassUid: '1.2.840.10008.1.3.10' }),
    'pneumonia/PA0/ST0/SE0/IM0': ct(10),
    'pneumonia/PA0/ST0/SE0/IM1': ct(11, { transferSyntax: 'jpeg-ls' }),
    'pneumonia/PA0/ST0/SE1/IM0': ct(12, {
      omitPixelData: true,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11',
    }),
    'normal/a.png': png(pattern(1, 40)),
    'normal/b.png': png(pattern(2, 40)),
    // Three frames: three images of the file's class.
    'normal/cine.dcm': writeDicom({
      rows: 40,
      columns: 48,
      frames: [slice(20), slice(21), slice(22)],
      transferSyntax: 'rle',
      bitsStored: 12,
      modality: 'XA',
    }),
  });
  const { images, preview } = await importSource({ path: dir, preprocessing: PRE });
  assert.deepEqual(images.classes, ['normal', 'pneumonia']);
  assert.deepEqual(
    preview.perClass.map((c) => c.count),
    [5, 2],
  );
  assert.equal(preview.dicom?.files, 3);
  assert.equal(preview.dicom?.frames, 5);
  assert.deepEqual(
    preview.dicom?.modalities.map((m) => m.name),
    ['CT', 'XA'],
  );
  const warned = (file: string, text: string) =>
    preview.problems.some(
      (p) => p.severity === 'warning' && p.file.endsWith(file) && p.problem.includes(text),
    );
  assert.ok(warned('DICOMDIR', 'DICOMDIR'), JSON.stringify(preview.problems));
  assert.ok(warned('SE1/IM0', 'structured report'), JSON.stringify(preview.problems));
  assert.ok(preview.problems.some((p) => p.problem.includes('2 modalities')));
  assert.ok(
    preview.problems.some((p) => p.problem.includes('carried patient or other identifying fields')),
  );
  // The frames keep the file's order: cine.dcm's three frames follow a.png and b.png.
  assert.ok(preview.problems.every((p) => !p.problem.includes('DOE')));
});

test('a DICOMDIR export with a labels CSV: classes from the CSV, files without extension', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'export');
  const files: Record<string, Uint8Array> = {
    DICOMDIR: ct(0, { omitPixelData: true, sopClassUid: '1.2.840.10008.1.3.10' }),
  };
  for (let i = 0; i < 6; i++) files[`DICOM/PA0/ST0/SE${i % 2}/IM${i}`] = ct(30 + i);
  await writeTree(root, files);
  const csv = join(dir, 'labels.csv');
  await writeFile(
    csv,
    [
      'file,finding',
      ...[0, 1, 2, 3, 4, 5].map(
        (i) => `DICOM/PA0/ST0/SE${i % 2}/IM${i},${i % 2 ? 'effusion' : 'clear'}`,
      ),
    ].join('\n'),
  );
  const { images, preview } = await importSource({ path: root, labels: csv, preprocessing: PRE });
  assert.deepEqual(images.classes, ['clear', 'effusion']);
  assert.equal(images.count, 6);
  // The index file is not listed in the CSV: reported as not imported, not as an error.
  assert.equal(preview.problems.filter((p) => p.severity === 'error').length, 0);
  // Without the CSV the tree has one class, and the message points to the CSV.
  const alone = await previewImport({ path: root, preprocessing: PRE });
  assert.ok(alone.problems.some((p) => p.severity === 'error' && p.action.includes('labels CSV')));
});

test('DICOM files inside a zip import like a folder (frames, syntaxes, classes)', async (t) => {
  const dir = await tempDir(t);
  const zip = join(dir, 'export.zip');
  await writeFile(
    zip,
    zipSync({
      'ward/normal/IM0': ct(60, { transferSyntax: 'rle' }),
      'ward/normal/IM1': ct(61),
      'ward/effusion/IM0': ct(62, { transferSyntax: 'jpeg-ls' }),
      'ward/effusion/IM1': ct(63, { transferSyntax: 'j2k-lossless' }),
    }),
  );
  const { images, preview } = await importSource({ path: zip, preprocessing: PRE });
  assert.deepEqual(images.classes, ['effusion', 'normal']);
  assert.equal(images.count, 4);
  assert.equal(preview.format, 'zip');
  assert.equal(preview.dicom?.files, 4);
});

test('the window choice: the file’s window, each image’s full range, or the stored values', async (t) => {
  const dir = await tempDir(t);
  // A narrow window low in the range: most values lie above it and turn white.
  const narrow = { windowCenter: 500, windowWidth: 200 };
  await writeTree(dir, { 'a/x.dcm': ct(4, narrow), 'b/y.dcm': ct(5, narrow) });
  const mean = async (dicomWindow: 'file' | 'full' | 'stored') => {
    const { images } = await importSource({ path: dir, preprocessing: { ...PRE, dicomWindow } });
    return images.x.reduce((a, v) => a + v, 0) / images.x.length;
  };
  const [file, full, stored] = [await mean('file'), await mean('full'), await mean('stored')];
  // Values spread over 0…4095 in a 12-bit range: stored ≈ full here.
  assert.ok(file > full + 50, `file ${file} vs full ${full}`);
  assert.ok(Math.abs(full - stored) < 40, `full ${full} vs stored ${stored}`);
  await assert.rejects(
    previewImport({ path: dir, preprocessing: { ...PRE, dicomWindow: 'auto' as 'file' } }),
    (e: unknown) => e instanceof UserError && e.message.includes('not offered'),
  );
});

test('bad DICOM files are named one by one and nothing is imported; skipping keeps the good ones', async (t) => {
  const dir = await tempDir(t);
  const good = ct(40, { transferSyntax: 'jpeg-lossless' });
  await writeTree(dir, {
    'a/good.dcm': ct(41),
    'a/fake.dcm': 'this is a text file',
    'a/extended.dcm': ct(42, { transferSyntaxUid: '1.2.840.10008.1.2.4.51' }),
    'b/truncated.dcm': ct(43).subarray(0, 1200),
    'b/cut-stream.dcm': good.subarray(0, good.length - 300),
    'b/good.dcm': ct(44),
  });
  const preview = await previewImport({ path: dir, preprocessing: PRE });
  const errorAbout = (file: string, text: RegExp) =>
    preview.problems.some(
      (p) => p.severity === 'error' && p.file.endsWith(file) && text.test(p.problem),
    );
  assert.ok(
    errorAbout('fake.dcm', /not a PNG, JPEG, BMP or DICOM/),
    JSON.stringify(preview.problems, null, 1),
  );
  assert.ok(errorAbout('extended.dcm', /1\.2\.840\.10008\.1\.2\.4\.51/));
  assert.ok(errorAbout('truncated.dcm', /truncated/));
  assert.ok(errorAbout('cut-stream.dcm', /./));
  await assert.rejects(
    importSource({ path: dir, preprocessing: PRE }),
    (e: unknown) => e instanceof UserError && e.message.includes('extended.dcm'),
  );
  const skipped = await importSource({ path: dir, preprocessing: PRE, skipUnreadable: true });
  assert.equal(skipped.images.count, 2);
});
