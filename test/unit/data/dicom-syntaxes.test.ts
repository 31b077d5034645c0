// DICOM transfer syntaxes: the same stored image, written by the test writer in every
// syntax the decoder claims, decodes to the same pixels; frames, colour layouts, fragments.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { decodeDicom, ensureDicomCodecs } from '../../../src-main/data/dicom/index';
import {
  ensureWriterCodecs,
  LOSSLESS_SYNTAXES,
  writeDicom,
  type DicomSpec,
  type WriterSyntax,
} from '../../helpers/dicom-writer';

const LOSSLESS = LOSSLESS_SYNTAXES;
const MAX = 64 * 1024 * 1024;

before(async () => {
  await ensureDicomCodecs();
  await ensureWriterCodecs();
});

/** A 16-bit image whose values span [base, base + 255] with both bytes varying. */
function image16(rows: number, columns: number, base: number, seed = 1): Uint16Array {
  const px = new Uint16Array(rows * columns);
  for (let i = 0; i < px.length; i++) px[i] = base + ((i * 37 + seed * 11 + ((i * i) % 13)) & 255);
  px[0] = base; // the full range is present, so 'full' maps stored value base + k to k
  px[1] = base + 255;
  return px;
}

const decode = (bytes: Uint8Array, windowing: 'file' | 'full' | 'stored' = 'full') =>
  decodeDicom(bytes, 'scan.dcm', { windowing, maxPixels: MAX });

test('the same 16-bit image decodes to identical pixels in every lossless transfer syntax', () => {
  const rows = 33;
  const columns = 47; // odd sizes: odd byte counts, padding, misaligned rows
  // 40000 + k: the high byte varies too (0x9c, 0x9d); 'full' windowing shows every stored value
  const px = image16(rows, columns, 40000 - 128);
  const expected = Uint8Array.from(px, (v) => v - (40000 - 128));
  for (const transferSyntax of LOSSLESS) {
    const decoded = decode(writeDicom({ rows, columns, frames: [px], transferSyntax }));
    assert.equal(decoded.frames.length, 1, transferSyntax);
    const f = decoded.frames[0]!;
    assert.deepEqual([f.width, f.height, f.channels], [columns, rows, 1], transferSyntax);
    assert.deepEqual(f.data, expected, `${transferSyntax} decodes to the stored values`);
    assert.equal(decoded.header.transferSyntaxUid.length > 0, true);
  }
});

test('12-bit signed values decode identically in every lossless transfer syntax', () => {
  const rows = 20;
  const columns = 24;
  const px = Int16Array.from(image16(rows, columns, 0), (v) => v - 1100); // −1100 … −845
  const ref = decode(
    writeDicom({
      rows,
      columns,
      frames: [px],
      transferSyntax: 'explicit-le',
      bitsStored: 12,
      pixelRepresentation: 1,
    }),
  );
  assert.deepEqual(
    ref.frames[0]!.data,
    Uint8Array.from(px, (v) => v + 1100),
  );
  for (const transferSyntax of LOSSLESS) {
    const d = decode(
      writeDicom({
        rows,
        columns,
        frames: [px],
        transferSyntax,
        bitsStored: 12,
        pixelRepresentation: 1,
      }),
    );
    assert.deepEqual(d.frames[0]!.data, ref.frames[0]!.data, transferSyntax);
  }
});

test('a multi-frame file gives one image per frame, in order, in every syntax', () => {
  const rows = 16;
  const columns = 12;
  const frames = [0, 1, 2, 3].map((k) => image16(rows, columns, 1000 * (k + 1), k));
  for (const transferSyntax of LOSSLESS) {
    for (const basicOffsetTable of [true, false]) {
      const d = decode(writeDicom({ rows, columns, frames, transferSyntax, basicOffsetTable }));
      assert.equal(d.frames.length, 4, transferSyntax);
      assert.equal(d.header.frames, 4);
      d.frames.forEach((f, k) =>
        assert.deepEqual(
          f.data,
          Uint8Array.from(frames[k]!, (v) => v - 1000 * (k + 1)),
          `${transferSyntax} frame ${k}`,
        ),
      );
    }
  }
});

