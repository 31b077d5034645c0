import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  frechetDistance,
  gaussianStats,
  traceSqrtProduct,
  type GaussianStats,
} from '../../../src-main/eval/frechet';

function stats(mean: number[], cov: number[]): GaussianStats {
  return {
    mean: Float64Array.from(mean),
    cov: Float64Array.from(cov),
    dims: mean.length,
    count: 0,
  };
}

/** `count` draws of N(mean, L·Lᵀ) with L lower-triangular (row-major), as rows. */
function sample(mean: number[], chol: number[], count: number, seed: number): Float64Array {
  const d = mean.length;
  const rng = SeededRng.fromSeed(seed);
  const z = new Float64Array(d);
  const out = new Float64Array(count * d);
  for (let r = 0; r < count; r++) {
    rng.fillNormal(z);
    for (let i = 0; i < d; i++) {
      let v = mean[i] as number;
      for (let j = 0; j <= i; j++) v += (chol[i * d + j] as number) * (z[j] as number);
      out[r * d + i] = v;
    }
  }
  return out;
}

const SIGMA = [2, 0.6, 0.2, 0.6, 1, -0.3, 0.2, -0.3, 0.5];

test('Fréchet distance of identical Gaussians is 0', () => {
  const a = stats([1, -2, 0.5], SIGMA);
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-10);
});

test('equal covariances, shifted means: d² = ‖Δμ‖²', () => {
  const a = stats([1, -2, 0.5], SIGMA);
  const b = stats([2, 0, 0.5], SIGMA);
  assert.ok(Math.abs(frechetDistance(a, b) - 5) < 1e-10);
});

test('Σ₁ = I, Σ₂ = 4I in d dimensions with a shift: d² = ‖Δμ‖² + d', () => {
  const d = 5;
  const eye = (s: number): number[] =>
    Array.from({ length: d * d }, (_, k) => (k % (d + 1) === 0 ? s : 0));
  const a = stats(Array(d).fill(0), eye(1));
  const b = stats([3, 0, 0, 0, 4], eye(4));
  // tr(I + 4I − 2·(4I)^{1/2}) = d + 4d − 4d = d.
  assert.ok(Math.abs(frechetDistance(a, b) - (25 + d)) < 1e-10);
});

test('non-commuting 2×2 covariances: tr √(Σ₁Σ₂) = √(tr Σ₁Σ₂ + 2√(det Σ₁ det Σ₂))', () => {
  const s1 = [2, 1, 1, 2];
  const s2 = [1, -0.5, -0.5, 3];
  // Σ₁Σ₂ = [[1.5, 2], [0, 5.5]]: trace 7; det Σ₁ = 3, det Σ₂ = 2.75.
  const expected = Math.sqrt(7 + 2 * Math.sqrt(3 * 2.75));
  assert.ok(Math.abs(traceSqrtProduct(s1, s2, 2) - expected) < 1e-12);
  const fd = frechetDistance(stats([0, 0], s1), stats([1, 1], s2));
  assert.ok(Math.abs(fd - (2 + 4 + 4 - 2 * expected)) < 1e-12);
});

test('sampled Gaussians: estimated d² is near the exact one', () => {
  const chol = [Math.SQRT2, 0, 0, 0.42426, 0.90554, 0, 0.14142, -0.39752, 0.57];
  const x = sample([0, 0, 0], chol, 20000, 1);
  const y = sample([0.5, 0, -0.5], chol, 20000, 2);
  const same = sample([0, 0, 0], chol, 20000, 3);
  const sx = gaussianStats(x, 20000, 3);
  const fdShift = frechetDistance(sx, gaussianStats(y, 20000, 3));
  const fdSame = frechetDistance(sx, gaussianStats(same, 20000, 3));
  assert.ok(Math.abs(fdShift - 0.5) < 0.05, `shifted: ${fdShift}`);
  assert.ok(fdSame < 0.01, `same: ${fdSame}`);
});

test('Fréchet distance refuses features of different dimensions', () => {
  assert.throws(() => frechetDistance(stats([0], [1]), stats([0, 0], [1, 0, 0, 1])), /dimensional/);
});
