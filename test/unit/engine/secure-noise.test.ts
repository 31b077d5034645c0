import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SecureGaussian, secureRandomInt } from '../../../src-main/engine/secure-noise';

// Tolerances are 7 standard errors of each statistic: a false failure has
// probability below 1e-11 per check.
test('secure Gaussian noise has the requested mean and variance', () => {
  const n = 1_000_000;
  const std = 3;
  const x = new SecureGaussian().sample(n, std);
  let s = 0;
  let s2 = 0;
  let s4 = 0;
  let tail = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
    s4 += v ** 4;
    if (Math.abs(v) > 2 * std) tail++;
  }
  const mean = s / n;
  const variance = s2 / n - mean * mean;
  assert.ok(Math.abs(mean) < (7 * std) / Math.sqrt(n), `mean ${mean}`);
  // Var of the sample variance of a normal ≈ 2σ⁴/n.
  assert.ok(
    Math.abs(variance - std ** 2) < 7 * std ** 2 * Math.sqrt(2 / n),
    `variance ${variance}`,
  );
  // Fourth moment 3σ⁴ (a Gaussian, not e.g. a uniform); Var(x⁴) = 96σ⁸.
  assert.ok(
    Math.abs(s4 / n - 3 * std ** 4) < 7 * std ** 4 * Math.sqrt(96 / n),
    `kurtosis ${s4 / n}`,
  );
  // P(|Z| > 2) = 0.0455.
  const p = 0.0455003;
  assert.ok(Math.abs(tail / n - p) < 7 * Math.sqrt((p * (1 - p)) / n), `tail ${tail / n}`);
});

test('two draws differ (fresh CSPRNG bits each time)', () => {
  const g = new SecureGaussian();
  const a = g.sample(1000, 1);
  const b = g.sample(1000, 1);
  const c = new SecureGaussian().sample(1000, 1);
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.every(Number.isFinite));
});

test('std 0 gives zeros; negative or non-finite std is refused', () => {
  assert.ok(new SecureGaussian().sample(10, 0).every((v) => v === 0));
  assert.throws(() => new SecureGaussian().sample(10, -1), RangeError);
  assert.throws(() => new SecureGaussian().sample(10, Number.NaN), RangeError);
});

test('odd lengths and lengths beyond one refill are filled completely', () => {
  const x = new SecureGaussian().sample(2 * 65536 + 3, 1);
  assert.ok(x.every((v) => v !== 0 && Number.isFinite(v)));
});

test('secure block choice is uniform over K', () => {
  const k = 4;
  const n = 40_000;
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) counts[secureRandomInt(k)]! += 1;
  const p = 1 / k;
  for (const c of counts)
    assert.ok(Math.abs(c / n - p) < 7 * Math.sqrt((p * (1 - p)) / n), `count ${c}`);
  assert.equal(secureRandomInt(1), 0);
});

test('throughput: one default-decoder-sized draw (538 640 values)', () => {
  const g = new SecureGaussian();
  const out = new Float32Array(538_640);
  g.fill(out, 1);
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) g.fill(out, 1);
  const ms = (performance.now() - t0) / 5;
  console.log(`secure noise: ${ms.toFixed(1)} ms per 538 640 values`);
  assert.ok(ms > 0);
});