test('frames split over several fragments without an offset table are found by their start markers', () => {
  const rows = 24;
  const columns = 24;
  const frames = [0, 1, 2].map((k) => image16(rows, columns, 500, k));
  for (const transferSyntax of ['jpeg-lossless', 'jpeg-ls', 'j2k-lossless'] as WriterSyntax[]) {
    const d = decode(
      writeDicom({
        rows,
        columns,
        frames,
        transferSyntax,
        basicOffsetTable: false,
        fragmentsPerFrame: 3,
      }),
    );
    assert.equal(d.frames.length, 3, transferSyntax);
    d.frames.forEach((f, k) =>
      assert.deepEqual(
        f.data,
        Uint8Array.from(frames[k]!, (v) => v - 500),
        transferSyntax,
      ),
    );
    // with the offset table, any codec
    const t = decode(
      writeDicom({
        rows,
        columns,
        frames,
        transferSyntax,
        basicOffsetTable: true,
        fragmentsPerFrame: 2,
      }),
    );
    assert.deepEqual(
      t.frames.map((f) => f.data),
      d.frames.map((f) => f.data),
    );
  }
});

/** An 8-bit RGB image, interleaved. */
function rgbImage(rows: number, columns: number): Uint8Array {
  const px = new Uint8Array(rows * columns * 3);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const o = (y * columns + x) * 3;
      px[o] = (x * 9) & 255;
      px[o + 1] = (y * 13) & 255;
      px[o + 2] = (x * y + 40) & 255;
    }
  }
  return px;
}

test('RGB with planar configuration 0 and 1, native and compressed, decodes to the same pixels', () => {
  const rows = 9;
  const columns = 11;
  const px = rgbImage(rows, columns);
  const spec = (transferSyntax: WriterSyntax, planarConfiguration: 0 | 1): DicomSpec => ({
    rows,
    columns,
    frames: [px],
    transferSyntax,
    bitsAllocated: 8,
    samplesPerPixel: 3,
    photometric: 'RGB',
    planarConfiguration,
  });
  for (const ts of ['explicit-le', 'implicit-le', 'explicit-be', 'deflated'] as WriterSyntax[]) {
    for (const planar of [0, 1] as const) {
      const d = decode(writeDicom(spec(ts, planar)));
      assert.equal(d.frames[0]!.channels, 3);
      assert.deepEqual(d.frames[0]!.data, px, `${ts} planar ${planar}`);
    }
  }
  for (const ts of ['rle', 'jpeg-lossless', 'jpeg-ls', 'j2k-lossless'] as WriterSyntax[]) {
    assert.deepEqual(decode(writeDicom(spec(ts, 0))).frames[0]!.data, px, ts);
  }
});

test('YBR_FULL and YBR_FULL_422 are converted to RGB', () => {
  // grey levels have Cb = Cr = 128: RGB = Y
  const ybr = Uint8Array.from([10, 128, 128, 200, 128, 128, 76, 85, 255, 149, 43, 21]);
  const d = decode(
    writeDicom({
      rows: 1,
      columns: 4,
      frames: [ybr],
      transferSyntax: 'explicit-le',
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL',
    }),
  );
  const out = [...d.frames[0]!.data];
  assert.deepEqual(out.slice(0, 6), [10, 10, 10, 200, 200, 200]);
  // (76, 85, 255) is pure red, (149, 43, 21) pure green, within rounding
  assert.ok(
    Math.abs(out[6]! - 255) <= 1 && out[7]! <= 1 && out[8]! <= 1,
    `red: ${out.slice(6, 9)}`,
  );
  assert.ok(
    out[9]! <= 1 && Math.abs(out[10]! - 255) <= 1 && out[11]! <= 2,
    `green: ${out.slice(9, 12)}`,
  );
  // the same through RLE
  const r = decode(
    writeDicom({
      rows: 1,
      columns: 4,
      frames: [ybr],
      transferSyntax: 'rle',
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL',
    }),
  );
  assert.deepEqual([...r.frames[0]!.data], out);

  // 4:2:2: Y1 Y2 Cb Cr for each pair of pixels; written here as raw bytes of two "pixels" of 3 samples
  const raw = Uint8Array.from([10, 200, 128, 128, 76, 76, 85, 255]);
  const h = decodeDicom(
    writeDicom({
      rows: 1,
      columns: 4,
      frames: [Uint8Array.from([...raw, 0, 0, 0, 0])], // the writer writes 12 bytes; 8 are read
      transferSyntax: 'explicit-le',
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL_422',
    }),
    '422.dcm',
    { windowing: 'file', maxPixels: MAX },
  );
  const p = [...h.frames[0]!.data];
  assert.deepEqual(p.slice(0, 6), [10, 10, 10, 200, 200, 200]);
  assert.ok(p[6]! >= 254 && p[7]! <= 1 && p[9]! >= 254, `red pair: ${p.slice(6)}`);
});

