import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deltaFromRdp,
  epsilonFromRdp,
  poissonSubsampledGaussianRdp,
} from '../../../src-main/privacy';
import { erfc } from '../../../src-main/privacy/numeric';
import { assertClose, assertUserError } from './helpers';

// TFP = tensorflow_privacy/privacy/analysis/rdp_accountant_test.py (before commit bb1b7a6)
// DPA = python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py

test('pure DP: constant RDP picks the largest order (DPA test_compute_epsilon_delta_pure_dp)', () => {
  const orders = Array.from({ length: 31 }, (_, i) => i + 2); // range(2, 33)
  const rdp = orders.map(() => 1.1);
  const { epsilon, order } = epsilonFromRdp({ orders, rdp, delta: 1e-5 });
  // DPA / TFP test_get_privacy_spent_check_target_delta: 1.32783806176 at order 32
  assertClose(epsilon, 1.32783806176, 1e-10, 'ε');
  assert.equal(order, 32);
  // …and back (DPA same test; TFP test_get_privacy_spent_check_target_eps): δ = 1e-5, order 32
  const back = deltaFromRdp({ orders, rdp, epsilon: 1.32783806176 });
  assertClose(back.delta, 1e-5, 1e-9, 'δ');
  assert.equal(back.order, 32);
});

test('Gaussian calibrated to exactly (1, 1e-6)-DP (DPA test_compute_epsilon_delta_gaussian)', () => {
  const orders = Array.from({ length: 99000 }, (_, i) => 0.001 * (i + 1000));
  // Orders start at 1.0 here, which the conversion accepts (and skips, as α ≤ 1.01).
  const rdp = orders.map((a) => a / (2 * 4.530877117 ** 2));
  assertClose(epsilonFromRdp({ orders, rdp, delta: 1e-6 }).epsilon, 1, 0, 'ε', 5e-8);
  assertClose(deltaFromRdp({ orders, rdp, epsilon: 1 }).delta, 1e-6, 0, 'δ', 5e-8);
});

test('the improved conversion formula at one order, never negative', () => {
  const alpha = 8;
  const r = 2.5;
  const delta = 1e-5;
  const expected = r + Math.log(1 - 1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
  assertClose(epsilonFromRdp({ orders: [alpha], rdp: [r], delta }).epsilon, expected, 1e-14, 'ε');
  // Tiny RDP: the KL shortcut gives ε = 0 when δ ≥ sqrt(1 − e^{−r}); otherwise clamp at 0.
  assert.equal(epsilonFromRdp({ orders: [2], rdp: [1e-12], delta: 1e-5 }).epsilon, 0);
  assert.equal(epsilonFromRdp({ orders: [50], rdp: [1e-3], delta: 0.5 }).epsilon, 0);
  // Orders ≤ 1.01 are unusable for the bound (as in dp_accounting).
  assert.equal(epsilonFromRdp({ orders: [1.005], rdp: [1], delta: 1e-5 }).epsilon, Infinity);
  assert.equal(
    epsilonFromRdp({ orders: [3, 4], rdp: [Infinity, Infinity], delta: 1e-5 }).epsilon,
    Infinity,
  );
  assert.equal(deltaFromRdp({ orders: [3], rdp: [Infinity], epsilon: 1 }).delta, 1);
});

test('ε(δ) and δ(ε) round-trip (DPA test_epsilon_delta_consistency, TFP test_get_privacy_spent_consistency)', () => {
  const orders = Array.from({ length: 48 }, (_, i) => i + 2); // range(2, 50)
  for (const q of [0.01, 0.1, 0.8, 1]) {
    for (const z of [0.1, 1, 3, 10, 100]) {
      const rdp = poissonSubsampledGaussianRdp({
        sampleRate: q,
        noiseMultiplier: z,
        orders: orders,
      });
      for (const delta of [0.99, 0.9, 0.1, 0.01, 1e-3, 1e-5, 1e-9, 1e-12]) {
        const { epsilon, order } = epsilonFromRdp({ orders, rdp, delta });
        const back = deltaFromRdp({ orders, rdp, epsilon });
        if (epsilon === 0) {
          assert.ok(back.delta <= delta, `q=${q} z=${z} δ=${delta}`);
        } else {
          assertClose(back.delta, delta, 1e-9, `q=${q} z=${z} δ=${delta}`);
          assert.equal(back.order, order);
        }
      }
    }
  }
});

test('δ from RDP brackets the exact Gaussian δ (DPA test_delta_bounds_gaussian)', () => {
  const orders = Array.from({ length: 495 }, (_, i) => 0.1 * (i + 10));
  const rdp = orders.map((a) => a / 2); // Gaussian z = 1 (orders from 1.0, as in DPA)
  for (let k = 0; k < 500; k++) {
    const eps = 0.1 * k;
    const delta = deltaFromRdp({ orders, rdp, epsilon: eps }).delta;
    // Optimal Gaussian δ (Balle & Wang 2018, Theorem 8), which no valid bound may undercut.
    const exact =
      erfc((eps - 0.5) / Math.SQRT2) / 2 - (Math.exp(eps) * erfc((eps + 0.5) / Math.SQRT2)) / 2;
    assert.ok(exact <= delta + 1e-300, `ε=${eps}: ${exact} > ${delta}`);
    // The "standard" bound exp(−(ε − 1/2)²/2) must not be beaten from above.
    const standard = eps >= 0.5 ? Math.exp(-0.5 * (eps - 0.5) ** 2) : 1;
    assert.ok(delta <= standard + 1e-300, `ε=${eps}: ${delta} > ${standard}`);
  }
});

test('composition bound (TFP test_check_composition)', () => {
  const orders = [
    1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256,
  ];
  const a = poissonSubsampledGaussianRdp({
    sampleRate: 1e-4,
    noiseMultiplier: 0.4,
    orders: orders,
  }).map((r) => 40000 * r);
  const b = poissonSubsampledGaussianRdp({
    sampleRate: 0.1,
    noiseMultiplier: 2,
    orders: orders,
  }).map((r) => 100 * r);
  const { epsilon } = epsilonFromRdp({
    orders,
    rdp: a.map((r, i) => r + (b[i] as number)),
    delta: 1e-5,
  });
  assert.ok(epsilon <= 8.509656, `ε = ${epsilon}`); // TFP: old conversion gave 8.509656
  assert.ok(epsilon > 5);
});

test('bad inputs name the field', () => {
  assertUserError(
    () => epsilonFromRdp({ orders: [2], rdp: [1], delta: 1 }),
    'INVALID_INPUT',
    /delta/,
  );
  assertUserError(
    () => epsilonFromRdp({ orders: [2], rdp: [1], delta: NaN }),
    'INVALID_INPUT',
    /delta.*NaN/,
  );
  assertUserError(
    () => epsilonFromRdp({ orders: [2], rdp: [1], delta: 0 }),
    'INVALID_INPUT',
    /delta/,
  );
  assertUserError(
    () => deltaFromRdp({ orders: [2], rdp: [1], epsilon: -1 }),
    'INVALID_INPUT',
    /epsilon/,
  );
  assertUserError(
    () => epsilonFromRdp({ orders: [2, 3], rdp: [1], delta: 1e-5 }),
    'INVALID_INPUT',
    /rdp/,
  );
  assertUserError(
    () => epsilonFromRdp({ orders: [0.5], rdp: [1], delta: 1e-5 }),
    'INVALID_INPUT',
    /orders\[0\]/,
  );
});
