import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UserError } from '../contract/errors';
import { decodeBmp } from './decode-bmp';
import { decodePngFast } from './decode-png-fast';
import { MAX_IMAGE_PIXELS } from './limits';
import type { DecodedImage } from './types';

/** Image formats recognised by their first bytes. Only png, jpeg and bmp are decoded. */
export type ImageFormat =
  'png' | 'jpeg' | 'bmp' | 'gif' | 'tiff' | 'webp' | 'dicom' | 'heic' | 'jpeg2000';

/** Formats that are recognised but not decoded, with their plain names. */
const UNSUPPORTED_NAMES: Partial<Record<ImageFormat, string>> = {
  gif: 'GIF',
  tiff: 'TIFF',
  webp: 'WebP',
  dicom: 'DICOM',
  heic: 'HEIC/HEIF',
  jpeg2000: 'JPEG 2000',
};

function startsWith(bytes: Uint8Array, sig: number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** Recognises an image format from its magic bytes (never from the file name); undefined if none. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 26) {
    // "BM" also starts some text files: check that the DIB header size is a BMP one.
    const dib = (bytes[14] ?? 0) | ((bytes[15] ?? 0) << 8) | ((bytes[16] ?? 0) << 16);
    if ([12, 40, 52, 56, 64, 108, 124].includes(dib)) return 'bmp';
  }
  if (startsWith(bytes, ascii('GIF8'))) return 'gif';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return 'tiff';
  }
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, ascii('DICM'), 128)) return 'dicom';
  if (startsWith(bytes, ascii('ftyp'), 4)) {
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    if (['heic', 'heix', 'mif1', 'msf1', 'heim', 'heis', 'avif'].includes(brand)) return 'heic';
  }
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])) return 'jpeg2000';
  return undefined;
}

function tooLarge(where: string, width: number, height: number): UserError {
  return new UserError(
    'UNSUPPORTED',
    `${where} is ${width}×${height} pixels, larger than DP² Studio reads (${MAX_IMAGE_PIXELS / 1024 / 1024} megapixels). Reduce the image first.`,
  );
}

function corrupt(where: string, format: string, detail: string): UserError {
  return new UserError(
    'CORRUPT_DATA',
    `${where} looks like a ${format} image but cannot be read (${detail}); it may be truncated or damaged. Re-export it or remove it, then import again.`,
  );
}

/** Flattens interleaved RGBA onto black and keeps 1 (gray) or 3 (RGB) channels. */
function fromRgba(
  rgba: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  alpha: boolean,
): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n * channels);
  if (channels === 1) {
    if (alpha) {
      for (let i = 0, j = 0; i < n; i++, j += 4) {
        out[i] = Math.round(((rgba[j] ?? 0) * (rgba[j + 3] ?? 0)) / 255);
      }
    } else {
      for (let i = 0, j = 0; i < n; i++, j += 4) out[i] = rgba[j] ?? 0;
    }
  } else {
    for (let i = 0, j = 0, o = 0; i < n; i++, j += 4, o += 3) {
      const a = alpha ? (rgba[j + 3] ?? 0) : 255;
      if (a === 255) {
        out[o] = rgba[j] ?? 0;
        out[o + 1] = rgba[j + 1] ?? 0;
        out[o + 2] = rgba[j + 2] ?? 0;
      } else {
        out[o] = Math.round(((rgba[j] ?? 0) * a) / 255);
        out[o + 1] = Math.round(((rgba[j + 1] ?? 0) * a) / 255);
        out[o + 2] = Math.round(((rgba[j + 2] ?? 0) * a) / 255);
      }
    }
  }
  return out;
}

