/**
 * Conversion from Rényi DP to (ε, δ)-DP with the improved bound of Balle,
 * Barthe, Gaboardi, Hsu, Sato 2020 ("Hypothesis testing interpretations and
 * Rényi differential privacy", AISTATS, Theorem 21) and Canonne, Kamath,
 * Steinke 2020 ("The discrete Gaussian for differential privacy",
 * Proposition 12 of arXiv 2004.00010): a mechanism with RDP r at order α is
 * (ε, δ)-DP for
 *
 *   ε = r + log(1 − 1/α) − (log δ + log α)/(α − 1),
 *
 * minimised over the orders. As in dp_accounting, orders α ≤ 1.01 are skipped
 * (the bound is numerically unstable there), and every order also offers the
 * KL bound δ ≤ sqrt(1 − e^{−r}) (Rényi divergence grows with α, so r ≥ KL),
 * which yields ε = 0 when δ is that large.
 */
import { invalid, requireDelta, requireEpsilon } from './validate';

/** Smallest order at which the improved conversion is used (dp_accounting's). */
const MIN_CONVERSION_ORDER = 1.01;

function checkCurve(orders: readonly number[], rdp: readonly number[]): void {
  if (!Array.isArray(orders) || !Array.isArray(rdp) || orders.length !== rdp.length) {
    invalid('rdp', rdp, 'a list of RDP values, one per order');
  }
  if (orders.length === 0) invalid('orders', orders, 'a non-empty list of Rényi orders');
  orders.forEach((alpha, i) => {
    if (typeof alpha !== 'number' || Number.isNaN(alpha) || alpha < 1) {
      invalid(`orders[${i}]`, alpha, 'a Rényi order of at least 1');
    }
  });
  rdp.forEach((r, i) => {
    if (typeof r !== 'number' || Number.isNaN(r)) invalid(`rdp[${i}]`, r, 'a number');
  });
}

/**
 * The smallest ε such that RDP curve (`orders`, `rdp`) implies (ε, δ)-DP,
 * never negative, with the order that achieves it (Balle et al. 2020,
 * Theorem 21; Canonne, Kamath, Steinke 2020, Proposition 12). ε is +Infinity
 * (with the first order) when no order gives a finite bound.
 */
export function epsilonFromRdp(options: {
  orders: readonly number[];
  rdp: readonly number[];
  delta: number;
}): { epsilon: number; order: number } {
  const { orders, rdp } = options;
  const delta = requireDelta('delta', options.delta);
  checkCurve(orders, rdp);
  const logDelta = Math.log(delta);
  const deltaSquared = delta * delta;
  let best = Infinity;
  let bestOrder = orders[0] as number;
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k] as number;
    const r = rdp[k] as number;
    let epsilon: number;
    if (r <= 0 || deltaSquared + Math.expm1(-r) > 0) {
      epsilon = 0; // KL bound: δ ≥ sqrt(1 − e^{−r}) already.
    } else if (alpha > MIN_CONVERSION_ORDER && r < Infinity) {
      epsilon = r + Math.log1p(-1 / alpha) - (logDelta + Math.log(alpha)) / (alpha - 1);
    } else {
      epsilon = Infinity;
    }
    if (epsilon < best) {
      best = epsilon;
      bestOrder = alpha;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/**
 * The smallest δ such that RDP curve (`orders`, `rdp`) implies (ε, δ)-DP, with
 * the order that achieves it: the inverse of {@link epsilonFromRdp}, per order
 * log δ = (α − 1)(r − ε + log(1 − 1/α)) − log α, or the KL bound
 * ½·log(1 − e^{−r}) when smaller (dp_accounting's `compute_delta`). δ ≤ 1.
 */
export function deltaFromRdp(options: {
  orders: readonly number[];
  rdp: readonly number[];
  epsilon: number;
}): { delta: number; order: number } {
  const { orders, rdp } = options;
  const epsilon = requireEpsilon('epsilon', options.epsilon);
  checkCurve(orders, rdp);
  let best = Infinity;
  let bestOrder = orders[0] as number;
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k] as number;
    const r = rdp[k] as number;
    let logDelta = r <= 0 ? -Infinity : 0.5 * Math.log1p(-Math.exp(-r));
    if (alpha > MIN_CONVERSION_ORDER && r < Infinity) {
      const bound = (alpha - 1) * (r - epsilon + Math.log1p(-1 / alpha)) - Math.log(alpha);
      if (bound < logDelta) logDelta = bound;
    }
    if (logDelta < best) {
      best = logDelta;
      bestOrder = alpha;
    }
  }
  return { delta: Math.min(Math.exp(best), 1), order: bestOrder };
}
