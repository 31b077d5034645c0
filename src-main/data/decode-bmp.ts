import { UserError } from '../contract/errors';
import { MAX_IMAGE_PIXELS } from './limits';
import type { DecodedImage } from './types';

/** A colour channel given by a bit mask (BI_BITFIELDS and 16-bit BMPs). */
interface Mask {
  mask: number;
  shift: number;
  max: number;
}

function makeMask(mask: number): Mask {
  const m = mask >>> 0;
  if (m === 0) return { mask: 0, shift: 0, max: 1 };
  let shift = 0;
  while (((m >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (shift + bits < 32 && ((m >>> (shift + bits)) & 1) === 1) bits++;
  return { mask: m, shift, max: bits >= 32 ? 0xffffffff : 2 ** bits - 1 };
}

function channel(px: number, m: Mask): number {
  if (m.mask === 0) return 0;
  const v = ((px & m.mask) >>> 0) >>> m.shift;
  return m.max === 255 ? v : Math.round((v * 255) / m.max);
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'RLE8',
  2: 'RLE4',
  4: 'JPEG',
  5: 'PNG',
};

/**
 * Decodes an uncompressed Windows BMP (1, 4, 8, 16, 24 or 32 bits per pixel,
 * including BI_BITFIELDS masks; bottom-up or top-down). Palette images whose
 * colours are all gray decode to one channel. RLE-compressed files are
 * reported as unsupported. `where` names the file in error messages.
 */
export function decodeBmp(bytes: Uint8Array, where: string): DecodedImage {
  const corrupt = (what: string): UserError =>
    new UserError(
      'CORRUPT_DATA',
      `${where} is not a readable BMP image: ${what}. Re-export it as PNG or BMP, or remove it.`,
    );
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d)
    throw corrupt('the header is missing');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const dibSize = view.getUint32(14, true);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  if (dibSize === 12) {
    width = view.getUint16(18, true);
    height = view.getUint16(20, true);
    bpp = view.getUint16(24, true);
    paletteEntrySize = 3;
  } else if (dibSize >= 40) {
    if (bytes.length < 14 + 40) throw corrupt('the header is truncated');
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    colorsUsed = view.getUint32(46, true);
  } else {
    throw corrupt(`its header has an unknown size (${dibSize} bytes)`);
  }
  const compressionName = COMPRESSION_NAMES[compression];
  if (compressionName !== undefined) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} is a ${compressionName}-compressed BMP, which DP² Studio cannot read. Save it as an uncompressed BMP or as PNG, then import again.`,
    );
  }
  if (compression !== 0 && compression !== 3 && compression !== 6) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} uses BMP compression type ${compression}, which DP² Studio cannot read. Save it as PNG, then import again.`,
    );
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw corrupt(`its size ${width}×${height} is not valid`);
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} is ${width}×${height} pixels, larger than DP² Studio reads (${MAX_IMAGE_PIXELS / 1024 / 1024} megapixels). Reduce the image first.`,
    );
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp))
    throw corrupt(`${bpp} bits per pixel is not a BMP depth`);

  // Colour masks for 16- and 32-bit images.
  let masks: [Mask, Mask, Mask] | undefined;
  if (bpp === 16 || bpp === 32) {
    if (compression === 3 || compression === 6) {
      const at = dibSize === 40 ? 54 : 14 + 40;
      if (bytes.length < at + 12) throw corrupt('its colour masks are truncated');
      masks = [
        makeMask(view.getUint32(at, true)),
        makeMask(view.getUint32(at + 4, true)),
        makeMask(view.getUint32(at + 8, true)),
      ];
    } else if (bpp === 16) {
      masks = [makeMask(0x7c00), makeMask(0x03e0), makeMask(0x001f)];
    } else {
      masks = [makeMask(0x00ff0000), makeMask(0x0000ff00), makeMask(0x000000ff)];
    }
  }

  // Palette for 1-, 4- and 8-bit images.
  let palette: Uint8Array | undefined;
  let grayPalette = true;
  if (bpp <= 8) {
    const entries = colorsUsed > 0 && colorsUsed <= 1 << bpp ? colorsUsed : 1 << bpp;
    let at = 14 + dibSize;
    if (compression === 3 && dibSize === 40) at += 12;
    if (at + entries * paletteEntrySize > bytes.length) throw corrupt('its palette is truncated');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < entries; i++) {
      const b = bytes[at + i * paletteEntrySize] ?? 0;
      const g = bytes[at + i * paletteEntrySize + 1] ?? 0;
      const r = bytes[at + i * paletteEntrySize + 2] ?? 0;
      palette[i * 3] = r;
      palette[i * 3 + 1] = g;
      palette[i * 3 + 2] = b;
      if (r !== g || g !== b) grayPalette = false;
    }
  }

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    throw corrupt(
      `it is truncated (the pixels need ${dataOffset + stride * height} bytes, the file has ${bytes.length})`,
    );
  }
  const channels: 1 | 3 = palette && grayPalette ? 1 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let row = 0; row < height; row++) {
    const src = dataOffset + (topDown ? row : height - 1 - row) * stride;
    let o = row * width * channels;
    if (palette) {
      const perByte = 8 / bpp;
      const valueMask = (1 << bpp) - 1;
      for (let x = 0; x < width; x++) {
        const byte = bytes[src + Math.floor(x / perByte)] ?? 0;
        const shift = 8 - bpp * ((x % perByte) + 1);
        const idx = (byte >> shift) & valueMask;
        if (channels === 1) {
          out[o++] = palette[idx * 3] ?? 0;
        } else {
          out[o++] = palette[idx * 3] ?? 0;
          out[o++] = palette[idx * 3 + 1] ?? 0;
          out[o++] = palette[idx * 3 + 2] ?? 0;
        }
      }
    } else if (bpp === 24) {
      for (let x = 0; x < width; x++) {
        const p = src + x * 3;
        out[o++] = bytes[p + 2] ?? 0;
        out[o++] = bytes[p + 1] ?? 0;
        out[o++] = bytes[p] ?? 0;
      }
    } else if (masks) {
      const [mr, mg, mb] = masks;
      for (let x = 0; x < width; x++) {
        const px =
          bpp === 16 ? view.getUint16(src + x * 2, true) : view.getUint32(src + x * 4, true);
        out[o++] = channel(px, mr);
        out[o++] = channel(px, mg);
        out[o++] = channel(px, mb);
      }
    }
  }
  return { width, height, channels, data: out };
}

/**
 * Encodes an image as an uncompressed BMP: 8-bit with a gray palette for one
 * channel, 24-bit for three. Used for tests and small exports.
 */
export function encodeBmp(image: DecodedImage): Uint8Array {
  const { width, height, channels, data } = image;
  const bpp = channels === 1 ? 8 : 24;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const paletteBytes = channels === 1 ? 256 * 4 : 0;
  const offset = 14 + 40 + paletteBytes;
  const size = offset + stride * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, offset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bpp, true);
  view.setUint32(34, stride * height, true);
  if (channels === 1) {
    view.setUint32(46, 256, true);
    for (let i = 0; i < 256; i++) {
      out[54 + i * 4] = i;
      out[54 + i * 4 + 1] = i;
      out[54 + i * 4 + 2] = i;
    }
  }
  for (let row = 0; row < height; row++) {
    const dst = offset + (height - 1 - row) * stride;
    for (let x = 0; x < width; x++) {
      const s = (row * width + x) * channels;
      if (channels === 1) {
        out[dst + x] = data[s] ?? 0;
      } else {
        out[dst + x * 3] = data[s + 2] ?? 0;
        out[dst + x * 3 + 1] = data[s + 1] ?? 0;
        out[dst + x * 3 + 2] = data[s] ?? 0;
      }
    }
  }
  return out;
}
