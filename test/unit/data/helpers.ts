// Shared fixtures for the data-layer tests: real files in temporary folders, made on the fly.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { encodePng } from '../../../src-main/data/png';
import type { DecodedImage, Preprocessing } from '../../../src-main/data/types';

/** Default preprocessing of the tests. */
export const PRE: Preprocessing = { size: 28, channels: 1, testFraction: 0.25, splitSeed: 7 };

/** A fresh temporary folder, removed after the test. */
export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dp2-data-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A gray image whose pixel (x, y) is fn(x, y). */
export function gray(
  width: number,
  height: number,
  fn: (x: number, y: number) => number,
): DecodedImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = fn(x, y);
  return { width, height, channels: 1, data };
}

/** An RGB image whose pixel (x, y) is fn(x, y) = [r, g, b]. */
export function rgb(
  width: number,
  height: number,
  fn: (x: number, y: number) => [number, number, number],
): DecodedImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(fn(x, y), (y * width + x) * 3);
  }
  return { width, height, channels: 3, data };
}

/** A distinct gray test pattern per seed (so images are not duplicates). */
export function pattern(seed: number, size = 28): DecodedImage {
  return gray(
    size,
    size,
    (x, y) => (x * 7 + y * 13 + seed * 31 + ((x * y * (seed + 3)) % 17)) & 255,
  );
}

/** PNG bytes of an image (pngjs). */
export function png(img: DecodedImage): Uint8Array {
  return encodePng(img);
}

/** JPEG bytes of an image (jpeg-js encoder; gray is written as RGB). */
export function jpg(img: DecodedImage, quality = 95): Uint8Array {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    for (let c = 0; c < 3; c++)
      rgba[i * 4 + c] = img.data[i * img.channels + (img.channels === 3 ? c : 0)] ?? 0;
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(
    jpeg.encode({ width: img.width, height: img.height, data: rgba }, quality).data,
  );
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A minimal PNG writer for what pngjs cannot write: palette images, bit
 * depths below 8, 16-bit. `rows` are the packed scanlines without filter bytes.
 */
export function rawPng(opts: {
  width: number;
  height: number;
  colorType: number;
  bitDepth: number;
  rows: Uint8Array;
  palette?: [number, number, number][];
  trns?: Uint8Array;
}): Uint8Array {
  const { width, height, colorType, bitDepth, rows } = opts;
  const rowBytes = rows.length / height;
  const filtered = new Uint8Array(height * (rowBytes + 1));
  for (let y = 0; y < height; y++)
    filtered.set(rows.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
  ];
  if (opts.palette) parts.push(chunk('PLTE', Uint8Array.from(opts.palette.flat())));
  if (opts.trns) parts.push(chunk('tRNS', opts.trns));
  parts.push(chunk('IDAT', deflateSync(filtered)), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes files given as { 'relative/path': bytes | text } under root. */
export async function writeTree(
  root: string,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

/** A good class folder: `perClass` distinct 28×28 PNGs in each named class. */
export function classFolderFiles(
  classes: string[],
  perClass: number,
  size = 28,
): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  classes.forEach((c, ci) => {
    for (let i = 0; i < perClass; i++) files[`${c}/img${i}.png`] = png(pattern(ci * 100 + i, size));
  });
  return files;
}
