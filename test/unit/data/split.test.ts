import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom, splitIndices } from '../../../src-main/data/split';

test('split is deterministic, disjoint and covers every index', () => {
  const a = splitIndices({ count: 1000, testFraction: 0.2, seed: 42 });
  const b = splitIndices({ count: 1000, testFraction: 0.2, seed: 42 });
  assert.deepEqual(a, b);
  assert.equal(a.test.length, 200);
  assert.equal(a.train.length, 800);
  const all = new Set([...a.train, ...a.test]);
  assert.equal(all.size, 1000);
  for (let i = 1; i < a.test.length; i++) assert.ok((a.test[i] ?? 0) > (a.test[i - 1] ?? 0));
  const c = splitIndices({ count: 1000, testFraction: 0.2, seed: 43 });
  assert.notDeepEqual(a.test, c.test);
});

test('the PRNG sequence is fixed (same on every platform and Node version)', () => {
  const r = seededRandom(1);
  const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
  // Golden values: if these change, every stored split changes.
  assert.deepEqual(first, GOLDEN);
  const s = splitIndices({ count: 10, testFraction: 0.3, seed: 1 });
  assert.deepEqual([...s.test], GOLDEN_TEST);
});

test('edge cases: zero share, tiny sets, big seeds, bad shares', () => {
  assert.equal(splitIndices({ count: 10, testFraction: 0, seed: 1 }).test.length, 0);
  assert.equal(splitIndices({ count: 1, testFraction: 0.9, seed: 1 }).train.length, 1);
  assert.equal(splitIndices({ count: 0, testFraction: 0.5, seed: 1 }).train.length, 0);
  assert.notDeepEqual(
    splitIndices({ count: 50, testFraction: 0.5, seed: 2 ** 40 }).test,
    splitIndices({ count: 50, testFraction: 0.5, seed: 2 ** 41 }).test,
  );
  assert.throws(() => splitIndices({ count: 10, testFraction: 1, seed: 1 }), /test fraction/);
  assert.throws(() => splitIndices({ count: 10, testFraction: NaN, seed: 1 }), /test fraction/);
});

test('below(n) is uniform enough', () => {
  const r = seededRandom(9);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) {
    const k = r.below(3);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 400, String(counts));
});

const GOLDEN = [393288148, 2174103013, 3814759091]; // checked against a Python transcription of xoshiro128**
const GOLDEN_TEST = [5, 6, 7];
