/**
 * A small radix-2 fast Fourier transform for the PLD accountant: an in-place
 * iterative Cooley–Tukey transform on split real/imaginary arrays, and a real
 * transform that packs a length-n real signal into a length-n/2 complex one
 * (the standard "two for one" trick, e.g. Press et al., Numerical Recipes,
 * §12.3). Sizes are powers of two; twiddle factors and bit-reversal tables are
 * built once per size and cached.
 */

/** The smallest power of two that is at least `n` (and at least 1). */
export function nextPowerOfTwo(n: number): number {
  if (!(n >= 1)) return 1;
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

function requirePowerOfTwo(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || (n & (n - 1)) !== 0 || n > 2 ** 30) {
    throw new RangeError(`FFT size must be a power of two up to 2^30, got ${n}`);
  }
}

interface Plan {
  readonly n: number;
  /**
   * Twiddle factors stage by stage, contiguous: for the stage of half-size
   * h (h = 1, 2, 4, …, n/2) entries h − 1 … 2h − 2 hold cos and sin of 2πk/(2h),
   * k < h, computed directly (no recurrence drift).
   */
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  /** The bit-reversed index of every i < n. */
  readonly reversed: Uint32Array;
}

const plans = new Map<number, Plan>();
const PLAN_CACHE_SIZE = 6;

function planFor(n: number): Plan {
  const hit = plans.get(n);
  if (hit) return hit;
  requirePowerOfTwo(n);
  const cos = new Float64Array(Math.max(n - 1, 1));
  const sin = new Float64Array(Math.max(n - 1, 1));
  for (let h = 1; h < n; h *= 2) {
    for (let k = 0; k < h; k++) {
      const angle = (Math.PI * k) / h;
      cos[h - 1 + k] = Math.cos(angle);
      sin[h - 1 + k] = Math.sin(angle);
    }
  }
  const reversed = new Uint32Array(n);
  let bits = 0;
  while (1 << bits < n) bits++;
  for (let i = 1; i < n; i++) {
    reversed[i] = ((reversed[i >>> 1] as number) >>> 1) | ((i & 1) << (bits - 1));
  }
  const plan = { n, cos, sin, reversed };
  if (plans.size >= PLAN_CACHE_SIZE) {
    const oldest = plans.keys().next().value;
    if (oldest !== undefined) plans.delete(oldest);
  }
  plans.set(n, plan);
  return plan;
}

const roots = new Map<number, { cos: Float64Array; sin: Float64Array }>();

/** cos and sin of 2πk/n for k < n/2, computed directly and cached per n. */
function unitRoots(n: number): { cos: Float64Array; sin: Float64Array } {
  const hit = roots.get(n);
  if (hit) return hit;
  const half = Math.max(n >>> 1, 1);
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    const angle = (2 * Math.PI * k) / n;
    cos[k] = Math.cos(angle);
    sin[k] = Math.sin(angle);
  }
  const table = { cos, sin };
  if (roots.size >= PLAN_CACHE_SIZE) {
    const oldest = roots.keys().next().value;
    if (oldest !== undefined) roots.delete(oldest);
  }
  roots.set(n, table);
  return table;
}

/**
 * In-place complex DFT of (`re`, `im`), both of length n (a power of two):
 * X_k = Σ_j x_j·e^{∓2πi·jk/n}, the minus sign for `inverse = false`. The
 * inverse transform is unnormalised (divide by n yourself).
 */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError('FFT: real and imaginary parts differ in length');
  if (n <= 1) return;
  const { cos, sin, reversed } = planFor(n);
  for (let i = 0; i < n; i++) {
    const j = reversed[i] as number;
    if (j > i) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  // Stage of half-size 1: twiddle 1.
  for (let a = 0; a < n; a += 2) {
    const br = re[a + 1] as number;
    const bi = im[a + 1] as number;
    const ar = re[a] as number;
    const ai = im[a] as number;
    re[a + 1] = ar - br;
    im[a + 1] = ai - bi;
    re[a] = ar + br;
    im[a] = ai + bi;
  }
  const sign = inverse ? 1 : -1;
  for (let halfSize = 2; halfSize < n; halfSize *= 2) {
    const size = 2 * halfSize;
    const base = halfSize - 1;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < halfSize; k++) {
        const wr = cos[base + k] as number;
        const wi = sign * (sin[base + k] as number);
        const a = start + k;
        const b = a + halfSize;
        const br = re[b] as number;
        const bi = im[b] as number;
        const xr = br * wr - bi * wi;
        const xi = br * wi + bi * wr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[b] = ar - xr;
        im[b] = ai - xi;
        re[a] = ar + xr;
        im[a] = ai + xi;
      }
    }
  }
}

