/**
 * One frame's samples to 8-bit display pixels: grey through a stored-value
 * table (windowing.ts), colour by planar configuration, YBR → RGB and the
 * palette.
 */
import type { ImageHeader, Lut } from './header';
import {
  fillGreyTable,
  greyParams,
  modalityRange,
  rangeFn,
  storedRange,
  voiLutFn,
  windowFn,
  type DisplayFn,
  type GreyParams,
} from './windowing';

/** How grey values are brought to 8 bits (see DicomWindowing in index.ts). */
export type Windowing = 'file' | 'full' | 'stored';

/** Raw stored samples of one frame: the bits as stored, sign not applied. */
export type RawSamples = Uint8Array | Uint16Array | Uint32Array;

/** Maps the grey frames of one file to 8 bits; the table is built once per file unless the window is per image. */
export class GreyMapper {
  private readonly params: GreyParams;
  private readonly mask: number;
  private readonly signBit: number;
  private readonly perImage: boolean;
  private readonly display: DisplayFn | undefined;
  private readonly table: Uint8Array | undefined;

  constructor(h: ImageHeader, windowing: Windowing) {
    const base = greyParams(h);
    // 'stored' shows the stored values themselves: no modality transform.
    this.params =
      windowing === 'stored' ? { ...base, slope: 1, intercept: 0, modalityLut: undefined } : base;
    this.mask = 2 ** h.bitsStored - 1;
    this.signBit = this.params.signed ? 2 ** (h.bitsStored - 1) : 0;
    let display: DisplayFn | undefined;
    if (windowing === 'stored') {
      const [lo, hi] = storedRange(this.params);
      display = rangeFn(lo, hi);
    } else if (windowing === 'file') {
      if (h.windowCenter !== undefined && h.windowWidth !== undefined) {
        display = windowFn(h.windowCenter, h.windowWidth, h.voiFunction);
      } else if (h.voiLut) {
        display = voiLutFn(h.voiLut, base.signed || base.intercept < 0);
      }
    }
    this.display = display;
    this.perImage = display === undefined;
    if (h.bitsStored <= 16 && display) {
      this.table = new Uint8Array(this.mask + 1);
      const [lo, hi] = storedRange(this.params);
      fillGreyTable(this.table, this.params, display, lo, hi);
    } else if (h.bitsStored <= 16) {
      this.table = new Uint8Array(this.mask + 1);
    }
  }

  /** Maps one frame; `shift` drops the bits below the high bit's field (native data only). */
  map(raw: RawSamples, pixels: number, shift: number): Uint8Array {
    const { mask, signBit } = this;
    if (!this.table) return this.mapWide(raw, pixels, shift);
    const table = this.table;
    if (this.perImage) {
      // 'full': this image's stored range, then its modality range onto [0, 255].
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < pixels; i++) {
        const s = ((((raw[i] ?? 0) >>> shift) & mask) ^ signBit) - signBit;
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
      if (pixels === 0) return new Uint8Array(0);
      const [mlo, mhi] = modalityRange(this.params, lo, hi);
      fillGreyTable(table, this.params, rangeFn(mlo, mhi), lo, hi);
    }
    const out = new Uint8Array(pixels);
    if (shift === 0 && mask === 0xffff && raw instanceof Uint16Array) {
      for (let i = 0; i < pixels; i++) out[i] = table[raw[i] ?? 0] ?? 0;
    } else if (shift === 0) {
      for (let i = 0; i < pixels; i++) out[i] = table[(raw[i] ?? 0) & mask] ?? 0;
    } else {
      for (let i = 0; i < pixels; i++) out[i] = table[((raw[i] ?? 0) >>> shift) & mask] ?? 0;
    }
    return out;
  }

