/**
 * Rényi DP of the Gaussian mechanism applied to a subset drawn without
 * replacement, under the replace-one neighbouring relation: the bound of Wang,
 * Balle, Kasiviswanathan 2019 ("Subsampled Rényi Differential Privacy and
 * Analytical Moments Accountant", AISTATS; arXiv 1808.00087, Theorem 9 and its
 * Gaussian refinement, Theorem 27 of the arXiv version), with the conventions
 * of dp_accounting's `_compute_rdp_sample_wor_gaussian`:
 *
 * - the base mechanism's RDP is ε(α) = α/(2z²) (z = noise std / sensitivity);
 * - for integer α ≤ 256 every term j ≥ 3 uses the smaller of
 *   4·sqrt(Δ^{2⌊j/2⌋}F · Δ^{2⌈j/2⌉}F) (forward differences at 0 of
 *   F(j) = e^{(j−1)ε(j)}) and 2·e^{(j−1)ε(j)}; above 256 only the latter;
 * - the j = 2 term is min(4(e^{ε(2)} − 1), 2e^{ε(2)});
 * - fractional α interpolates the cumulant (α−1)ε(α) linearly between ⌊α⌋
 *   and ⌈α⌉ (WBK 2019, Corollary 10), so ε is flat on (1, 2].
 */
import { LN2, UNIT_ROUNDOFF, log1pExp, logComb, logExpm1, logSumExp } from './numeric';

/** Orders up to this use the forward-difference refinement (dp_accounting's max_alpha). */
const EXACT_MAX_ORDER = 256;
const LN4 = 2 * LN2;

const forwardDifferenceCache = new Map<number, Float64Array>();
const CACHE_SIZE = 64;

/**
 * log of a rigorous upper bound on the even forward differences Δ^k F(0),
 * k = 0, 2, 4, …, `maxOrder`, of F(j) = exp(a·j(j−1)), a = 1/(2z²):
 * Δ^k F(0) = Σ_j (−1)^{k−j} C(k,j) F(j) ≥ 0 for even k (it equals
 * E[(e^W − 1)^k] with W ∼ N(−a, 2a)). The positive and negative parts are
 * summed separately; where they cancel the floating-point error bound is
 * added, so the result is never below the exact value. Where no cancellation
 * occurs it equals the exact value to ~1e-13 relative, i.e. it agrees with
 * dp_accounting's `_get_forward_diffs`; where dp_accounting's log-space
 * differencing loses every digit (large z, high k) this stays a valid bound.
 * Index k holds the value for order k (odd entries unused).
 */
function evenForwardDifferences(z: number, maxOrder: number): Float64Array {
  const cached = forwardDifferenceCache.get(z);
  if (cached && cached.length > maxOrder) return cached;
  const a = 1 / (2 * z * z);
  const out = new Float64Array(maxOrder + 1).fill(-Infinity);
  const terms = new Float64Array(maxOrder + 1);
  out[0] = 0;
  for (let k = 2; k <= maxOrder; k += 2) {
    let max = -Infinity;
    let maxAbs = 0;
    for (let j = 0; j <= k; j++) {
      const t = logComb(k, j) + a * j * (j - 1);
      terms[j] = t;
      if (t > max) max = t;
      const abs = Math.abs(t);
      if (abs > maxAbs) maxAbs = abs;
    }
    let positive = 0;
    let negative = 0;
    for (let j = 0; j <= k; j += 2) positive += Math.exp((terms[j] as number) - max);
    for (let j = 1; j <= k; j += 2) negative += Math.exp((terms[j] as number) - max);
    const difference = positive - negative;
    // Each term carries a relative error of about u·(|t| + |t − max| + k);
    // the bound below is a generous multiple of that.
    const error = (positive + negative) * UNIT_ROUNDOFF * (4 * maxAbs + 2 * k + 8);
    out[k] = max + Math.log(Math.max(difference, 0) + error);
  }
  if (forwardDifferenceCache.size >= CACHE_SIZE) {
    const oldest = forwardDifferenceCache.keys().next().value;
    if (oldest !== undefined) forwardDifferenceCache.delete(oldest);
  }
  forwardDifferenceCache.set(z, out);
  return out;
}

/**
 * log(A_α) of the WBK bound at an integer order α ≥ 1, where the RDP is
 * log(A_α)/(α − 1) (dp_accounting's `_compute_rdp_sample_wor_gaussian_int`).
 */
function logAInteger(
  alpha: number,
  logQ: number,
  z: number,
  differences: Float64Array,
  buffer: Float64Array,
): number {
  if (alpha === 1) return 0;
  const cgfScale = 1 / (2 * z * z); // (j−1)·ε(j) = j(j−1)/(2z²)
  const eps2 = 1 / (z * z); // ε(2) = 2/(2z²)
  let n = 0;
  buffer[n++] = 2 * logQ + logComb(alpha, 2) + Math.min(LN4 + logExpm1(eps2), eps2 + LN2);
  const exact = alpha <= EXACT_MAX_ORDER;
  for (let j = 3; j <= alpha; j++) {
    let s = LN2 + (j - 1) * j * cgfScale;
    if (exact) {
      const lo = differences[2 * Math.floor(j / 2)] as number;
      const hi = differences[2 * Math.ceil(j / 2)] as number;
      s = Math.min(LN4 + 0.5 * (lo + hi), s);
    }
    buffer[n++] = s + j * logQ + logComb(alpha, j);
  }
  return log1pExp(logSumExp(buffer, n));
}

/**
 * RDP ε(α) of one step of the Gaussian mechanism (noise multiplier z > 0) on a
 * sample drawn without replacement with ratio q = sampleSize/sourceSize ∈ (0, 1],
 * replace-one relation, at each order (WBK 2019 Theorem 9 / arXiv Theorem 27;
 * fractional orders by Corollary 10). At q = 1 it is the Gaussian α/(2z²).
 */
export function computeSampleWorRdp(q: number, z: number, orders: readonly number[]): number[] {
  if (q === 1) return orders.map((alpha) => alpha / (2 * z * z));
  const logQ = Math.log(q);
  let maxCeil = 2;
  for (const alpha of orders) maxCeil = Math.max(maxCeil, Math.ceil(alpha));
  const differences = evenForwardDifferences(z, Math.min(maxCeil + 1, EXACT_MAX_ORDER));
  const buffer = new Float64Array(maxCeil + 1);
  const logAByOrder = new Map<number, number>();
  const logA = (alpha: number): number => {
    let value = logAByOrder.get(alpha);
    if (value === undefined) {
      value = logAInteger(alpha, logQ, z, differences, buffer);
      logAByOrder.set(alpha, value);
    }
    return value;
  };
  return orders.map((alpha) => {
    if (Number.isInteger(alpha)) return logA(alpha) / (alpha - 1);
    const floor = Math.floor(alpha);
    const t = alpha - floor;
    return ((1 - t) * logA(floor) + t * logA(floor + 1)) / (alpha - 1);
  });
}
