import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recommendedDelta } from '../../../src-main/privacy/recommended-delta';

test('recommended δ is the largest power of ten strictly below 1/N', () => {
  assert.equal(recommendedDelta({ datasetSize: 60_000 }).delta, 1e-5); // the paper's MNIST δ
  assert.equal(recommendedDelta({ datasetSize: 1_000 }).delta, 1e-4); // 1/N = 1e-3 itself is not below
  assert.equal(recommendedDelta({ datasetSize: 999 }).delta, 1e-3);
  assert.equal(recommendedDelta({ datasetSize: 2 }).delta, 0.1);
  for (const n of [2, 7, 10, 123, 5_000, 60_000, 1e6, 3e7]) {
    const { delta } = recommendedDelta({ datasetSize: n });
    assert.ok(delta < 1 / n, `δ=${delta} must be below 1/${n}`);
    assert.ok(delta * 10 >= 1 / n, `δ=${delta} must be the largest such power of ten for N=${n}`);
  }
});

test('the reason names 1/N in plain words', () => {
  assert.match(recommendedDelta({ datasetSize: 60_000 }).reason, /1\/60,000/);
});
