/**
 * Rényi DP of the Poisson-subsampled Gaussian mechanism under the add/remove
 * neighbouring relation (Mironov, Talwar, Zhang 2019, "Rényi Differential
 * Privacy of the Sampled Gaussian Mechanism", arXiv 1908.10530).
 *
 * With μ0 = N(0, z²), μ1 = N(1, z²) and sampling rate q, the RDP at order α is
 * ε(α) = log(A_α)/(α − 1), A_α = E_{x∼μ0}[(1 − q + q·μ1(x)/μ0(x))^α].
 */
import { LN2, log1pExp, logAdd, logComb, logErfc, logExpm1, logSumExp } from './numeric';

/** Iteration cap of the fractional-order series; an order that needs more is dropped (ε = ∞). */
const MAX_SERIES_TERMS = 100_000;
/** Partial sums averaged to accelerate the alternating tail of that series. */
const ACCELERATION_DEPTH = 8;

/**
 * log(A_α − 1) for an integer order α ≥ 2 (MTZ 2019, Sec. 3.3, integer case):
 * A_α = Σ_i C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/(2z²)}. Because the binomial
 * weights sum to 1, A_α − 1 = Σ_{i≥2} C(α,i) q^i (1−q)^{α−i} (e^{(i²−i)/(2z²)} − 1),
 * a sum of positive terms, which keeps full relative precision even when
 * A_α − 1 is tiny (small q).
 */
function logAMinusOneInteger(
  alpha: number,
  logQ: number,
  log1mQ: number,
  logExpm1Gauss: Float64Array,
  buffer: Float64Array,
): number {
  let n = 0;
  for (let i = 2; i <= alpha; i++) {
    buffer[n++] =
      logComb(alpha, i) + i * logQ + (alpha - i) * log1mQ + (logExpm1Gauss[i] as number);
  }
  return logSumExp(buffer, n);
}

/**
 * log(A_α) for a fractional order α by the exact signed series of MTZ 2019,
 * Sec. 3.3: split the integral at z0 = z²·log(1/q − 1) + 1/2, expand each half
 * binomially (generalised binomial coefficients alternate in sign for i > α)
 * and integrate term by term against the Gaussian, which gives erfc factors.
 * Unlike dp_accounting (which sums absolute values, a looser bound) this keeps
 * the signs, as Opacus's `_compute_log_a_for_frac_alpha` does. Returns NaN if
 * the series fails to converge.
 */
function logAFractional(
  alpha: number,
  z: number,
  logQ: number,
  log1mQ: number,
  lowerErfc: LowerErfcTable,
): number {
  const halfInvVar = 1 / (2 * z * z);
  const z0 = z * z * (log1mQ - logQ) + 0.5;
  const erfcScale = 1 / (Math.SQRT2 * z);
  // The two halves are summed in linear space relative to a common scale e^shift
  // (moved up whenever a term would overflow), with signs: the same arithmetic
  // as log-space signed addition, without allocating per term.
  let shift = -Infinity;
  let lower = 0;
  let upper = 0;
  let logAbsCoef = 0; // log |C(α, i)|
  let sign = 1; // sign of C(α, i)
  let last0 = Infinity;
  let last1 = Infinity;
  const partial = new Float64Array(ACCELERATION_DEPTH + 1); // last partial sums, ring buffer
  const level = new Float64Array(ACCELERATION_DEPTH + 1);
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    if (i > 0) {
      const ratio = (alpha - i + 1) / i;
      logAbsCoef += Math.log(Math.abs(ratio));
      if (ratio < 0) sign = -sign;
    }
    const j = alpha - i;
    const s0 = logAbsCoef + i * logQ + j * log1mQ + (i * i - i) * halfInvVar + lowerErfc.at(i);
    const s1 =
      logAbsCoef +
      j * logQ +
      i * log1mQ +
      (j * j - j) * halfInvVar +
      logErfc((z0 - j) * erfcScale) -
      LN2;
    const top = s0 > s1 ? s0 : s1;
    if (top > shift + 600 || shift === -Infinity) {
      const rescale = shift === -Infinity ? 0 : Math.exp(shift - top);
      lower *= rescale;
      upper *= rescale;
      for (let k = 0; k < partial.length; k++) partial[k] = (partial[k] as number) * rescale;
      shift = top;
    }
    lower += sign * Math.exp(s0 - shift);
    upper += sign * Math.exp(s1 - shift);
    const total = lower + upper;
    partial[i % partial.length] = total;
    if (i > alpha && s0 < last0 && s1 < last1) {
      const logTotal = total > 0 ? shift + Math.log(total) : Infinity;
      // A_α ≥ 1, so e^-36 relative to the total is at least e^-36 absolute: about
      // one ulp of A_α, stricter than Opacus's e^-30, which truncates a tail
      // comparable to A_α − 1 when q is tiny.
      const tolerance = logTotal - 36;
      // Stop once the newest terms are negligible…
      if (top < tolerance) return total > 0 ? logTotal : NaN;
      // …or, in the alternating tail, once repeated averaging of the last
      // partial sums (the Euler–van Wijngaarden transform) has converged to
      // that tolerance: the terms decay only polynomially there, like i^(−α−2).
      if (i > alpha + ACCELERATION_DEPTH + 2 && top < logTotal - 8) {
        for (let k = 0; k <= ACCELERATION_DEPTH; k++) {
          level[k] = partial[(i - ACCELERATION_DEPTH + k) % partial.length] as number;
        }
        for (let m = ACCELERATION_DEPTH; m > 1; m--) {
          for (let k = 0; k < m; k++)
            level[k] = ((level[k] as number) + (level[k + 1] as number)) / 2;
        }
        const spread = Math.abs((level[1] as number) - (level[0] as number));
        const estimate = ((level[0] as number) + (level[1] as number)) / 2;
        if (estimate > 0 && shift + Math.log(spread) < tolerance) {
          return shift + Math.log(estimate);
        }
      }
    }
    last0 = s0;
    last1 = s1;
  }
  return NaN;
}

