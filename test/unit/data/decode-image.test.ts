import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { decodeBmp, encodeBmp } from '../../../src-main/data/decode-bmp';
import { PNG } from 'pngjs';
import { decodeImage, detectImageFormat } from '../../../src-main/data/decode-image';
import { decodePngFast } from '../../../src-main/data/decode-png-fast';
import { encodePng } from '../../../src-main/data/png';
import { gray, jpg, pattern, png, rawPng, rgb } from './helpers';

function assertUserError(fn: () => unknown, code: string, includes: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(includes), `message "${err.message}" should name ${includes}`);
    return true;
  });
}

test('8-bit gray and RGB PNG decode exactly', () => {
  const g = pattern(1, 9);
  assert.deepEqual(decodeImage(png(g), 'g.png'), g);
  const c = rgb(5, 4, (x, y) => [x * 40, y * 50, 200]);
  assert.deepEqual(decodeImage(png(c), 'c.png'), c);
});

test('RGBA PNG is flattened onto black', () => {
  const data = Uint8Array.from([200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 128]);
  const out = decodeImage(encodePng({ width: 3, height: 1, channels: 4, data }), 'a.png');
  assert.equal(out.channels, 3);
  assert.deepEqual([...out.data], [200, 100, 50, 0, 0, 0, 100, 50, 25]);
});

test('16-bit PNG is scaled to 8 bits', () => {
  const values = [0, 257, 32768, 65535];
  const rows = new Uint8Array(8);
  const v = new DataView(rows.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x));
  const out = decodeImage(
    rawPng({ width: 4, height: 1, colorType: 0, bitDepth: 16, rows }),
    'deep.png',
  );
  assert.equal(out.channels, 1);
  assert.deepEqual([...out.data], [0, 1, 128, 255]);
  // 16-bit RGB
  const rgbRows = new Uint8Array(6);
  new DataView(rgbRows.buffer).setUint16(0, 65535);
  new DataView(rgbRows.buffer).setUint16(4, 0x8080);
  const c = decodeImage(
    rawPng({ width: 1, height: 1, colorType: 2, bitDepth: 16, rows: rgbRows }),
    'deep-rgb.png',
  );
  assert.deepEqual([...c.data], [255, 0, 128]);
});

test('palette PNG decodes to RGB, or to gray when the palette is gray', () => {
  const rows = Uint8Array.from([0, 1, 2, 1]);
  const colour = decodeImage(
    rawPng({
      width: 4,
      height: 1,
      colorType: 3,
      bitDepth: 8,
      rows,
      palette: [
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
      ],
    }),
    'pal.png',
  );
  assert.equal(colour.channels, 3);
  assert.deepEqual([...colour.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0]);
  const grayPal = decodeImage(
    rawPng({
      width: 4,
      height: 1,
      colorType: 3,
      bitDepth: 8,
      rows,
      palette: [
        [0, 0, 0],
        [100, 100, 100],
        [255, 255, 255],
      ],
    }),
    'grey-pal.png',
  );
  assert.equal(grayPal.channels, 1);
  assert.deepEqual([...grayPal.data], [0, 100, 255, 100]);
  // 2-bit palette, 4 pixels in one byte
  const packed = decodeImage(
    rawPng({
      width: 4,
      height: 1,
      colorType: 3,
      bitDepth: 2,
      rows: Uint8Array.from([0b00011011]),
      palette: [
        [0, 0, 0],
        [85, 85, 85],
        [170, 170, 170],
        [255, 255, 255],
      ],
    }),
    'pal2.png',
  );
  assert.deepEqual([...packed.data], [0, 85, 170, 255]);
});

test('1-bit gray PNG is scaled to 0/255', () => {
  const out = decodeImage(
    rawPng({ width: 8, height: 1, colorType: 0, bitDepth: 1, rows: Uint8Array.from([0b10100000]) }),
    'bits.png',
  );
  assert.deepEqual([...out.data], [255, 0, 255, 0, 0, 0, 0, 0]);
});

test('colour JPEG decodes close to its source', () => {
  const c = rgb(16, 16, (x) => [x * 16, 128, 255 - x * 16]);
  const out = decodeImage(jpg(c), 'c.jpg');
  assert.equal(out.channels, 3);
  assert.equal(out.width, 16);
  for (let i = 0; i < out.data.length; i++)
    assert.ok(Math.abs((out.data[i] ?? 0) - (c.data[i] ?? 0)) < 24);
});

