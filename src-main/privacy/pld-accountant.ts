/**
 * The PLD accountant: privacy events composed as privacy loss distributions
 * (see pld.ts), reporting ε for δ and δ for ε. It accounts for
 *
 * - the Gaussian mechanism (either relation; z against that relation's
 *   sensitivity);
 * - the Poisson-subsampled Gaussian under add/remove: both orderings of the
 *   neighbouring pair are composed separately and the worse is reported
 *   (Zhu, Dong, Wang 2022, "Optimal accounting of differential privacy via
 *   characteristic function", AISTATS: Poisson subsampling's dominating pairs
 *   for the remove and the add direction, composed by their adaptive
 *   composition theorem for dominating pairs);
 * - one record (block) sampled out of n without replacement, Gaussian inside,
 *   under replace-one: the symmetrised Poisson pair at q = 1/n (see
 *   {@link PldDirection} 'symmetric' and the TSDoc of
 *   {@link sampledBlockGaussianPld}).
 *
 * Events are kept as a list of (rate, noise, count) terms and composed only
 * when ε or δ is asked for: identical terms are self-composed by one FFT each,
 * different ones convolved.
 */
import { UserError } from '../contract/errors';
import { effectiveNoiseMultiplier, requireEvent, type PrivacyEvent } from './events';
import {
  DEFAULT_DISCRETIZATION,
  DiscretePld,
  gaussianDelta,
  poissonGaussianPld,
  type PldDirection,
} from './pld';
import { validateNeighbouring, type NeighbouringRelation } from './rdp';
import { invalid, requireDelta, requireEpsilon, requireInteger } from './validate';

export { PLD_ACCOUNTANT_VERSION } from './pld';

/** One kind of step, repeated `count` times: Poisson rate q (1 = no sampling), noise z. */
interface Term {
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  /** 'pair' = both orderings separately (add/remove); 'symmetric' = one symmetric pair. */
  readonly kind: 'pair' | 'symmetric';
  readonly count: number;
}

function requireDiscretization(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    invalid(
      'discretization',
      value,
      'a grid width greater than 0 and at most 1 (for example 1e-4)',
    );
  }
  return value;
}

// One-step PLDs are costly to build (10⁴–10⁶ hockey-stick evaluations) and are
// asked for again and again by calibration and curves: keep the last few.
const stepCache = new Map<string, DiscretePld>();
const STEP_CACHE_SIZE = 8;

/**
 * The pessimistic one-step PLD of the Poisson-subsampled Gaussian (rate q,
 * noise multiplier z) in one direction, cached. At q = 1 every direction is
 * the Gaussian mechanism's.
 */
function stepPld(q: number, z: number, direction: PldDirection, h: number): DiscretePld {
  const key = `${q}|${z}|${q === 1 ? 'gaussian' : direction}|${h}`;
  const hit = stepCache.get(key);
  if (hit) {
    stepCache.delete(key);
    stepCache.set(key, hit);
    return hit;
  }
  const pld = poissonGaussianPld({
    sampleRate: q,
    noiseMultiplier: z,
    direction: q === 1 ? 'remove' : direction,
    discretization: h,
  });
  if (stepCache.size >= STEP_CACHE_SIZE) {
    const oldest = stepCache.keys().next().value;
    if (oldest !== undefined) stepCache.delete(oldest);
  }
  stepCache.set(key, pld);
  return pld;
}

/**
 * The PLD of `count` runs of one term in one direction. Runs of the plain
 * Gaussian mechanism compose exactly into one Gaussian with z/√count (Dong,
 * Roth, Su 2022, Corollary 2), so no FFT is needed for them.
 */
function termPld(term: Term, direction: PldDirection, h: number): DiscretePld {
  const { sampleRate: q, noiseMultiplier: z, count } = term;
  if (count === 0) return DiscretePld.identity(h);
  if (q === 1) return stepPld(1, z / Math.sqrt(count), 'remove', h);
  return stepPld(q, z, direction, h).selfCompose(count);
}

