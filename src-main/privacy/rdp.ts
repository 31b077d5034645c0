/**
 * Rényi differential privacy (Mironov 2017, "Rényi Differential Privacy",
 * CSF) of a privacy event, at a grid of orders, under an explicit
 * neighbouring relation.
 */
import { UserError } from '../contract/errors';
import { effectiveNoiseMultiplier, requireEvent, type PrivacyEvent } from './events';
import { DEFAULT_ORDERS, validateOrders } from './orders';
import { computePoissonRdp } from './rdp-poisson';
import { computeSampleWorRdp } from './rdp-sample-wor';
import { invalid, requirePositive, requireRate } from './validate';

export { DEFAULT_ORDERS } from './orders';

/**
 * Which datasets count as neighbours: `'add-remove'` (one record added or
 * removed; Poisson subsampling) or `'replace-one'` (one record replaced by
 * another, dataset size public; sampling without replacement).
 */
export type NeighbouringRelation = 'add-remove' | 'replace-one';

/** Checks a neighbouring relation given by a caller. */
export function validateNeighbouring(value: unknown): NeighbouringRelation {
  if (value !== 'add-remove' && value !== 'replace-one') {
    invalid('neighbouring', value, "'add-remove' or 'replace-one'");
  }
  return value;
}

function ordersOrDefault(orders: readonly number[] | undefined): readonly number[] {
  return orders === undefined || orders === DEFAULT_ORDERS
    ? DEFAULT_ORDERS
    : validateOrders(orders);
}

/**
 * RDP of the Gaussian mechanism with noise multiplier z at each order
 * (default {@link DEFAULT_ORDERS}): ε(α) = α/(2z²) (Mironov 2017,
 * Proposition 7). The same under both relations when z is measured against
 * that relation's L2 sensitivity.
 */
export function gaussianRdp(options: {
  noiseMultiplier: number;
  orders?: readonly number[];
}): number[] {
  const z = requirePositive('noiseMultiplier', options?.noiseMultiplier);
  return ordersOrDefault(options.orders).map((alpha) => alpha / (2 * z * z));
}

/**
 * One-step RDP of the Poisson-subsampled Gaussian mechanism (add/remove
 * relation) at each order: Mironov, Talwar, Zhang 2019, Sec. 3.3 — the
 * binomial sum at integer orders, the exact signed series at fractional ones.
 */
export function poissonSubsampledGaussianRdp(options: {
  sampleRate: number;
  noiseMultiplier: number;
  orders?: readonly number[];
}): number[] {
  const q = requireRate('sampleRate', options?.sampleRate);
  const z = requirePositive('noiseMultiplier', options.noiseMultiplier);
  return computePoissonRdp(q, z, ordersOrDefault(options.orders));
}

/**
 * One-step RDP of the Gaussian mechanism on a sample drawn without
 * replacement, replace-one relation, at each order: the bound of Wang, Balle,
 * Kasiviswanathan 2019 (Theorem 9; arXiv 1808.00087 Theorem 27 and
 * Corollary 10), with dp_accounting's conventions. `sampleRate` = m/n.
 */
export function sampledWithoutReplacementGaussianRdp(options: {
  sampleRate: number;
  noiseMultiplier: number;
  orders?: readonly number[];
}): number[] {
  const q = requireRate('sampleRate', options?.sampleRate);
  const z = requirePositive('noiseMultiplier', options.noiseMultiplier);
  return computeSampleWorRdp(q, z, ordersOrDefault(options.orders));
}

// Per-step RDP vectors of subsampled events at the default orders, keyed by
// kind, rate and noise multiplier: calibration and curves ask for the same
// vectors again and again.
const stepCache = new Map<string, readonly number[]>();
const STEP_CACHE_SIZE = 256;

function cachedStep(
  key: string,
  orders: readonly number[],
  compute: () => number[],
): readonly number[] {
  if (orders !== DEFAULT_ORDERS) return compute();
  const hit = stepCache.get(key);
  if (hit) return hit;
  const value = Object.freeze(compute());
  if (stepCache.size >= STEP_CACHE_SIZE) {
    const oldest = stepCache.keys().next().value;
    if (oldest !== undefined) stepCache.delete(oldest);
  }
  stepCache.set(key, value);
  return value;
}

function unsupported(what: string, needed: NeighbouringRelation, got: NeighbouringRelation): never {
  throw new UserError(
    'UNSUPPORTED',
    `A ${what} event can only be accounted under the '${needed}' neighbouring relation, ` +
      `but the accountant uses '${got}'. Create the accountant with neighbouring: '${needed}'.`,
  );
}

function accumulate(
  event: PrivacyEvent,
  count: number,
  neighbouring: NeighbouringRelation,
  orders: readonly number[],
  into: number[],
): void {
  if (count === 0) return;
  switch (event.kind) {
    case 'gaussian': {
      const z = event.noiseMultiplier;
      for (let k = 0; k < orders.length; k++) {
        into[k] = (into[k] as number) + count * ((orders[k] as number) / (2 * z * z));
      }
      return;
    }
    case 'composed':
      for (const inner of event.events) accumulate(inner, count, neighbouring, orders, into);
      return;
    case 'self-composed':
      accumulate(event.event, count * event.count, neighbouring, orders, into);
      return;
    case 'poisson-sampled': {
      if (neighbouring !== 'add-remove') unsupported('Poisson-sampled', 'add-remove', neighbouring);
      const z = effectiveNoiseMultiplier(event.event) as number;
      const q = event.sampleRate;
      const step = cachedStep(`p|${q}|${z}`, orders, () => computePoissonRdp(q, z, orders));
      for (let k = 0; k < orders.length; k++) {
        into[k] = (into[k] as number) + count * (step[k] as number);
      }
      return;
    }
    case 'sampled-without-replacement': {
      if (neighbouring !== 'replace-one') {
        unsupported('sampled-without-replacement', 'replace-one', neighbouring);
      }
      const z = effectiveNoiseMultiplier(event.event) as number;
      const q = event.sampleSize / event.sourceSize;
      const step = cachedStep(`w|${q}|${z}`, orders, () => computeSampleWorRdp(q, z, orders));
      for (let k = 0; k < orders.length; k++) {
        into[k] = (into[k] as number) + count * (step[k] as number);
      }
      return;
    }
  }
}

/**
 * RDP of `event` at each of `orders` (default {@link DEFAULT_ORDERS}) under
 * the `neighbouring` relation. Composition adds RDP and self-composition
 * multiplies it by the count (Mironov 2017, Proposition 1). Poisson sampling
 * needs `'add-remove'`, sampling without replacement `'replace-one'`
 * (otherwise a UserError 'UNSUPPORTED').
 */
export function rdpOfEvent(options: {
  event: PrivacyEvent;
  neighbouring: NeighbouringRelation;
  orders?: readonly number[];
}): number[] {
  const neighbouring = validateNeighbouring(options.neighbouring);
  const orders = ordersOrDefault(options.orders);
  const rdp = new Array<number>(orders.length).fill(0);
  accumulate(requireEvent('event', options.event), 1, neighbouring, orders, rdp);
  return rdp;
}
