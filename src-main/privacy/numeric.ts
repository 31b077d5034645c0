/**
 * Log-space arithmetic and special functions used by the RDP accountant.
 *
 * Everything here works on plain doubles and is written for the ranges the
 * accountant meets: sums of terms whose logarithms span thousands of units,
 * binomial coefficients of orders up to {@link MAX_ORDER}, and the
 * complementary error function far into its tail.
 */

/** ln 2. */
export const LN2 = Math.LN2;

/** Unit round-off of IEEE-754 double precision, 2^-53. */
export const UNIT_ROUNDOFF = 2 ** -53;

/** The largest Rényi order the accountant accepts (binomial tables go this far). */
export const MAX_ORDER = 10_000;

/**
 * log(e^a + e^b) without overflow. Either argument may be -Infinity (a zero
 * in linear space).
 */
export function logAdd(a: number, b: number): number {
  const hi = a > b ? a : b;
  const lo = a > b ? b : a;
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(1 + e^x) without overflow. */
export function log1pExp(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** log(e^x - 1) for x ≥ 0 (−Infinity at 0). */
export function logExpm1(x: number): number {
  if (x === 0) return -Infinity;
  return x < 30 ? Math.log(Math.expm1(x)) : x + Math.log1p(-Math.exp(-x));
}

/**
 * log Σ e^{x_i} over the first `n` entries of `xs` (max-shifted, one exp per
 * term). −Infinity entries are zeros.
 */
export function logSumExp(xs: ArrayLike<number>, n: number = xs.length): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xs[i] as number;
    if (x > max) max = x;
  }
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp((xs[i] as number) - max);
  return max + Math.log(sum);
}

// --- log-factorials -------------------------------------------------------

let logFactorials = new Float64Array([0, 0]);

/**
 * log(n!) for integers 0 ≤ n ≤ MAX_ORDER + 1, from a table built once by
 * compensated (Kahan) summation of log k, so its error stays at a few ulps.
 */
export function logFactorial(n: number): number {
  if (n >= logFactorials.length) growLogFactorials(n);
  return logFactorials[n] as number;
}

function growLogFactorials(n: number): void {
  const size = Math.max(n + 1, Math.min(2 * logFactorials.length, MAX_ORDER + 2), 1100);
  const table = new Float64Array(size);
  let sum = 0;
  let compensation = 0;
  for (let k = 2; k < size; k++) {
    const y = Math.log(k) - compensation;
    const t = sum + y;
    compensation = t - sum - y;
    sum = t;
    table[k] = sum;
  }
  logFactorials = table;
}

/** log C(n, k) for integers 0 ≤ k ≤ n. */
export function logComb(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

// --- complementary error function ------------------------------------------
// Rational Chebyshev approximations of W. J. Cody, "Rational Chebyshev
// approximations for the error function", Math. Comp. 23 (1969) 631–637, as
// published (coefficients of the three intervals |x| ≤ 0.46875, ≤ 4, > 4).

const ERF_A = [
  3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315,
] as const;
const ERF_B = [
  23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171,
] as const;
const ERFC_C = [
  0.5641884969886701, 8.883149794388375, 66.11919063714163, 298.6351381974001, 881.952221241769,
  1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
] as const;
const ERFC_D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
  4362.619090143247, 3439.3676741437216, 1230.3393548037493,
] as const;
const ERFC_P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.01608378514874228,
  0.0006587491615298378, 0.016315387137302097,
] as const;
const ERFC_Q = [
  2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132,
  0.0023352049762686918,
] as const;
const INV_SQRT_PI = 0.5641895835477563;

/** erf(x) for |x| ≤ 0.46875 (Cody's first interval). */
function erfSmall(x: number): number {
  const z = x * x;
  let num = ERF_A[4] * z;
  let den = z;
  for (let i = 0; i < 3; i++) {
    num = (num + (ERF_A[i] as number)) * z;
    den = (den + (ERF_B[i] as number)) * z;
  }
  return (x * (num + ERF_A[3])) / (den + ERF_B[3]);
}

/** The scaled complement e^{x²}·erfc(x) for x > 0.46875 (Cody's 2nd and 3rd intervals). */
function erfcxLarge(y: number): number {
  if (y <= 4) {
    let num = ERFC_C[8] * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + (ERFC_C[i] as number)) * y;
      den = (den + (ERFC_D[i] as number)) * y;
    }
    return (num + ERFC_C[7]) / (den + ERFC_D[7]);
  }
  if (y >= 6.71e7) return INV_SQRT_PI / y;
  const z = 1 / (y * y);
  let num = ERFC_P[5] * z;
  let den = z;
  for (let i = 0; i < 4; i++) {
    num = (num + (ERFC_P[i] as number)) * z;
    den = (den + (ERFC_Q[i] as number)) * z;
  }
  const r = (z * (num + ERFC_P[4])) / (den + ERFC_Q[4]);
  return (INV_SQRT_PI - r) / y;
}

/** The complementary error function erfc(x) = 1 − erf(x), relative error ~1e-16. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  const tail = y > 27.3 ? 0 : Math.exp(-y * y) * erfcxLarge(y);
  return x > 0 ? tail : 2 - tail;
}

/**
 * log(erfc(x)) for every real x, accurate far into the upper tail where
 * erfc(x) underflows (log erfc(x) = −x² + log(e^{x²} erfc(x))).
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  const y = Math.abs(x);
  if (y <= 0.46875) return Math.log1p(-erfSmall(x));
  if (x > 0) return Math.log(erfcxLarge(y)) - y * y;
  if (y > 27.3) return LN2;
  return Math.log(2 - Math.exp(-y * y) * erfcxLarge(y));
}
