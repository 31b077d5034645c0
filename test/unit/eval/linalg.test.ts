import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../../src-main/engine/rng';
import { matMul, meanAndCovariance, sqrtPsd, symmetricEigen } from '../../../src-main/eval/linalg';

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= tol, `entry ${i}: ${a} vs ${e}`);
  }
}

function randomSymmetric(n: number, seed: number): Float64Array {
  const rng = SeededRng.fromSeed(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = 2 * rng.nextFloat() - 1;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

test('matrix square root of a hand case: √[[5,4],[4,5]] = [[2,1],[1,2]]', () => {
  assertAllClose(sqrtPsd([5, 4, 4, 5], 2), [2, 1, 1, 2], 1e-12);
});

test('matrix square root of a diagonal and of a PSD matrix with a zero eigenvalue', () => {
  assertAllClose(sqrtPsd([9, 0, 0, 0, 4, 0, 0, 0, 0], 3), [3, 0, 0, 0, 2, 0, 0, 0, 0], 1e-12);
  // [[1,1],[1,1]] has eigenvalues 2 and 0: its root is [[1,1],[1,1]]/√2.
  const r = 1 / Math.SQRT2;
  assertAllClose(sqrtPsd([1, 1, 1, 1], 2), [r, r, r, r], 1e-12);
});

test('Jacobi eigenvalues of the 3×3 second-difference matrix are 2 − √2, 2, 2 + √2', () => {
  const { values } = symmetricEigen([2, -1, 0, -1, 2, -1, 0, -1, 2], 3);
  assertAllClose(
    Array.from(values).sort((a, b) => a - b),
    [2 - Math.SQRT2, 2, 2 + Math.SQRT2],
    1e-12,
  );
});

test('Jacobi reconstructs a random symmetric 40×40 matrix with orthonormal vectors', () => {
  const n = 40;
  const a = randomSymmetric(n, 7);
  const { values, vectors, sweeps } = symmetricEigen(a, n);
  assert.ok(sweeps < 20, `sweeps ${sweeps}`);
  const vl = new Float64Array(n * n);
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      vl[i * n + j] = (vectors[i * n + j] as number) * (values[j] as number);
      vt[j * n + i] = vectors[i * n + j] as number;
    }
  }
  assertAllClose(matMul(vl, vt, n), a, 1e-10);
  const identity = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));
  assertAllClose(matMul(vt, vectors, n), identity, 1e-10);
});

test('sqrtPsd(A)² = A for a random covariance-like matrix', () => {
  const n = 30;
  const b = randomSymmetric(n, 3);
  const a = matMul(b, b, n); // BᵀB = B² for symmetric B: PSD
  const s = sqrtPsd(a, n);
  assertAllClose(matMul(s, s, n), a, 1e-9);
});

test('mean and unbiased covariance of a small hand-computed sample', () => {
  // Rows (1, 2), (3, 6), (5, 4): mean (3, 4); cov = [[4, 2], [2, 4]].
  const { mean, cov } = meanAndCovariance([1, 2, 3, 6, 5, 4], 3, 2);
  assertAllClose(mean, [3, 4], 1e-12);
  assertAllClose(cov, [4, 2, 2, 4], 1e-12);
});

test('symmetricEigen rejects a non-symmetric matrix', () => {
  assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), /symmetric/);
});
