/**
 * Shared pieces of the procedural image families: random colour maps, a
 * radix-2 FFT (the spectral family and the tests' spectrum checks), and the
 * conversion of a float RGB canvas to the app's bytes.
 *
 * Every family renders one image into an RGB float canvas (size·size·3,
 * values in [0, 1], row-major HWC) from its own {@link SeededRng}; the index
 * turns canvases into grey or colour bytes. Nothing here reads a clock or
 * Math.random, so an image depends only on its seed.
 */
import type { SeededRng } from '../../engine/rng';

/** Uniform draw in [lo, hi). */
export function uniform(rng: SeededRng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.nextFloat();
}

/** One standard normal draw (Box–Muller, one of the pair). */
export function normal(rng: SeededRng): number {
  const u1 = 1 - rng.nextFloat();
  const u2 = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Least luminance difference between a colour map's darkest and lightest stop. */
const MIN_LUMA_SPAN = 0.35;

/**
 * A random colour map: `stops` colours at sorted random positions in [0, 1],
 * linearly interpolated. Stops are drawn uniformly in RGB, so maps range from
 * near-monochrome to garish, as the papers' random colour maps do.
 */
export class ColourMap {
  private readonly table: Float32Array;
  private static readonly STEPS = 256;

  constructor(rng: SeededRng, stops = 2 + rng.nextInt(5)) {
    const pos: number[] = [0, 1];
    for (let i = 2; i < stops; i++) pos.push(rng.nextFloat());
    pos.sort((a, b) => a - b);
    // Stops of nearly one luminance would make flat grey images (grey is the
    // luminance of colour), so a map must span some luminance; redraw if not.
    let cols: (readonly [number, number, number])[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      cols = pos.map(() => [rng.nextFloat(), rng.nextFloat(), rng.nextFloat()] as const);
      const lumas = cols.map(([r, g, b]) => 0.299 * r + 0.587 * g + 0.114 * b);
      if (Math.max(...lumas) - Math.min(...lumas) >= MIN_LUMA_SPAN) break;
    }
    // A lookup table keeps the per-pixel cost to one multiply and one index.
    const n = ColourMap.STEPS;
    this.table = new Float32Array(n * 3);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const t = i / (n - 1);
      while (k < pos.length - 2 && t > (pos[k + 1] as number)) k++;
      const p0 = pos[k] as number;
      const p1 = pos[k + 1] as number;
      const w = p1 > p0 ? (t - p0) / (p1 - p0) : 0;
      const c0 = cols[k] as readonly number[];
      const c1 = cols[k + 1] as readonly number[];
      for (let c = 0; c < 3; c++) {
        this.table[i * 3 + c] = (c0[c] as number) * (1 - w) + (c1[c] as number) * w;
      }
    }
  }

  /** Writes the colour of `t` (clamped to [0, 1]) at `out[at..at+2]`. */
  write(t: number, out: Float32Array, at: number): void {
    const i = Math.round((t <= 0 ? 0 : t >= 1 ? 1 : t) * (ColourMap.STEPS - 1)) * 3;
    out[at] = this.table[i] as number;
    out[at + 1] = this.table[i + 1] as number;
    out[at + 2] = this.table[i + 2] as number;
  }
}

/** Smallest power of two ≥ n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * In-place radix-2 complex FFT of `n` values at re/im[off + k·stride]
 * (n a power of two). `inverse` flips the sign of the exponent and does not
 * scale: callers that need the 1/n do it themselves.
 */
export function fft1d(
  re: Float64Array,
  im: Float64Array,
  n: number,
  off: number,
  stride: number,
  inverse: boolean,
): void {
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const a = off + i * stride;
      const b = off + j * stride;
      let t = re[a] as number;
      re[a] = re[b] as number;
      re[b] = t;
      t = im[a] as number;
      im[a] = im[b] as number;
      im[b] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len *= 2) {
    const ang = (sign * 2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const half = len / 2;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = off + (i + k) * stride;
        const b = a + half * stride;
        const br = re[b] as number;
        const bi = im[b] as number;
        const tr = br * cr - bi * ci;
        const ti = br * ci + bi * cr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[a] = ar + tr;
        im[a] = ai + ti;
        re[b] = ar - tr;
        im[b] = ai - ti;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}

/** In-place 2-D FFT of an n×n complex array (row-major; n a power of two). */
export function fft2d(re: Float64Array, im: Float64Array, n: number, inverse: boolean): void {
  for (let r = 0; r < n; r++) fft1d(re, im, n, r * n, 1, inverse);
  for (let c = 0; c < n; c++) fft1d(re, im, n, c, n, inverse);
}

/** Rescales `field` in place to mean 0 and standard deviation 1 (left as is when constant). */
export function standardise(field: Float64Array | Float32Array): void {
  const n = field.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += field[i] as number;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += ((field[i] as number) - mean) ** 2;
  const sd = Math.sqrt(v / n);
  const inv = sd > 1e-12 ? 1 / sd : 0;
  for (let i = 0; i < n; i++) field[i] = ((field[i] as number) - mean) * inv;
}

/**
 * Maps a standardised value to [0, 1] with a logistic approximation of the
 * normal CDF, so a colour map's whole range is used about evenly.
 */
export function toUnit(z: number): number {
  return 1 / (1 + Math.exp(-1.702 * z));
}