/**
 * log(½·erfc((i − z0)/(√2·z))) for i = 0, 1, 2, …: the lower-half factor of the
 * fractional series, which does not depend on α and is shared by all orders.
 */
class LowerErfcTable {
  private values = new Float64Array(64);
  private filled = 0;
  private readonly z0: number;
  private readonly scale: number;

  constructor(z: number, logQ: number, log1mQ: number) {
    this.z0 = z * z * (log1mQ - logQ) + 0.5;
    this.scale = 1 / (Math.SQRT2 * z);
  }

  at(i: number): number {
    if (i >= this.filled) {
      if (i >= this.values.length) {
        const grown = new Float64Array(Math.max(2 * this.values.length, i + 1));
        grown.set(this.values);
        this.values = grown;
      }
      for (let k = this.filled; k <= i; k++) {
        this.values[k] = logErfc((k - this.z0) * this.scale) - LN2;
      }
      this.filled = i + 1;
    }
    return this.values[i] as number;
  }
}

/**
 * RDP ε(α) of one step of the Poisson-subsampled Gaussian mechanism with
 * sampling rate q ∈ (0, 1] and noise multiplier z > 0, at each order
 * (MTZ 2019, Sec. 3.3). At q = 1 this is the Gaussian α/(2z²). Integer orders
 * use the binomial sum; fractional orders the signed series. An order whose
 * series does not converge gets +Infinity (it then never wins the ε minimum).
 */
export function computePoissonRdp(q: number, z: number, orders: readonly number[]): number[] {
  if (q === 1) return orders.map((alpha) => alpha / (2 * z * z));
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let maxInteger = 2;
  for (const alpha of orders) if (Number.isInteger(alpha) && alpha > maxInteger) maxInteger = alpha;
  // log(e^{(i²−i)/(2z²)} − 1), shared by all integer orders.
  const logExpm1Gauss = new Float64Array(maxInteger + 1);
  for (let i = 0; i <= maxInteger; i++) logExpm1Gauss[i] = logExpm1((i * i - i) / (2 * z * z));
  const buffer = new Float64Array(maxInteger + 1);
  const lowerErfc = new LowerErfcTable(z, logQ, log1mQ);
  return orders.map((alpha) => {
    if (Number.isInteger(alpha)) {
      const logAm1 = logAMinusOneInteger(alpha, logQ, log1mQ, logExpm1Gauss, buffer);
      return log1pExp(logAm1) / (alpha - 1);
    }
    const logA = logAFractional(alpha, z, logQ, log1mQ, lowerErfc);
    if (Number.isNaN(logA)) return Infinity;
    return Math.max(0, logA) / (alpha - 1);
  });
}

/** Exposed for tests: log(A_α) exactly as used above (integer or fractional α). */
export function poissonLogA(q: number, z: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  if (!Number.isInteger(alpha)) {
    return logAFractional(alpha, z, logQ, log1mQ, new LowerErfcTable(z, logQ, log1mQ));
  }
  const table = new Float64Array(alpha + 1);
  for (let i = 0; i <= alpha; i++) table[i] = logExpm1((i * i - i) / (2 * z * z));
  return logAdd(0, logAMinusOneInteger(alpha, logQ, log1mQ, table, new Float64Array(alpha + 1)));
}