/** The half spectrum of a real signal: X_k for k = 0 … n/2 (the rest is conjugate-symmetric). */
export interface HalfSpectrum {
  /** The signal length n (a power of two, at least 2). */
  readonly n: number;
  /** Real parts, length n/2 + 1. */
  readonly re: Float64Array;
  /** Imaginary parts, length n/2 + 1. */
  readonly im: Float64Array;
}

/**
 * DFT of the real signal `x` zero-padded (or required to fit) to length `n`
 * (a power of two, n ≥ 2, n ≥ x.length), as its half spectrum X_0 … X_{n/2}.
 * Costs one complex FFT of size n/2.
 */
export function realFft(x: Float64Array, n: number): HalfSpectrum {
  requirePowerOfTwo(n);
  if (n < 2) throw new RangeError('realFft needs n ≥ 2');
  if (x.length > n) throw new RangeError(`realFft: signal of length ${x.length} exceeds n = ${n}`);
  const m = n >>> 1;
  // Pack even samples into the real part, odd samples into the imaginary part.
  const zr = new Float64Array(m);
  const zi = new Float64Array(m);
  const pairs = x.length >>> 1;
  for (let j = 0; j < pairs; j++) {
    zr[j] = x[2 * j] as number;
    zi[j] = x[2 * j + 1] as number;
  }
  if (x.length & 1) zr[pairs] = x[x.length - 1] as number;
  fftInPlace(zr, zi, false);
  const { cos, sin } = unitRoots(n);
  const re = new Float64Array(m + 1);
  const im = new Float64Array(m + 1);
  // Unpack: with Z_k the packed transform, E_k = (Z_k + conj Z_{m−k})/2 and
  // O_k = (Z_k − conj Z_{m−k})/(2i) are the transforms of the even and odd
  // samples, and X_k = E_k + e^{−2πik/n}·O_k.
  for (let k = 0; k <= m; k++) {
    const a = k % m;
    const b = (m - k) % m;
    const zkr = zr[a] as number;
    const zki = zi[a] as number;
    const zcr = zr[b] as number;
    const zci = -(zi[b] as number);
    const er = 0.5 * (zkr + zcr);
    const ei = 0.5 * (zki + zci);
    const or = 0.5 * (zki - zci);
    const oi = -0.5 * (zkr - zcr);
    const wr = k < m ? (cos[k] as number) : -1;
    const wi = k < m ? -(sin[k] as number) : 0;
    re[k] = er + (wr * or - wi * oi);
    im[k] = ei + (wr * oi + wi * or);
  }
  return { n, re, im };
}

/**
 * The real signal of length n whose half spectrum is (`re`, `im`) (length
 * n/2 + 1): the normalised inverse of {@link realFft}. The imaginary parts of
 * X_0 and X_{n/2} are ignored (they are 0 for a real signal). Costs one
 * complex FFT of size n/2.
 */
export function inverseRealFft(spectrum: HalfSpectrum): Float64Array {
  const { n, re, im } = spectrum;
  requirePowerOfTwo(n);
  const m = n >>> 1;
  if (re.length !== m + 1 || im.length !== m + 1) {
    throw new RangeError('inverseRealFft: spectrum length must be n/2 + 1');
  }
  const { cos, sin } = unitRoots(n);
  const zr = new Float64Array(m);
  const zi = new Float64Array(m);
  // Rebuild Z_k = E_k + i·O_k from X_k and X_{m−k}: E_k = (X_k + conj X_{m−k})/2,
  // O_k = (X_k − conj X_{m−k})·e^{+2πik/n}/2.
  for (let k = 0; k < m; k++) {
    const xr = re[k] as number;
    const xi = k === 0 ? 0 : (im[k] as number);
    const yr = re[m - k] as number;
    const yi = m - k === m ? 0 : -(im[m - k] as number);
    const er = 0.5 * (xr + yr);
    const ei = 0.5 * (xi + yi);
    const dr = 0.5 * (xr - yr);
    const di = 0.5 * (xi - yi);
    const wr = cos[k] as number;
    const wi = sin[k] as number;
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    zr[k] = er - oi;
    zi[k] = ei + or;
  }
  fftInPlace(zr, zi, true);
  const out = new Float64Array(n);
  const scale = 1 / m;
  for (let j = 0; j < m; j++) {
    out[2 * j] = (zr[j] as number) * scale;
    out[2 * j + 1] = (zi[j] as number) * scale;
  }
  return out;
}