test('formats are recognised by magic bytes, not by name', () => {
  const g = pattern(2, 8);
  assert.equal(detectImageFormat(png(g)), 'png');
  assert.equal(detectImageFormat(jpg(g)), 'jpeg');
  assert.equal(detectImageFormat(encodeBmp(g)), 'bmp');
  assert.equal(
    detectImageFormat(new TextEncoder().encode('BM is also how this text starts')),
    undefined,
  );
  assert.equal(detectImageFormat(new TextEncoder().encode('GIF89a....')), 'gif');
  assert.deepEqual(decodeImage(png(g), 'named-like-a.jpg'), g);
  assertUserError(
    () => decodeImage(new TextEncoder().encode('GIF89a....'), 'anim.gif'),
    'UNSUPPORTED',
    'anim.gif',
  );
  assertUserError(
    () => decodeImage(new TextEncoder().encode('hello'), 'notes.png'),
    'CORRUPT_DATA',
    'notes.png',
  );
});

test('truncated PNG, JPEG and BMP are CORRUPT_DATA naming the file', () => {
  const g = pattern(3, 20);
  const p = png(g);
  assertUserError(
    () => decodeImage(p.subarray(0, p.length - 30), '/data/cut.png'),
    'CORRUPT_DATA',
    '/data/cut.png',
  );
  assertUserError(
    () => decodeImage(p.subarray(0, 20), '/data/head.png'),
    'CORRUPT_DATA',
    '/data/head.png',
  );
  const j = jpg(rgb(32, 32, (x, y) => [x * 8, y * 8, 0]));
  assertUserError(
    () => decodeImage(j.subarray(0, Math.floor(j.length / 2)), '/data/cut.jpg'),
    'CORRUPT_DATA',
    '/data/cut.jpg',
  );
  const b = encodeBmp(g);
  assertUserError(
    () => decodeImage(b.subarray(0, b.length - 10), '/data/cut.bmp'),
    'CORRUPT_DATA',
    '/data/cut.bmp',
  );
});

/** A BMP with a custom header, for depths encodeBmp does not write. */
function bmp(opts: {
  width: number;
  height: number;
  bpp: number;
  compression?: number;
  palette?: number[][];
  pixels: Uint8Array;
  masks?: number[];
}): Uint8Array {
  const { width, height, bpp } = opts;
  const palette = opts.palette ?? [];
  const maskBytes = opts.masks ? 12 : 0;
  const offset = 14 + 40 + maskBytes + palette.length * 4;
  const out = new Uint8Array(offset + opts.pixels.length);
  const v = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, offset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bpp, true);
  v.setUint32(30, opts.compression ?? 0, true);
  v.setUint32(46, palette.length, true);
  opts.masks?.forEach((m, i) => v.setUint32(54 + i * 4, m, true));
  palette.forEach((c, i) => out.set([c[2] ?? 0, c[1] ?? 0, c[0] ?? 0, 0], 54 + maskBytes + i * 4));
  out.set(opts.pixels, offset);
  return out;
}

test('BMP: 8-bit gray and 24-bit round-trip through the writer', () => {
  const g = pattern(4, 7);
  assert.deepEqual(decodeBmp(encodeBmp(g), 'g.bmp'), g);
  const c = rgb(5, 3, (x, y) => [x * 50, y * 80, 7]);
  assert.deepEqual(decodeBmp(encodeBmp(c), 'c.bmp'), c);
});

test('BMP: 1-bit, 4-bit, 32-bit, bit fields and top-down', () => {
  // 1-bit, 3×2 bottom-up, rows padded to 4 bytes: bottom row 101, top row 010.
  const one = decodeBmp(
    bmp({
      width: 3,
      height: 2,
      bpp: 1,
      palette: [
        [0, 0, 0],
        [255, 255, 255],
      ],
      pixels: Uint8Array.from([0b10100000, 0, 0, 0, 0b01000000, 0, 0, 0]),
    }),
    'one.bmp',
  );
  assert.equal(one.channels, 1);
  assert.deepEqual([...one.data], [0, 255, 0, 255, 0, 255]);
  // 4-bit colour palette, 2×1
  const four = decodeBmp(
    bmp({
      width: 2,
      height: 1,
      bpp: 4,
      palette: [
        [10, 20, 30],
        [200, 0, 0],
      ],
      pixels: Uint8Array.from([0x10, 0, 0, 0]),
    }),
    'four.bmp',
  );
  assert.equal(four.channels, 3);
  assert.deepEqual([...four.data], [200, 0, 0, 10, 20, 30]);
  // 32-bit BGRX, top-down (negative height)
  const px = Uint8Array.from([3, 2, 1, 0, 30, 20, 10, 0]);
  const top = decodeBmp(bmp({ width: 1, height: -2, bpp: 32, pixels: px }), 'top.bmp');
  assert.deepEqual([...top.data], [1, 2, 3, 10, 20, 30]);
  // 16-bit 5-6-5 bit fields: pure red and pure green
  const p16 = new Uint8Array(4);
  new DataView(p16.buffer).setUint16(0, 0xf800, true);
  new DataView(p16.buffer).setUint16(2, 0x07e0, true);
  const f = decodeBmp(
    bmp({
      width: 2,
      height: 1,
      bpp: 16,
      compression: 3,
      masks: [0xf800, 0x07e0, 0x001f],
      pixels: p16,
    }),
    'f.bmp',
  );
  assert.deepEqual([...f.data], [255, 0, 0, 0, 255, 0]);
});

