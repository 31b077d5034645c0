import { UserError } from '../contract/errors';
import type { Split } from './types';

/** A seeded pseudo-random generator of unsigned 32-bit integers. */
export interface SeededRandom {
  /** Next value in [0, 2^32). */
  nextUint32(): number;
  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias. */
  below(n: number): number;
}

/**
 * xoshiro128** (Blackman and Vigna) seeded by SplitMix32 from the integer
 * part of `seed` (low and high 32-bit words). Pure 32-bit integer arithmetic
 * (Math.imul, shifts), so the sequence is the same on every platform and
 * Node version. Not for secrets: the privacy noise uses a secure generator.
 */
export function seededRandom(seed: number): SeededRandom {
  if (!Number.isFinite(seed))
    throw new UserError(
      'INVALID_INPUT',
      `The split seed ${seed} is not a number. Use a whole number such as 1.`,
    );
  const whole = Math.trunc(seed);
  let sm = (whole >>> 0) ^ Math.imul(Math.floor(whole / 2 ** 32) >>> 0, 0x85ebca6b);
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let t = sm ^ (sm >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  let s0 = splitmix();
  let s1 = splitmix();
  let s2 = splitmix();
  let s3 = splitmix();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const below = (n: number): number => {
    if (!(n >= 1 && n <= 2 ** 32)) throw new RangeError(`below(${n}): n must be in [1, 2^32]`);
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const r = nextUint32();
      if (r < limit) return r % n;
    }
  };
  return { nextUint32, below };
}

/**
 * Data-independent random train/test split: a Fisher–Yates permutation of
 * 0..count-1 drawn from `seed`; the first round(count·testFraction) indices
 * form the test set (at least one image stays in training). Both index lists
 * are sorted ascending. The same (count, testFraction, seed) always gives the
 * same split; labels and pixels are never looked at.
 */
export function splitIndices(opts: { count: number; testFraction: number; seed: number }): Split {
  const { count, testFraction, seed } = opts;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new UserError(
      'INVALID_INPUT',
      `Cannot split ${count} images: the count must be a whole number ≥ 0.`,
    );
  }
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new UserError(
      'INVALID_INPUT',
      `The test fraction ${testFraction} is not valid. Choose a share between 0 and 1, such as 0.1 for 10 %.`,
    );
  }
  const rng = seededRandom(seed);
  const perm = new Uint32Array(count);
  for (let i = 0; i < count; i++) perm[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = perm[i] ?? 0;
    perm[i] = perm[j] ?? 0;
    perm[j] = t;
  }
  const nTest = Math.min(Math.round(count * testFraction), Math.max(count - 1, 0));
  const test = perm.slice(0, nTest).sort();
  const train = perm.slice(nTest).sort();
  return { train, test };
}

/** The split of a source that brings its own test set: the first `trainCount` images train, the rest test. */
export function givenSplit(trainCount: number, total: number): Split {
  const train = new Uint32Array(trainCount);
  for (let i = 0; i < trainCount; i++) train[i] = i;
  const test = new Uint32Array(total - trainCount);
  for (let i = 0; i < test.length; i++) test[i] = trainCount + i;
  return { train, test };
}