/**
 * The PLD of one step of DP²-VAE-style block sampling — one of n records
 * (blocks) picked uniformly, the Gaussian mechanism applied to it, replace-one
 * relation, noise multiplier z against the replace-one sensitivity — on a
 * grid of width h: the one-step PLD of the symmetrised Poisson pair at
 * q = 1/n (direction 'symmetric' of {@link poissonGaussianPld}).
 *
 * Why it dominates, for every ε ∈ ℝ (the condition composition needs; Zhu,
 * Dong, Wang 2022, Definition 7): given the public history, the step's outputs
 * under neighbours are P = (1 − q)M + q·A and Q = (1 − q)M + q·B, with M the
 * other records' mixture (the same under both) and every Gaussian component
 * of M, A and B centred within the replace-one sensitivity of each other. For
 * ε ≥ 0, advanced joint convexity (Balle, Barthe, Gaboardi 2018, "Privacy
 * amplification by subsampling: tight analyses via couplings and
 * divergences", NeurIPS, Theorem 2) and joint convexity give
 * H_{e^ε}(P‖Q) ≤ δ_remove(ε); swapping the neighbours gives the same bound for
 * H_{e^ε}(Q‖P), hence H_{e^ε}(P‖Q) ≤ 1 − e^ε + e^ε·δ_remove(−ε) for ε < 0 —
 * both at most the symmetric profile max(δ_remove, δ_add). Equivalently, in
 * f-DP, each step is C_q(G_{1/z})-DP (Dong, Roth, Su 2022, "Gaussian
 * differential privacy", JRSS-B, subsampling theorem for sampling without
 * replacement), whose privacy profile is that maximum. The adaptive
 * composition theorem for dominating pairs (Zhu, Dong, Wang 2022) then
 * composes the steps. The argument needs each step to depend on the data only
 * through the sampled record and the public history (no hidden state carried
 * from earlier samplings).
 */
export function sampledBlockGaussianPld(options: {
  sourceSize: number;
  noiseMultiplier: number;
  discretization?: number;
}): DiscretePld {
  const n = requireInteger('sourceSize', options?.sourceSize, 1);
  const h = requireDiscretization(options.discretization ?? DEFAULT_DISCRETIZATION);
  return stepPld(1 / n, options.noiseMultiplier, 'symmetric', h);
}

function unsupported(message: string): never {
  throw new UserError('UNSUPPORTED', message);
}

function collect(
  event: PrivacyEvent,
  count: number,
  neighbouring: NeighbouringRelation,
  into: Term[],
): void {
  if (count === 0) return;
  switch (event.kind) {
    case 'gaussian':
      into.push({
        sampleRate: 1,
        noiseMultiplier: event.noiseMultiplier,
        kind: 'pair',
        count,
      });
      return;
    case 'composed':
      for (const inner of event.events) collect(inner, count, neighbouring, into);
      return;
    case 'self-composed':
      collect(event.event, count * event.count, neighbouring, into);
      return;
    case 'poisson-sampled': {
      if (neighbouring !== 'add-remove') {
        unsupported(
          "A Poisson-sampled event can only be accounted under the 'add-remove' neighbouring " +
            `relation, but the accountant uses '${neighbouring}'. Create the accountant with ` +
            "neighbouring: 'add-remove'.",
        );
      }
      into.push({
        sampleRate: event.sampleRate,
        noiseMultiplier: effectiveNoiseMultiplier(event.event) as number,
        kind: 'pair',
        count,
      });
      return;
    }
    case 'sampled-without-replacement': {
      if (neighbouring !== 'replace-one') {
        unsupported(
          "A sampled-without-replacement event can only be accounted under the 'replace-one' " +
            `neighbouring relation, but the accountant uses '${neighbouring}'. Create the ` +
            "accountant with neighbouring: 'replace-one'.",
        );
      }
      if (event.sampleSize !== 1) {
        unsupported(
          `The PLD accountant handles sampling without replacement only for one record (block) ` +
            `per step; this event samples ${event.sampleSize} of ${event.sourceSize}. ` +
            "Use the RDP accountant (accountant: 'rdp') for it.",
        );
      }
      into.push({
        sampleRate: 1 / event.sourceSize,
        noiseMultiplier: effectiveNoiseMultiplier(event.event) as number,
        kind: 'symmetric',
        count,
      });
      return;
    }
  }
}

