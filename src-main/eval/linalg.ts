/**
 * The small dense linear algebra the fidelity metrics need, in float64:
 * mean and covariance of feature rows, a symmetric eigendecomposition
 * (cyclic Jacobi, Golub and Van Loan, "Matrix Computations", §8.5 —
 * accurate and simple for the ≤ 128-dimensional feature spaces used here)
 * and the square root of a symmetric positive semi-definite matrix.
 *
 * Matrices are row-major Float64Arrays: entry (i, j) of an n×n matrix is
 * `a[i * n + j]`.
 */

/** Mean (length d) and unbiased covariance (d×d) of `count` rows of `dims` numbers. */
export function meanAndCovariance(
  values: ArrayLike<number>,
  count: number,
  dims: number,
): { mean: Float64Array; cov: Float64Array } {
  if (count < 2) throw new RangeError(`A covariance needs at least 2 rows, not ${count}.`);
  const mean = new Float64Array(dims);
  for (let r = 0; r < count; r++) {
    const off = r * dims;
    for (let j = 0; j < dims; j++) mean[j] = (mean[j] as number) + (values[off + j] as number);
  }
  for (let j = 0; j < dims; j++) mean[j] = (mean[j] as number) / count;
  const cov = new Float64Array(dims * dims);
  const centred = new Float64Array(dims);
  for (let r = 0; r < count; r++) {
    const off = r * dims;
    for (let j = 0; j < dims; j++) centred[j] = (values[off + j] as number) - (mean[j] as number);
    for (let i = 0; i < dims; i++) {
      const ci = centred[i] as number;
      if (ci === 0) continue;
      const row = i * dims;
      for (let j = i; j < dims; j++)
        cov[row + j] = (cov[row + j] as number) + ci * (centred[j] as number);
    }
  }
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      const v = (cov[i * dims + j] as number) / (count - 1);
      cov[i * dims + j] = v;
      cov[j * dims + i] = v;
    }
  }
  return { mean, cov };
}

/** Eigenvalues and eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** Eigenvalues, in no particular order. */
  values: Float64Array;
  /** Eigenvectors as columns: component i of vector j is `vectors[i * n + j]`. */
  vectors: Float64Array;
  /** Jacobi sweeps used. */
  sweeps: number;
}

/**
 * Eigendecomposition of the symmetric n×n matrix `a` (not modified) by
 * cyclic Jacobi rotations: each rotation zeroes one off-diagonal pair; sweeps
 * repeat until the off-diagonal mass is below `tol` times the matrix's
 * Frobenius norm (quadratic convergence; ~6–10 sweeps in practice).
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  options: { tol?: number; maxSweeps?: number } = {},
): SymmetricEigen {
  const tol = options.tol ?? 1e-14;
  const maxSweeps = options.maxSweeps ?? 100;
  const m = Float64Array.from({ length: n * n }, (_, i) => a[i] as number);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = Math.abs((m[i * n + j] as number) - (m[j * n + i] as number));
      const scale = Math.abs(m[i * n + j] as number) + Math.abs(m[j * n + i] as number);
      if (d > 1e-9 * scale + 1e-300)
        throw new RangeError('symmetricEigen needs a symmetric matrix.');
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += (m[i] as number) ** 2;
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let off = 0;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) off += (m[p * n + q] as number) ** 2;
    if (off <= tol * tol * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q] as number;
        if (apq === 0) continue;
        const app = m[p * n + p] as number;
        const aqq = m[q * n + q] as number;
        // Choose the rotation angle φ with cot 2φ = θ and take the smaller root t = tan φ.
        const theta = (aqq - app) / (2 * apq);
        const t =
          Math.abs(theta) > 1e150
            ? 1 / (2 * theta)
            : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // m ← Jᵀ m J: columns p, q then rows p, q.
        for (let k = 0; k < n; k++) {
          const kp = m[k * n + p] as number;
          const kq = m[k * n + q] as number;
          m[k * n + p] = c * kp - s * kq;
          m[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) {
          const pk = m[p * n + k] as number;
          const qk = m[q * n + k] as number;
          m[p * n + k] = c * pk - s * qk;
          m[q * n + k] = s * pk + c * qk;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const kp = v[k * n + p] as number;
          const kq = v[k * n + q] as number;
          v[k * n + p] = c * kp - s * kq;
          v[k * n + q] = s * kp + c * kq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i] as number;
  return { values, vectors: v, sweeps };
}

/**
 * The symmetric square root S (S·S = A, S ⪰ 0) of a symmetric positive
 * semi-definite matrix: V·diag(√max(λ, 0))·Vᵀ. Eigenvalues that are negative
 * only by rounding are treated as 0.
 */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k] as number, 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = (vectors[i * n + k] as number) * r;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++)
        out[i * n + j] = (out[i * n + j] as number) + vik * (vectors[j * n + k] as number);
    }
  }
  return out;
}

/** The product of two n×n matrices. */
export function matMul(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++)
        out[i * n + j] = (out[i * n + j] as number) + aik * (b[k * n + j] as number);
    }
  }
  return out;
}

/** The trace of an n×n matrix. */
export function trace(a: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i] as number;
  return t;
}
