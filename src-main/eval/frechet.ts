/**
 * The Fréchet (2-Wasserstein) distance between two Gaussians fitted to
 * feature vectors — the distance behind FID (Heusel et al. 2017, "GANs
 * trained by a two time-scale update rule converge to a local Nash
 * equilibrium", Eq. 6; Dowson and Landau 1982):
 *
 *   d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁Σ₂)^{1/2}).
 *
 * Like FID we report d² (not its square root). The trace of (Σ₁Σ₂)^{1/2}
 * is computed as tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}) — the same eigenvalues,
 * but a symmetric positive semi-definite matrix — so both square roots come
 * from a symmetric eigendecomposition (linalg.ts).
 */
import { matMul, meanAndCovariance, sqrtPsd, symmetricEigen, trace } from './linalg';

/** Mean and covariance of a set of d-dimensional features. */
export interface GaussianStats {
  mean: Float64Array;
  cov: Float64Array;
  dims: number;
  count: number;
}

/** Fits {@link GaussianStats} to `count` feature rows of `dims` numbers (row-major). */
export function gaussianStats(
  values: ArrayLike<number>,
  count: number,
  dims: number,
): GaussianStats {
  const { mean, cov } = meanAndCovariance(values, count, dims);
  return { mean, cov, dims, count };
}

/** tr((Σ₁Σ₂)^{1/2}) for symmetric positive semi-definite Σ₁, Σ₂ (d×d). */
export function traceSqrtProduct(
  cov1: ArrayLike<number>,
  cov2: ArrayLike<number>,
  d: number,
): number {
  const s1 = sqrtPsd(cov1, d);
  const m = matMul(matMul(s1, cov2, d), s1, d);
  // Symmetrise away rounding so the eigendecomposition sees an exactly symmetric matrix.
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = 0.5 * ((m[i * d + j] as number) + (m[j * d + i] as number));
      m[i * d + j] = v;
      m[j * d + i] = v;
    }
  }
  const { values } = symmetricEigen(m, d);
  let t = 0;
  for (const v of values) t += Math.sqrt(Math.max(v, 0));
  return t;
}

/** The Fréchet distance d² between the Gaussians `a` and `b` (same dimension). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.dims !== b.dims) {
    throw new RangeError(`Fréchet distance between ${a.dims}- and ${b.dims}-dimensional features.`);
  }
  const d = a.dims;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += ((a.mean[i] as number) - (b.mean[i] as number)) ** 2;
  const t = trace(a.cov, d) + trace(b.cov, d) - 2 * traceSqrtProduct(a.cov, b.cov, d);
  // The trace term is ≥ 0 in exact arithmetic; clamp tiny negative rounding.
  return meanTerm + Math.max(t, 0);
}