test('RLE BMP is reported as unsupported in plain words', () => {
  const rle = bmp({
    width: 2,
    height: 1,
    bpp: 8,
    compression: 1,
    palette: [[0, 0, 0]],
    pixels: Uint8Array.from([2, 0, 0, 1]),
  });
  assertUserError(() => decodeImage(rle, 'scan.bmp'), 'UNSUPPORTED', 'RLE8');
});

test('an image claiming a huge size is refused before decoding', () => {
  const huge = rawPng({ width: 1, height: 1, colorType: 0, bitDepth: 8, rows: new Uint8Array(1) });
  new DataView(huge.buffer).setUint32(16, 100000); // width in IHDR
  new DataView(huge.buffer).setUint32(20, 100000);
  assertUserError(() => decodeImage(huge, 'bomb.png'), 'UNSUPPORTED', 'bomb.png');
  assert.ok(gray(1, 1, () => 0));
});

test('fast PNG path equals the source for every filter and colour type, incl. split IDAT', () => {
  const w = 13;
  const h = 9;
  for (const [colorType, channels] of [
    [0, 1],
    [2, 3],
    [4, 2],
    [6, 4],
  ] as const) {
    const data = Buffer.from(
      Uint8Array.from({ length: w * h * channels }, (_, i) => (i * 97 + ((i * i) % 251)) & 255),
    );
    if (channels % 2 === 0)
      for (let i = channels - 1; i < data.length; i += channels * 2) data[i] = 255;
    const expected = new Uint8Array(w * h * (channels >= 3 ? 3 : 1));
    const outC = channels >= 3 ? 3 : 1;
    for (let p = 0; p < w * h; p++) {
      const a = channels % 2 === 0 ? (data[p * channels + channels - 1] ?? 0) : 255;
      for (let c = 0; c < outC; c++)
        expected[p * outC + c] = Math.round(((data[p * channels + c] ?? 0) * a) / 255);
    }
    for (const filterType of [0, 1, 2, 3, 4, -1]) {
      const img = new PNG({ width: w, height: h });
      img.data = data;
      const bytes = new Uint8Array(
        PNG.sync.write(img, {
          colorType,
          inputColorType: colorType,
          inputHasAlpha: channels % 2 === 0,
          filterType,
        }),
      );
      const fast = decodePngFast(bytes);
      assert.ok(fast, `fast path declined colorType ${colorType}`);
      assert.deepEqual(fast.data, expected, `colorType ${colorType} filter ${filterType}`);
      assert.deepEqual(decodeImage(bytes, 'x.png').data, expected);
    }
  }
  // Two IDAT chunks: split the one IDAT of a gray PNG.
  const g = pattern(8, 10);
  const one = png(g);
  const at = 33; // after signature and IHDR
  const len = new DataView(one.buffer, one.byteOffset).getUint32(at);
  const body = one.subarray(at + 8, at + 8 + len);
  const half = Math.floor(len / 2);
  const mk = (d: Uint8Array): Uint8Array => rawChunk('IDAT', d);
  const two = Uint8Array.from([
    ...one.subarray(0, at),
    ...mk(body.subarray(0, half)),
    ...mk(body.subarray(half)),
    ...one.subarray(at + 12 + len),
  ]);
  assert.deepEqual(decodePngFast(two)?.data, g.data);
  // Truncated or with a damaged checksum: the fast path declines, the full decoder reports.
  assert.equal(decodePngFast(one.subarray(0, one.length - 20)), undefined);
  const flipped = Uint8Array.from(one);
  flipped[at + 8 + len - 1] = (flipped[at + 8 + len - 1] ?? 0) ^ 1; // last adler32 byte
  assert.equal(decodePngFast(flipped), undefined);
  assert.throws(() => decodeImage(flipped, 'flip.png'), /flip\.png/);
});

function rawChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  return out; // CRC left 0: neither decoder path here checks it
}

test('a one-component (grayscale) JPEG decodes to one channel', (t) => {
  // jpeg-js writes only colour JPEGs; Debian's Pillow, when present, writes a grayscale one.
  let bytes: Uint8Array;
  try {
    const b64 = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        "import io,base64;from PIL import Image;b=io.BytesIO();Image.linear_gradient('L').resize((16,16)).save(b,'JPEG',quality=95);print(base64.b64encode(b.getvalue()).decode())",
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    bytes = Buffer.from(b64.trim(), 'base64');
  } catch {
    t.diagnostic('Pillow not available: grayscale JPEG not checked');
    return;
  }
  const out = decodeImage(bytes, 'gray.jpg');
  assert.equal(out.channels, 1);
  assert.equal(out.data.length, 256);
  assert.ok((out.data[255] ?? 0) > (out.data[0] ?? 0) + 150);
});
