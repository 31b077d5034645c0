/** Shared helpers of the privacy unit tests. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { UserError } from '../../../src-main/contract/errors';

/** Asserts |actual − expected| ≤ rel·|expected| (or ≤ abs when given and larger). */
export function assertClose(
  actual: number,
  expected: number,
  rel: number,
  what = '',
  abs = 0,
): void {
  const tolerance = Math.max(rel * Math.abs(expected), abs);
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} vs expected ${expected} (tolerance ${tolerance})`,
  );
}

/** Reads a JSON fixture of test/fixtures/privacy. */
export function fixture<T>(name: string): { README: string; cases: T[] } {
  const url = new URL(`../../fixtures/privacy/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as { README: string; cases: T[] };
}

/** Asserts that `run` throws a UserError with `code` whose message matches `message`. */
export function assertUserError(run: () => unknown, code: string, message: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

/** A small seeded PRNG (mulberry32) so property tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A log-uniform sample in [lo, hi]. */
export function logUniform(random: () => number, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)));
}