test('JPEG baseline: colour comes back as RGB close to the original; grey as one channel', () => {
  const rows = 16;
  const columns = 16;
  const flat = new Uint8Array(rows * columns * 3);
  for (let i = 0; i < rows * columns; i++) flat.set([200, 40, 90], i * 3);
  const d = decode(
    writeDicom({
      rows,
      columns,
      frames: [flat],
      transferSyntax: 'jpeg-baseline',
      bitsAllocated: 8,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL_422',
    }),
  );
  const px = d.frames[0]!.data;
  for (let i = 0; i < px.length; i += 3) {
    assert.ok(
      Math.abs(px[i]! - 200) <= 4 &&
        Math.abs(px[i + 1]! - 40) <= 4 &&
        Math.abs(px[i + 2]! - 90) <= 4,
    );
  }
  const grey = new Uint8Array(rows * columns).map((_, i) => (i % columns) * 16);
  const g = decode(
    writeDicom({
      rows,
      columns,
      frames: [grey],
      transferSyntax: 'jpeg-baseline',
      bitsAllocated: 8,
      quality: 100,
    }),
    'stored',
  );
  assert.equal(g.frames[0]!.channels, 1);
  const maxError = Math.max(...g.frames[0]!.data.map((v, i) => Math.abs(v - grey[i]!)));
  assert.ok(maxError <= 6, `baseline grey error ${maxError}`);
});

test('JPEG-LS near-lossless stays within its error bound', () => {
  const rows = 20;
  const columns = 20;
  const px = image16(rows, columns, 3000);
  const d = decode(
    writeDicom({ rows, columns, frames: [px], transferSyntax: 'jpeg-ls-near', bitsStored: 12 }),
    'stored',
  );
  const exact = decode(
    writeDicom({ rows, columns, frames: [px], transferSyntax: 'explicit-le', bitsStored: 12 }),
    'stored',
  );
  assert.equal(d.header.transferSyntax, 'JPEG-LS near-lossless');
  // NEAR = 2 on 12-bit values: at most 2/4095 of the range, under one 8-bit step
  const maxError = Math.max(
    ...d.frames[0]!.data.map((v, i) => Math.abs(v - exact.frames[0]!.data[i]!)),
  );
  assert.ok(maxError <= 1, `near-lossless error ${maxError}`);
});

test('PALETTE COLOR indexes are looked up in the red, green and blue tables', () => {
  const first = 10;
  const entries = 4;
  const r = Uint16Array.from([0, 0xffff, 0x8000, 0x1000]);
  const g = Uint16Array.from([0xffff, 0, 0x8000, 0x2000]);
  const b = Uint16Array.from([0, 0, 0xffff, 0x3000]);
  const idx = Uint8Array.from([10, 11, 12, 13, 9, 200]); // below and above the table clamp
  const d = decode(
    writeDicom({
      rows: 1,
      columns: 6,
      frames: [idx],
      transferSyntax: 'explicit-le',
      bitsAllocated: 8,
      photometric: 'PALETTE COLOR',
      palette: { first, bits: 16, r, g, b },
    }),
  );
  assert.equal(entries, r.length);
  assert.equal(d.frames[0]!.channels, 3);
  assert.deepEqual(
    [...d.frames[0]!.data],
    [0, 255, 0, 255, 0, 0, 128, 128, 255, 16, 32, 48, 0, 255, 0, 16, 32, 48],
  );
});

