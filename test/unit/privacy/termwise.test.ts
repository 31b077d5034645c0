/**
 * Term-wise accounting (privacy/termwise.ts): the two noisy sums of a step,
 * computed on one Poisson sample, are one subsampled Gaussian of
 * σ = (σ₁⁻² + σ₂⁻²)^(−1/2). Without subsampling (q = 1) that is exactly the
 * RDP composition of the two Gaussians; with subsampling the joint mechanism
 * is never looser than composing the two subsampled terms (which is also
 * valid, and what a per-term accountant would state), and strictly tighter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussianRdp, poissonSubsampledGaussianRdp } from '../../../src-main/privacy/rdp';
import { epsilonOf } from '../../../src-main/privacy';
import {
  effectiveSigma,
  naiveBatchCap,
  naiveSensitivity,
  splitSigma,
} from '../../../src-main/privacy/termwise';

const ORDERS = [1.5, 2, 3, 4, 8, 16, 32, 64];

test('the split keeps the pair’s σ and gives the least summed noise', () => {
  for (const [sigma, d1, d2] of [
    [0.7, 1, 0.2],
    [2.5, 1, 1],
    [1.1, 0.3, 4],
  ] as const) {
    const { sigma1, sigma2 } = splitSigma(sigma, d1, d2);
    assert.ok(Math.abs(effectiveSigma([sigma1, sigma2]) - sigma) < 1e-12 * sigma);
    const variance = (sigma1 * d1) ** 2 + (sigma2 * d2) ** 2;
    assert.ok(Math.abs(variance - (sigma * (d1 + d2)) ** 2) < 1e-9 * variance);
    // Any other split with the same σ adds more noise to the update.
    for (const f of [0.5, 0.9, 1.1, 2]) {
      const s1 = sigma1 * f;
      const s2 = 1 / Math.sqrt(1 / sigma ** 2 - 1 / s1 ** 2);
      if (!Number.isFinite(s2)) continue;
      assert.ok((s1 * d1) ** 2 + (s2 * d2) ** 2 >= variance * (1 - 1e-12));
    }
  }
  assert.deepEqual(splitSigma(0.8, 1, 0), { sigma1: 0.8, sigma2: Infinity });
});

test('q = 1: the joint Gaussian’s RDP equals the sum of the two terms’ RDP', () => {
  const { sigma1, sigma2 } = splitSigma(0.9, 1, 0.4);
  const joint = gaussianRdp({ noiseMultiplier: effectiveSigma([sigma1, sigma2]), orders: ORDERS });
  const a = gaussianRdp({ noiseMultiplier: sigma1, orders: ORDERS });
  const b = gaussianRdp({ noiseMultiplier: sigma2, orders: ORDERS });
  joint.forEach((v, i) => assert.ok(Math.abs(v - (a[i]! + b[i]!)) < 1e-12 * v));
  const j1 = poissonSubsampledGaussianRdp({
    sampleRate: 1,
    noiseMultiplier: effectiveSigma([sigma1, sigma2]),
    orders: [2, 3, 4, 8],
  });
  const s1 = poissonSubsampledGaussianRdp({
    sampleRate: 1,
    noiseMultiplier: sigma1,
    orders: [2, 3, 4, 8],
  });
  const s2 = poissonSubsampledGaussianRdp({
    sampleRate: 1,
    noiseMultiplier: sigma2,
    orders: [2, 3, 4, 8],
  });
  j1.forEach((v, i) => assert.ok(Math.abs(v - (s1[i]! + s2[i]!)) < 1e-9 * v));
});

test('q < 1: the pair costs more than composing the two terms as if each had its own sample (the shared sample amplifies once)', () => {
  const T = 1758;
  for (const [q, sigma, d2] of [
    [0.017, 0.75, 0.2],
    [0.017, 0.75, 1],
    [0.1, 1.5, 1],
  ] as const) {
    const { sigma1, sigma2 } = splitSigma(sigma, 1, d2);
    const joint = poissonSubsampledGaussianRdp({
      sampleRate: q,
      noiseMultiplier: effectiveSigma([sigma1, sigma2]),
      orders: ORDERS,
    });
    const a = poissonSubsampledGaussianRdp({
      sampleRate: q,
      noiseMultiplier: sigma1,
      orders: ORDERS,
    });
    const b = poissonSubsampledGaussianRdp({
      sampleRate: q,
      noiseMultiplier: sigma2,
      orders: ORDERS,
    });
    // Composing the terms separately would understate the loss at every order: the app never does.
    joint.forEach((v, i) => assert.ok(v > a[i]! + b[i]!, `order ${ORDERS[i]} at q = ${q}`));
    const spec = { mechanism: 'dpsgd', sampleRate: q, steps: T } as const;
    const eps = epsilonOf({ spec: { ...spec, sigma }, delta: 1e-5 }).epsilon;
    const first = epsilonOf({ spec: { ...spec, sigma: sigma1 }, delta: 1e-5 }).epsilon;
    assert.ok(eps > first, 'the pair costs more than its first term alone');
  }
});

test('the naive sensitivity grows linearly with the batch cap', () => {
  assert.equal(naiveSensitivity(1, 1), 3);
  assert.equal(naiveSensitivity(1000, 0.5), 1000.5);
  assert.ok(naiveBatchCap(1024) >= 1024 + 8 * 32);
});
