import { unzlibSync } from 'fflate';
import type { DecodedImage } from './types';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

const u32 = (b: Uint8Array, at: number): number =>
  (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>>
  0;

/** Adler-32 of the inflated data (the zlib checksum, which fflate does not verify). */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = data.length;
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + 5552);
    for (; i < end; i++) {
      a += data[i] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** Chunk type as a 32-bit number, e.g. IDAT = 0x49444154. */
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
const TRNS = 0x74524e53;

/**
 * Decodes the common PNG case quickly: 8-bit, not interlaced, gray, RGB, gray
 * + alpha or RGBA, without a tRNS chunk (alpha flattened onto black). Returns
 * undefined for anything else — other depths, palettes, interlacing, and any
 * file that looks damaged (the zlib checksum is verified) — so the caller falls back to the full decoder
 * (pngjs), which also words the error. Skipping pngjs's general machinery
 * (RGBA expansion, stream objects) halves the cost of a small image.
 */
export function decodePngFast(bytes: Uint8Array): DecodedImage | undefined {
  if (bytes.length < 33 || u32(bytes, 12) !== IHDR) return undefined;
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  const depth = bytes[24];
  const colorType = bytes[25] ?? 0;
  const interlace = bytes[28];
  const inChannels = CHANNELS[colorType];
  if (depth !== 8 || interlace !== 0 || inChannels === undefined || width === 0 || height === 0) {
    return undefined;
  }
  // Collect the IDAT chunks; stop at IEND. Any oddity → undefined.
  const parts: Uint8Array[] = [];
  let total = 0;
  let at = 8;
  let ended = false;
  while (at + 12 <= bytes.length) {
    const len = u32(bytes, at);
    const type = u32(bytes, at + 4);
    if (at + 12 + len > bytes.length) return undefined;
    if (type === IDAT) {
      parts.push(bytes.subarray(at + 8, at + 8 + len));
      total += len;
    } else if (type === TRNS) {
      return undefined;
    } else if (type === IEND) {
      ended = true;
      break;
    }
    at += 12 + len;
  }
  if (!ended || parts.length === 0) return undefined;
  let idat: Uint8Array;
  if (parts.length === 1 && parts[0]) {
    idat = parts[0];
  } else {
    idat = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      idat.set(p, o);
      o += p.length;
    }
  }
  const stride = width * inChannels;
  const expected = height * (stride + 1);
  let raw: Uint8Array;
  try {
    raw = unzlibSync(idat, { out: new Uint8Array(expected) });
  } catch {
    return undefined;
  }
  if (raw.length !== expected || idat.length < 4 || adler32(raw) !== u32(idat, idat.length - 4)) {
    return undefined;
  }

  // Undo the per-row filters into `pix` (height × stride).
  const pix = new Uint8Array(height * stride);
  const bpp = inChannels;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const prev = dst - stride;
    switch (filter) {
      case 0:
        pix.set(raw.subarray(src, src + stride), dst);
        break;
      case 1:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? (pix[dst + i - bpp] ?? 0) : 0;
          pix[dst + i] = ((raw[src + i] ?? 0) + left) & 255;
        }
        break;
      case 2:
        for (let i = 0; i < stride; i++) {
          const up = y > 0 ? (pix[prev + i] ?? 0) : 0;
          pix[dst + i] = ((raw[src + i] ?? 0) + up) & 255;
        }
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? (pix[dst + i - bpp] ?? 0) : 0;
          const up = y > 0 ? (pix[prev + i] ?? 0) : 0;
          pix[dst + i] = ((raw[src + i] ?? 0) + ((left + up) >> 1)) & 255;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? (pix[dst + i - bpp] ?? 0) : 0;
          const b = y > 0 ? (pix[prev + i] ?? 0) : 0;
          const c = i >= bpp && y > 0 ? (pix[prev + i - bpp] ?? 0) : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          pix[dst + i] = ((raw[src + i] ?? 0) + pred) & 255;
        }
        break;
      default:
        return undefined;
    }
  }
  if (inChannels === 1 || inChannels === 3) {
    return { width, height, channels: inChannels, data: pix };
  }
  // Gray + alpha or RGBA: flatten onto black.
  const outChannels = inChannels === 2 ? 1 : 3;
  const n = width * height;
  const out = new Uint8Array(n * outChannels);
  for (let i = 0; i < n; i++) {
    const alpha = pix[i * inChannels + inChannels - 1] ?? 0;
    for (let c = 0; c < outChannels; c++) {
      const v = pix[i * inChannels + c] ?? 0;
      out[i * outChannels + c] = alpha === 255 ? v : Math.round((v * alpha) / 255);
    }
  }
  return { width, height, channels: outChannels, data: out };
}
