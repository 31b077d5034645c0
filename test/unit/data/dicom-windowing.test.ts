// DICOM grey pipeline: bits stored / high bit, signed pixels, rescale, the three windowing
// options (file, full, stored), VOI LUT functions and tables, MONOCHROME1 inversion.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDicom, type DicomWindowing } from '../../../src-main/data/dicom/index';
import { writeDicom, type DicomSpec } from '../../helpers/dicom-writer';

const MAX = 64 * 1024 * 1024;

/** Decodes a one-row image of the given stored values; returns its 8-bit pixels. */
function row(
  values: number[],
  windowing: DicomWindowing,
  extra: Partial<DicomSpec> = {},
): number[] {
  const bitsAllocated = extra.bitsAllocated ?? 16;
  const frame =
    bitsAllocated === 8
      ? extra.pixelRepresentation === 1
        ? Int8Array.from(values)
        : Uint8Array.from(values)
      : extra.pixelRepresentation === 1
        ? Int16Array.from(values)
        : Uint16Array.from(values);
  const bytes = writeDicom({
    rows: 1,
    columns: values.length,
    frames: [frame],
    transferSyntax: 'explicit-le',
    ...extra,
  });
  return [...decodeDicom(bytes, 'w.dcm', { windowing, maxPixels: MAX }).frames[0]!.data];
}

/** PS3.3 C.11.2.1.2.1, the LINEAR window function onto [0, 255], rounded. */
function linear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 255;
  return Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
}

test("'file' applies the file's window centre/width after rescale", () => {
  const stored = [0, 1000, 1040, 1100, 1160, 1200, 4000];
  // CT-like: HU = stored − 1024; window 40/400 (soft tissue): HU −160 → 0, 240 → 255
  const out = row(stored, 'file', {
    rescaleIntercept: -1024,
    rescaleSlope: 1,
    windowCenter: 40,
    windowWidth: 400,
  });
  assert.deepEqual(
    out,
    stored.map((s) => linear(s - 1024, 40, 400)),
  );
  assert.deepEqual([out[0], out[out.length - 1]], [0, 255]);
  // the window's two edges
  assert.equal(
    row([863], 'file', { rescaleIntercept: -1024, windowCenter: 40, windowWidth: 400 })[0],
    0,
  );
  assert.equal(
    row([1264], 'file', { rescaleIntercept: -1024, windowCenter: 40, windowWidth: 400 })[0],
    255,
  );
});

test("'file' with rescale slope: the window is in rescaled units", () => {
  const stored = [0, 50, 100, 150, 200];
  const out = row(stored, 'file', {
    rescaleSlope: 2,
    rescaleIntercept: -100,
    windowCenter: 100,
    windowWidth: 201,
  });
  assert.deepEqual(
    out,
    stored.map((s) => linear(2 * s - 100, 100, 201)),
  );
  assert.deepEqual(out, [0, 1, 128, 255, 255]);
});

test("'file' honours VOI LUT Function LINEAR_EXACT and SIGMOID", () => {
  const exact = row([0, 50, 100, 150, 200], 'file', {
    windowCenter: 100,
    windowWidth: 100,
    voiLutFunction: 'LINEAR_EXACT',
  });
  assert.deepEqual(exact, [0, 0, 128, 255, 255]);
  const sigmoid = row([0, 100, 200], 'file', {
    windowCenter: 100,
    windowWidth: 100,
    voiLutFunction: 'SIGMOID',
  });
  assert.equal(sigmoid[1], 128);
  assert.equal(sigmoid[0], Math.round(255 / (1 + Math.exp(4))));
  assert.equal(sigmoid[2], Math.round(255 / (1 + Math.exp(-4))));
});

test("'file' uses the VOI LUT Sequence when there is no window", () => {
  // a 4-entry table from stored value 100, 8-bit output
  const out = row([90, 100, 101, 102, 103, 500], 'file', {
    voiLut: { first: 100, bits: 8, data: Uint16Array.from([0, 10, 200, 255]) },
  });
  assert.deepEqual(out, [0, 0, 10, 200, 255, 255]);
});

test("'file' falls back to the image's full range when the file has no window", () => {
  const stored = [100, 150, 200, 300];
  assert.deepEqual(row(stored, 'file'), row(stored, 'full'));
  assert.deepEqual(row(stored, 'full'), [0, 64, 128, 255]);
});

