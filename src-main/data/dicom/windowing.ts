/**
 * From stored grey values to 8-bit display values, as a viewer does: sign
 * extension from Bits Stored, the Modality LUT (rescale slope/intercept or a
 * Modality LUT Sequence), then a VOI transform (window centre/width with its
 * function, a VOI LUT, the image's full range or the stored range), then
 * MONOCHROME1 inversion. All of it is folded into one table indexed by the
 * masked stored value, so the per-pixel work is a single lookup.
 */
import type { ImageHeader, Lut } from './header';

/** A VOI transform: modality value → display value in [0, 255] (not rounded). */
export type DisplayFn = (m: number) => number;

/** The grey attributes the table depends on. */
export interface GreyParams {
  bitsStored: number;
  signed: boolean;
  slope: number;
  intercept: number;
  modalityLut: Lut | undefined;
  invert: boolean;
}

export function greyParams(h: ImageHeader): GreyParams {
  return {
    bitsStored: h.bitsStored,
    signed: h.pixelRepresentation === 1,
    slope: h.rescaleSlope,
    intercept: h.rescaleIntercept,
    modalityLut: h.modalityLut,
    invert: h.photometric === 'MONOCHROME1',
  };
}

/** The smallest and largest stored values representable (sign applied). */
export function storedRange(p: GreyParams): [number, number] {
  const bits = p.bitsStored;
  return p.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

function lutFirst(lut: Lut, signed: boolean): number {
  return signed && lut.first >= 32768 ? lut.first - 65536 : lut.first;
}

/** Modality value of a stored value. */
export function modalityFn(p: GreyParams): (s: number) => number {
  const lut = p.modalityLut;
  if (lut) {
    const first = lutFirst(lut, p.signed);
    const last = lut.data.length - 1;
    return (s) => lut.data[Math.min(last, Math.max(0, s - first))] ?? 0;
  }
  const { slope, intercept } = p;
  return (s) => s * slope + intercept;
}

/** Window centre/width (PS3.3 C.11.2.1.2): LINEAR, LINEAR_EXACT or SIGMOID, onto [0, 255]. */
export function windowFn(center: number, width: number, fn: ImageHeader['voiFunction']): DisplayFn {
  if (fn === 'SIGMOID') return (x) => 255 / (1 + Math.exp((-4 * (x - center)) / width));
  if (fn === 'LINEAR_EXACT') {
    const lo = center - width / 2;
    const hi = center + width / 2;
    return (x) => (x <= lo ? 0 : x > hi ? 255 : ((x - center) / width + 0.5) * 255);
  }
  // LINEAR needs width ≥ 1; the centre is shifted by half a value.
  const w = Math.max(1, width);
  const lo = center - 0.5 - (w - 1) / 2;
  const hi = center - 0.5 + (w - 1) / 2;
  if (w === 1) return (x) => (x <= lo ? 0 : 255);
  return (x) => (x <= lo ? 0 : x > hi ? 255 : ((x - (center - 0.5)) / (w - 1) + 0.5) * 255);
}

/** A VOI LUT: entries clamp at both ends; output scaled from its bit depth to [0, 255]. */
export function voiLutFn(lut: Lut, signedInput: boolean): DisplayFn {
  const first = lutFirst(lut, signedInput);
  const last = lut.data.length - 1;
  // Some files declare 16 bits for a table whose values stay within 12: scale by the real range.
  let max = 0;
  for (const v of lut.data) if (v > max) max = v;
  const top = Math.min(2 ** Math.min(16, Math.max(1, lut.bits)) - 1, max > 0 ? max : 1);
  return (x) => {
    const i = Math.min(last, Math.max(0, Math.round(x) - first));
    return Math.min(255, ((lut.data[i] ?? 0) * 255) / top);
  };
}

/** Maps [lo, hi] linearly onto [0, 255] (the 'full' and 'stored' options). */
export function rangeFn(lo: number, hi: number): DisplayFn {
  if (hi <= lo) return () => 0;
  const span = hi - lo;
  // multiply first: (x − lo)·255/span keeps exact halves exact (127.5, not 127.4999…)
  return (x) => ((x - lo) * 255) / span;
}

/**
 * Fills `table[s & mask]` for the stored values s in [lo, hi] (sign applied):
 * modality transform, display function, rounding and inversion.
 */
export function fillGreyTable(
  table: Uint8Array,
  p: GreyParams,
  display: DisplayFn,
  lo: number,
  hi: number,
): void {
  const mask = 2 ** p.bitsStored - 1;
  const modality = modalityFn(p);
  const linear = !p.modalityLut;
  const { slope, intercept } = p;
  for (let s = lo; s <= hi; s++) {
    const m = linear ? s * slope + intercept : modality(s);
    let v = Math.round(display(m));
    v = v < 0 ? 0 : v > 255 ? 255 : v;
    table[s & mask] = p.invert ? 255 - v : v;
  }
}

/** The modality values' minimum and maximum over the stored values [lo, hi]. */
export function modalityRange(p: GreyParams, lo: number, hi: number): [number, number] {
  if (!p.modalityLut) {
    const a = lo * p.slope + p.intercept;
    const b = hi * p.slope + p.intercept;
    return a <= b ? [a, b] : [b, a];
  }
  const modality = modalityFn(p);
  let min = Infinity;
  let max = -Infinity;
  for (let s = lo; s <= hi; s++) {
    const m = modality(s);
    if (m < min) min = m;
    if (m > max) max = m;
  }
  return [min, max];
}
