/**
 * Seeded pseudo-random generator for everything that is NOT part of the
 * privacy mechanism: the data-independent partition of records into blocks,
 * parameter initialisation, the reparameterisation noise of the VAE, the
 * batch chosen inside a block and generation from a released decoder
 * (post-processing). Its state is four 32-bit words, so it can be saved in a
 * checkpoint and resumed exactly.
 *
 * Algorithm: xoshiro128** (Blackman and Vigna 2018), seeded with splitmix32.
 * The noise of the Gaussian mechanism and the block choice of Algorithm 2 use
 * `secure-noise.ts` (node:crypto) instead — never this generator.
 */

/** The four state words of a {@link SeededRng}; plain numbers so it serialises as JSON. */
export type RngState = [number, number, number, number];

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** One round of splitmix32 (Steele et al.), used to expand seeds into state words. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Mixes a list of non-negative integers (each below 2^53) into one 32-bit hash. */
export function mixSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const part of parts) {
    if (!Number.isSafeInteger(part) || part < 0) {
      throw new RangeError(`A seed must be a non-negative safe integer, not ${part}.`);
    }
    const lo = part >>> 0;
    const hi = Math.floor(part / TWO_POW_32) >>> 0;
    h = splitmix32((h ^ lo) >>> 0);
    h = splitmix32((h ^ hi ^ 0x5bd1e995) >>> 0);
  }
  return h;
}

/** xoshiro128** generator with a serialisable state. */
export class SeededRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /** A generator for the stream identified by `seed` and any sub-stream numbers. */
  static fromSeed(seed: number, ...stream: number[]): SeededRng {
    let x = mixSeed(seed, ...stream);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      x = splitmix32(x + i);
      words.push(x);
    }
    if (!words.some((w) => w !== 0)) words[0] = 1;
    return new SeededRng(words as RngState);
  }

  /** Restores a generator saved with {@link SeededRng.state}. */
  static fromState(state: RngState): SeededRng {
    if (state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_POW_32)) {
      throw new RangeError('A generator state is four unsigned 32-bit integers.');
    }
    if (state.every((w) => w === 0))
      throw new RangeError('The all-zero generator state is invalid.');
    return new SeededRng([...state] as RngState);
  }

  /** The current state (a copy). */
  state(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const r = Math.imul(s1, 5) >>> 0;
    const rot = ((r << 7) | (r >>> 25)) >>> 0;
    const result = Math.imul(rot, 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = ((this.s3 << 11) | (this.s3 >>> 21)) >>> 0;
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** Uniform integer in [0, n), without modulo bias (n ≤ 2^32). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`nextInt needs an integer bound in [1, 2^32], not ${n}.`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fills `out` with independent N(0, std²) draws (Box–Muller in float64). */
  fillNormal(out: Float32Array | Float64Array, std = 1): void {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const u1 = 1 - this.nextFloat(); // (0, 1]
      const u2 = this.nextFloat();
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      const th = 2 * Math.PI * u2;
      out[i] = r * Math.cos(th);
      if (i + 1 < n) out[i + 1] = r * Math.sin(th);
    }
  }

  /** Shuffles `a` in place (Fisher–Yates). */
  shuffle(a: Uint32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i] as number;
      a[i] = a[j] as number;
      a[j] = t;
    }
  }
}
