/**
 * Cryptographically secure randomness for the privacy mechanism of Algorithm 2
 * (Jiang et al., arXiv 2208.03409): the Gaussian noise N(0, σ²C²I) added to the
 * clipped decoder gradient, and the uniform choice of the block k.
 *
 * Bits come from node:crypto (`randomFillSync`, the operating system's CSPRNG
 * through OpenSSL); never from tfjs's or any seeded generator. Uniforms are
 * built from 53 random bits and transformed to normals by Box–Muller in
 * float64; the result is rounded once to float32 (the precision of the
 * gradient it is added to).
 */
import { randomFillSync, randomInt } from 'node:crypto';

const TWO_POW_53 = 9007199254740992;
/** Random words fetched from the CSPRNG per refill (4 words = 2 normals). */
const CHUNK_WORDS = 1 << 16;

/**
 * Source of N(0, std²) noise from the CSPRNG. Reuses one scratch buffer, so
 * keep one instance per training run (not thread-safe; JS is single-threaded).
 */
export class SecureGaussian {
  private readonly words = new Uint32Array(CHUNK_WORDS);

  /** Fills `out` with independent N(0, std²) values; returns `out`. */
  fill(out: Float32Array, std: number): Float32Array {
    if (!(std >= 0) || !Number.isFinite(std)) {
      throw new RangeError(`The noise standard deviation must be finite and ≥ 0, not ${std}.`);
    }
    const words = this.words;
    const n = out.length;
    let i = 0;
    while (i < n) {
      const pairs = Math.min(CHUNK_WORDS / 4, Math.ceil((n - i) / 2));
      randomFillSync(words, 0, pairs * 4);
      for (let p = 0; p < pairs; p++) {
        const w = p * 4;
        // Two 53-bit uniforms: u1 in (0, 1] (so log u1 is finite), u2 in [0, 1).
        const u1 =
          (((words[w] as number) >>> 5) * 67108864 + ((words[w + 1] as number) >>> 6) + 1) /
          TWO_POW_53;
        const u2 =
          (((words[w + 2] as number) >>> 5) * 67108864 + ((words[w + 3] as number) >>> 6)) /
          TWO_POW_53;
        const r = Math.sqrt(-2 * Math.log(u1)) * std;
        const th = 2 * Math.PI * u2;
        out[i++] = r * Math.cos(th);
        if (i < n) out[i++] = r * Math.sin(th);
      }
    }
    return out;
  }

  /** A new array of `n` independent N(0, std²) values. */
  sample(n: number, std: number): Float32Array {
    return this.fill(new Float32Array(n), std);
  }
}

/** Uniform integer in [0, n) from the CSPRNG (node:crypto `randomInt`, unbiased). */
export function secureRandomInt(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 48 - 1) {
    throw new RangeError(`secureRandomInt needs an integer bound in [1, 2^48), not ${n}.`);
  }
  return n === 1 ? 0 : randomInt(n);
}

/** A fresh 48-bit seed from the CSPRNG (for seeding data-independent streams). */
export function secureSeed(): number {
  return randomInt(2 ** 48 - 1);
}

const TWO_POW_32 = 4294967296;
/** Records tested per CSPRNG refill by {@link securePoissonSample}. */
const POISSON_CHUNK = 1 << 16;

/**
 * Poisson sampling of DP-SGD (Abadi et al. 2016): every record in [0, count)
 * is taken independently with probability `rate`, from the CSPRNG (the
 * sampling is part of the mechanism). Each record gets one 32-bit uniform
 * word u and is taken when u < ⌊rate·2³²⌋, so the effective rate is at most
 * `rate` (by less than 2⁻³²), never above what the accountant assumes.
 * Returns the sorted indices taken (possibly none).
 */
export function securePoissonSample(count: number, rate: number): Uint32Array {
  if (!Number.isSafeInteger(count) || count < 0 || count > 2 ** 32 - 1) {
    throw new RangeError(`Poisson sampling needs a record count in [0, 2^32), not ${count}.`);
  }
  if (!(rate > 0 && rate <= 1)) {
    throw new RangeError(`The sampling rate must be in (0, 1], not ${rate}.`);
  }
  if (rate === 1) return Uint32Array.from({ length: count }, (_, i) => i);
  const threshold = Math.floor(rate * TWO_POW_32);
  const words = new Uint32Array(Math.min(POISSON_CHUNK, Math.max(1, count)));
  const taken: number[] = [];
  for (let start = 0; start < count; start += words.length) {
    const n = Math.min(words.length, count - start);
    randomFillSync(words, 0, n);
    for (let i = 0; i < n; i++) if ((words[i] as number) < threshold) taken.push(start + i);
  }
  return Uint32Array.from(taken);
}