  /** Over 16 bits stored: no table; each value computed (rare: 32-bit images). */
  private mapWide(raw: RawSamples, pixels: number, shift: number): Uint8Array {
    const p = this.params;
    const bits = p.bitsStored;
    const value = (r: number): number => {
      const v = bits >= 32 ? r >>> shift : (r >>> shift) % 2 ** bits;
      const s = p.signed && v >= 2 ** (bits - 1) ? v - 2 ** bits : v;
      return s * p.slope + p.intercept;
    };
    let display = this.display;
    if (!display) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < pixels; i++) {
        const m = value(raw[i] ?? 0);
        if (m < lo) lo = m;
        if (m > hi) hi = m;
      }
      display = rangeFn(lo, hi);
    }
    const out = new Uint8Array(pixels);
    for (let i = 0; i < pixels; i++) {
      let v = Math.round(display(value(raw[i] ?? 0)));
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      out[i] = p.invert ? 255 - v : v;
    }
    return out;
  }
}

/** Brings colour samples (interleaved, or planes when `planar`) to 8-bit interleaved RGB. */
export function colourFrame(
  raw: RawSamples,
  pixels: number,
  options: { planar: boolean; bitsStored: number; ybr: boolean },
): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const shift = Math.max(0, options.bitsStored - 8);
  const mask = 2 ** Math.min(options.bitsStored, 32) - 1;
  if (options.planar) {
    for (let c = 0; c < 3; c++) {
      const base = c * pixels;
      for (let i = 0, o = c; i < pixels; i++, o += 3)
        out[o] = ((raw[base + i] ?? 0) & mask) >>> shift;
    }
  } else if (shift === 0 && raw instanceof Uint8Array) {
    out.set(raw.subarray(0, pixels * 3));
  } else {
    for (let i = 0; i < pixels * 3; i++) out[i] = ((raw[i] ?? 0) & mask) >>> shift;
  }
  if (options.ybr) ybrToRgb(out);
  return out;
}

/** YBR_FULL (JFIF-style YCbCr, full range) to RGB, in place. */
export function ybrToRgb(px: Uint8Array): void {
  for (let i = 0; i + 2 < px.length; i += 3) {
    const y = px[i] ?? 0;
    const cb = (px[i + 1] ?? 0) - 128;
    const cr = (px[i + 2] ?? 0) - 128;
    px[i] = clamp(y + 1.402 * cr);
    px[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp(y + 1.772 * cb);
  }
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/**
 * Expands YBR_FULL_422 (two luma samples then Cb, Cr for each pair of
 * pixels on a row) to interleaved YBR_FULL.
 */
export function expandYbr422(raw: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3);
  const rowBytes = columns * 2;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x += 2) {
      const at = y * rowBytes + x * 2;
      const cb = raw[at + 2] ?? 128;
      const cr = raw[at + 3] ?? 128;
      const o = (y * columns + x) * 3;
      out[o] = raw[at] ?? 0;
      out[o + 1] = cb;
      out[o + 2] = cr;
      if (x + 1 < columns) {
        out[o + 3] = raw[at + 1] ?? 0;
        out[o + 4] = cb;
        out[o + 5] = cr;
      }
    }
  }
  return out;
}

/** PALETTE COLOR: stored indexes through the red, green and blue tables to RGB. */
export function paletteFrame(
  raw: RawSamples,
  pixels: number,
  palette: { r: Lut; g: Lut; b: Lut },
  signed: boolean,
): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  const channels = [palette.r, palette.g, palette.b].map((lut) => {
    let max = 0;
    for (const v of lut.data) if (v > max) max = v;
    // 16-bit tables are scaled down; 8-bit ones (values ≤ 255) are used as they are.
    const shift = lut.bits === 16 && max > 255 ? 8 : 0;
    const first = signed && lut.first >= 32768 ? lut.first - 65536 : lut.first;
    return { data: lut.data, shift, first, last: lut.data.length - 1 };
  });
  for (let c = 0; c < 3; c++) {
    const { data, shift, first, last } = channels[c]!;
    for (let i = 0, o = c; i < pixels; i++, o += 3) {
      const idx = Math.min(last, Math.max(0, (raw[i] ?? 0) - first));
      out[o] = ((data[idx] ?? 0) >>> shift) & 0xff;
    }
  }
  return out;
}