/** The smallest ε ≥ 0 with δ_G(ε) ≤ δ for the Gaussian of noise multiplier z (upper end of a bisection). */
function exactGaussianEpsilon(z: number, delta: number): number {
  if (gaussianDelta({ noiseMultiplier: z, epsilon: 0 }) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (gaussianDelta({ noiseMultiplier: z, epsilon: hi }) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return Infinity;
  }
  while (hi - lo > 1e-12 * hi) {
    const mid = (lo + hi) / 2;
    if (gaussianDelta({ noiseMultiplier: z, epsilon: mid }) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Merges terms with the same rate, noise and kind (their counts add). */
function merge(terms: readonly Term[]): Term[] {
  const byKey = new Map<string, Term>();
  for (const t of terms) {
    const key = `${t.sampleRate}|${t.noiseMultiplier}|${t.kind}`;
    const seen = byKey.get(key);
    byKey.set(key, seen ? { ...seen, count: seen.count + t.count } : t);
  }
  return [...byKey.values()];
}

/**
 * An immutable PLD accountant (privacy loss distributions; Koskela, Jälkö,
 * Honkela 2020; discretised by connect-the-dots, Doroshenko et al. 2022).
 * `compose` returns a new accountant with the event added; `epsilon` and
 * `delta` compose everything so far and read the hockey-stick divergence of
 * the worse neighbouring direction. Results are valid upper bounds: the
 * discretisation, the tail truncation and the FFT's folding all round
 * pessimistically.
 */
export class PldAccountant {
  /** The neighbouring relation every composed event is accounted under. */
  readonly neighbouring: NeighbouringRelation;
  /** The width of the privacy-loss grid. */
  readonly discretization: number;
  private readonly terms: readonly Term[];

  private constructor(neighbouring: NeighbouringRelation, discretization: number, terms: Term[]) {
    this.neighbouring = neighbouring;
    this.discretization = discretization;
    this.terms = Object.freeze(terms);
    Object.freeze(this);
  }

  /**
   * A fresh accountant (no privacy spent) for the given relation and grid
   * width (default {@link DEFAULT_DISCRETIZATION}; coarser is faster and
   * looser, never invalid).
   */
  static create(options: {
    neighbouring: NeighbouringRelation;
    discretization?: number;
  }): PldAccountant {
    const neighbouring = validateNeighbouring(options?.neighbouring);
    const h = requireDiscretization(options.discretization ?? DEFAULT_DISCRETIZATION);
    return new PldAccountant(neighbouring, h, []);
  }

  /** A new accountant with `event` composed in, `count` times (default 1). */
  compose(event: PrivacyEvent, options: { count?: number } = {}): PldAccountant {
    const count = requireInteger('count', options?.count ?? 1, 0);
    const added: Term[] = [];
    collect(requireEvent('event', event), count, this.neighbouring, added);
    return new PldAccountant(
      this.neighbouring,
      this.discretization,
      merge([...this.terms, ...added]),
    );
  }

  /** The composed PLDs of the two directions (the same object twice when symmetric). */
  private composed(): { first: DiscretePld; second: DiscretePld } {
    const h = this.discretization;
    const terms = this.terms.filter((t) => t.count > 0);
    let first: DiscretePld | undefined;
    let second: DiscretePld | undefined;
    let asymmetric = false;
    for (const term of terms) {
      const one =
        term.kind === 'symmetric' ? termPld(term, 'symmetric', h) : termPld(term, 'remove', h);
      const other =
        term.kind === 'symmetric' || term.sampleRate === 1 ? one : termPld(term, 'add', h);
      if (one !== other) asymmetric = true;
      first = first ? first.compose(one) : one;
      second = second ? second.compose(other) : other;
    }
    const identity = DiscretePld.identity(h);
    if (!first || !second) return { first: identity, second: identity };
    return { first, second: asymmetric ? second : first };
  }

  /**
   * When every composed event is a plain Gaussian mechanism, their composition
   * is exactly one Gaussian with z = (Σ count/z_i²)^{−1/2} (Dong, Roth, Su 2022,
   * Corollary 2): its noise multiplier, else undefined.
   */
  private gaussianOnly(): number | undefined {
    const terms = this.terms.filter((t) => t.count > 0);
    if (terms.length === 0 || terms.some((t) => t.sampleRate !== 1)) return undefined;
    let inverseSquares = 0;
    for (const t of terms) inverseSquares += t.count / (t.noiseMultiplier * t.noiseMultiplier);
    return 1 / Math.sqrt(inverseSquares);
  }

  /**
   * The smallest ε ≥ 0 such that everything composed so far is (ε, δ)-DP
   * (+Infinity if none). Under add/remove it is the larger of the two
   * directions' ε. A composition of Gaussian mechanisms alone is answered
   * exactly from the Gaussian's profile (Balle and Wang 2018, Theorem 8),
   * with ε found by bisection to 1e-12 relative (the upper end is returned).
   */
  epsilon(options: { delta: number }): { epsilon: number } {
    const delta = requireDelta('delta', options?.delta);
    const z = this.gaussianOnly();
    if (z !== undefined) return { epsilon: exactGaussianEpsilon(z, delta) };
    const { first, second } = this.composed();
    const epsilon = first.epsilonForDelta(delta);
    if (second === first) return { epsilon };
    return { epsilon: Math.max(epsilon, second.epsilonForDelta(delta)) };
  }

  /** The smallest δ such that everything composed so far is (ε, δ)-DP. */
  delta(options: { epsilon: number }): { delta: number } {
    const epsilon = requireEpsilon('epsilon', options?.epsilon);
    const z = this.gaussianOnly();
    if (z !== undefined) return { delta: gaussianDelta({ noiseMultiplier: z, epsilon }) };
    const { first, second } = this.composed();
    const delta = first.deltaForEpsilon(epsilon);
    if (second === first) return { delta };
    return { delta: Math.max(delta, second.deltaForEpsilon(epsilon)) };
  }
}