test('minSide: JPEG 2000 frames come back at a reduced resolution level, other syntaxes at full size', () => {
  const rows = 64;
  const columns = 48;
  // a smooth ramp: its wavelet low-pass is close to the block average
  const px = Uint16Array.from(
    { length: rows * columns },
    (_, i) => 1000 + (i % columns) * 4 + Math.floor(i / columns) * 2,
  );
  const options = { windowing: 'stored' as const, maxPixels: MAX, minSide: 12 };
  const j2k = decodeDicom(
    writeDicom({ rows, columns, frames: [px], transferSyntax: 'j2k-lossless', bitsStored: 12 }),
    'r.dcm',
    options,
  );
  const f = j2k.frames[0]!;
  // 48 → 24 → 12: two levels down; rows 64 → 16
  assert.deepEqual([f.width, f.height, f.data.length], [12, 16, 12 * 16]);
  assert.deepEqual([j2k.header.columns, j2k.header.rows], [48, 64]);
  const native = decodeDicom(
    writeDicom({ rows, columns, frames: [px], transferSyntax: 'explicit-le', bitsStored: 12 }),
    'n.dcm',
    options,
  );
  const n = native.frames[0]!;
  assert.deepEqual([n.width, n.height], [48, 64]);
  // each reduced pixel is close to the 4×4 block it stands for
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 12; x++) {
      let sum = 0;
      for (let dy = 0; dy < 4; dy++)
        for (let dx = 0; dx < 4; dx++) sum += n.data[(y * 4 + dy) * 48 + x * 4 + dx]!;
      assert.ok(
        Math.abs(f.data[y * 12 + x]! - sum / 16) <= 2,
        `(${x}, ${y}): ${f.data[y * 12 + x]} vs ${sum / 16}`,
      );
    }
  }
  // without minSide, full size and identical to native
  const whole = decodeDicom(
    writeDicom({ rows, columns, frames: [px], transferSyntax: 'j2k-lossless', bitsStored: 12 }),
    'w.dcm',
    { windowing: 'stored', maxPixels: MAX },
  );
  assert.deepEqual(whole.frames[0]!.data, n.data);
});

test('JPEG lossless (.57) and JPEG 2000 (.91) UIDs are decoded too', () => {
  const rows = 10;
  const columns = 14;
  const px = image16(rows, columns, 2000);
  const expected = Uint8Array.from(px, (v) => v - 2000);
  const cases: [WriterSyntax, string, string][] = [
    ['jpeg-lossless', '1.2.840.10008.1.2.4.57', 'JPEG lossless'],
    ['j2k-lossless', '1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ];
  for (const [transferSyntax, uid, name] of cases) {
    // a lossless codestream is valid under the general UID
    const d = decode(
      writeDicom({ rows, columns, frames: [px], transferSyntax, transferSyntaxUid: uid }),
    );
    assert.deepEqual([d.header.transferSyntaxUid, d.header.transferSyntax], [uid, name]);
    assert.deepEqual(d.frames[0]!.data, expected);
  }
});

test('bytes at an odd offset in their buffer (a Buffer slice) decode the same', () => {
  const rows = 30;
  const columns = 20;
  const px = image16(rows, columns, 500);
  for (const transferSyntax of [
    'explicit-le',
    'explicit-be',
    'rle',
    'jpeg-lossless',
    'jpeg-ls',
    'j2k-lossless',
  ] as WriterSyntax[]) {
    const file = writeDicom({ rows, columns, frames: [px], transferSyntax });
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const fromBuffer = Buffer.from(shifted.buffer, 1, file.length);
    assert.deepEqual(
      decode(shifted.subarray(1)).frames[0]!.data,
      decode(file).frames[0]!.data,
      transferSyntax,
    );
    assert.deepEqual(
      decode(fromBuffer).frames[0]!.data,
      decode(file).frames[0]!.data,
      transferSyntax,
    );
  }
});