const u32be = (b: Uint8Array, at: number): number =>
  (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>>
  0;

/** Reads the PNG header chunks: size, colour type and whether a palette is all gray. */
function pngHeader(
  bytes: Uint8Array,
  where: string,
): { width: number; height: number; colorType: number; grayPalette: boolean } {
  if (bytes.length < 33 || !startsWith(bytes, ascii('IHDR'), 12)) {
    throw corrupt(where, 'PNG', 'its header is missing');
  }
  const width = u32be(bytes, 16);
  const height = u32be(bytes, 20);
  const colorType = bytes[25] ?? 0;
  let grayPalette = false;
  if (colorType === 3) {
    let at = 8;
    while (at + 8 <= bytes.length) {
      const len = u32be(bytes, at);
      const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
      if (type === 'PLTE') {
        grayPalette = true;
        for (let i = at + 8; i + 2 < at + 8 + len && i + 2 < bytes.length; i += 3) {
          if (bytes[i] !== bytes[i + 1] || bytes[i + 1] !== bytes[i + 2]) grayPalette = false;
        }
        break;
      }
      if (type === 'IDAT' || type === 'IEND') break;
      at += 12 + len;
    }
  }
  return { width, height, colorType, grayPalette };
}

function decodePng(bytes: Uint8Array, where: string): DecodedImage {
  const head = pngHeader(bytes, where);
  if (head.width * head.height > MAX_IMAGE_PIXELS) throw tooLarge(where, head.width, head.height);
  const fast = decodePngFast(bytes);
  if (fast) return fast;
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw corrupt(where, 'PNG', err instanceof Error ? err.message : String(err));
  }
  const { width, height } = png;
  if (png.data.length < width * height * 4) throw corrupt(where, 'PNG', 'its pixel data is short');
  const gray =
    head.colorType === 0 || head.colorType === 4 || (head.colorType === 3 && head.grayPalette);
  return {
    width,
    height,
    channels: gray ? 1 : 3,
    data: fromRgba(png.data, width, height, gray ? 1 : 3, png.alpha),
  };
}

/** Finds the JPEG frame header: size and number of colour components. */
function jpegFrame(
  bytes: Uint8Array,
  where: string,
): { width: number; height: number; components: number; at: number } {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw corrupt(where, 'JPEG', 'a marker is missing');
    const marker = bytes[at + 1] ?? 0;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const len = ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) {
      if (at + 10 > bytes.length) break;
      return {
        height: ((bytes[at + 5] ?? 0) << 8) | (bytes[at + 6] ?? 0),
        width: ((bytes[at + 7] ?? 0) << 8) | (bytes[at + 8] ?? 0),
        components: bytes[at + 9] ?? 0,
        at,
      };
    }
    if (marker === 0xda || marker === 0xd9) break;
    at += 2 + len;
  }
  throw corrupt(where, 'JPEG', 'its frame header is missing');
}

function decodeJpeg(bytes: Uint8Array, where: string): DecodedImage {
  const frame = jpegFrame(bytes, where);
  if (frame.width * frame.height > MAX_IMAGE_PIXELS)
    throw tooLarge(where, frame.width, frame.height);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
  } catch (err) {
    throw corrupt(where, 'JPEG', err instanceof Error ? err.message : String(err));
  }
  if (!hasEndMarker(bytes, frame.at))
    throw corrupt(where, 'JPEG', 'the end-of-image marker is missing');
  const n = img.width * img.height;
  if (frame.components !== 1)
    return { width: img.width, height: img.height, channels: 3, data: img.data };
  const gray = new Uint8Array(n);
  for (let i = 0; i < n; i++) gray[i] = img.data[i * 3] ?? 0;
  return { width: img.width, height: img.height, channels: 1, data: gray };
}

/** True when an end-of-image marker follows the frame header (a truncated file has none). */
function hasEndMarker(bytes: Uint8Array, from: number): boolean {
  for (let i = bytes.length - 2; i > from; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

/**
 * Decodes a PNG (1–16 bit; gray, RGB, palette, with or without alpha), JPEG
 * (baseline or progressive) or uncompressed BMP to 8-bit gray or RGB. The
 * format is recognised from the magic bytes, not the file name. Alpha is
 * flattened onto black. Unreadable or truncated files throw a UserError
 * (CORRUPT_DATA, or UNSUPPORTED for a recognised but unsupported format)
 * naming `where`.
 */
export function decodeImage(bytes: Uint8Array, where: string): DecodedImage {
  const format = detectImageFormat(bytes);
  switch (format) {
    case 'png':
      return decodePng(bytes, where);
    case 'jpeg':
      return decodeJpeg(bytes, where);
    case 'bmp':
      return decodeBmp(bytes, where);
    case undefined:
      throw new UserError(
        'CORRUPT_DATA',
        `${where} is not an image DP² Studio can read: its contents are not PNG, JPEG or BMP. Convert it to PNG or remove it.`,
      );
    default:
      throw new UserError(
        'UNSUPPORTED',
        `${where} is a ${UNSUPPORTED_NAMES[format] ?? format} image, which DP² Studio cannot read. Convert it to PNG, then import again.`,
      );
  }
}