test("'full' maps this image's rescaled minimum to 0 and maximum to 255 (negative slope too)", () => {
  assert.deepEqual(
    row([10, 20, 30], 'full', { rescaleSlope: 3, rescaleIntercept: 7 }),
    [0, 128, 255],
  );
  assert.deepEqual(
    row([10, 20, 30], 'full', { rescaleSlope: -1, rescaleIntercept: 0 }),
    [255, 128, 0],
  );
  // one value only: no range, black
  assert.deepEqual(row([77, 77], 'full'), [0, 0]);
});

test("'stored' maps the whole stored range, ignoring window and rescale", () => {
  const extra = { bitsStored: 12, windowCenter: 10, windowWidth: 2, rescaleIntercept: -1024 };
  assert.deepEqual(row([0, 2048, 4095], 'stored', extra), [0, 128, 255]);
  assert.deepEqual(row([0, 32768, 65535], 'stored'), [0, 128, 255]);
});

test('signed pixels are sign-extended from bits stored', () => {
  // 16-bit signed: −32768 … 32767
  assert.deepEqual(row([-32768, 0, 32767], 'stored', { pixelRepresentation: 1 }), [0, 128, 255]);
  // 12 bits stored in 16: −2048 … 2047; the writer sign-extends over 16 bits
  assert.deepEqual(
    row([-2048, -1, 0, 2047], 'stored', { pixelRepresentation: 1, bitsStored: 12 }),
    [0, 127, 128, 255],
  );
  // with a window in rescaled units: −1000 (air) and +1000 (bone) at window 0/2000
  const out = row([-1000, 0, 1000], 'file', {
    pixelRepresentation: 1,
    bitsStored: 12,
    windowCenter: 0,
    windowWidth: 2000,
  });
  assert.deepEqual(
    out,
    [-1000, 0, 1000].map((s) => linear(s, 0, 2000)),
  );
  // 'full' on negative values
  assert.deepEqual(
    row([-300, -200, -100], 'full', { pixelRepresentation: 1, bitsStored: 12 }),
    [0, 128, 255],
  );
  // 8-bit signed
  assert.deepEqual(
    row([-128, 0, 127], 'stored', { pixelRepresentation: 1, bitsAllocated: 8 }),
    [0, 128, 255],
  );
});

test('bits outside bits stored / high bit are masked off', () => {
  // 12 bits stored at high bit 11 with overlay bits set above: ignored
  const dirty = [0, 2048, 4095].map((v) => v | 0xf000);
  assert.deepEqual(row(dirty, 'stored', { bitsStored: 12 }), [0, 128, 255]);
  // 12 bits stored at high bit 15: the values sit in the top bits; low bits are noise
  const high = [0, 2048, 4095].map((v) => (v << 4) | 0x9);
  assert.deepEqual(row(high, 'stored', { bitsStored: 12, highBit: 15 }), [0, 128, 255]);
});

test('8-bit grey is kept as is', () => {
  const values = [0, 1, 17, 128, 254, 255];
  assert.deepEqual(row(values, 'stored', { bitsAllocated: 8 }), values);
  assert.deepEqual(row(values, 'full', { bitsAllocated: 8 }), values);
});

test('MONOCHROME1 is inverted after windowing (high values dark)', () => {
  const mono1 = { photometric: 'MONOCHROME1' };
  assert.deepEqual(row([100, 150, 200, 300], 'full', mono1), [255, 191, 127, 0]);
  assert.deepEqual(row([0, 2048, 4095], 'stored', { ...mono1, bitsStored: 12 }), [255, 127, 0]);
  const w = { windowCenter: 40, windowWidth: 400, rescaleIntercept: -1024 };
  assert.deepEqual(
    row([0, 1040, 4000], 'file', { ...mono1, ...w }),
    row([0, 1040, 4000], 'file', w).map((v) => 255 - v),
  );
});

test('frames of a multi-frame file are windowed the same way by file and stored, each by its own range by full', () => {
  const a = Uint16Array.from([100, 200]);
  const b = Uint16Array.from([1000, 3000]);
  const bytes = writeDicom({
    rows: 1,
    columns: 2,
    frames: [a, b],
    transferSyntax: 'explicit-le',
    bitsStored: 12,
    windowCenter: 2048,
    windowWidth: 4096,
  });
  const full = decodeDicom(bytes, 'm.dcm', { windowing: 'full', maxPixels: MAX }).frames;
  assert.deepEqual(
    full.map((f) => [...f.data]),
    [
      [0, 255],
      [0, 255],
    ],
  );
  const file = decodeDicom(bytes, 'm.dcm', { windowing: 'file', maxPixels: MAX }).frames;
  assert.deepEqual(
    file.map((f) => [...f.data]),
    [a, b].map((fr) => [...fr].map((s) => linear(s, 2048, 4096))),
  );
});
