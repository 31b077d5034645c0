/**
 * Privacy events: an immutable description of what a training run did to the
 * private data, which the accountant turns into a privacy guarantee. The model
 * follows the DpEvent vocabulary of Google's dp_accounting library; every
 * event is deeply frozen once built and validated.
 */
import { UserError } from '../contract/errors';
import { invalid, requireInteger, requirePositive, requireRate } from './validate';

/**
 * The Gaussian mechanism: add N(0, (z·Δ)²) noise to a query of L2
 * sensitivity Δ. `noiseMultiplier` is z = noise std / L2 sensitivity; its
 * Rényi DP is α/(2z²) (Mironov 2017, "Rényi Differential Privacy", Prop. 7).
 */
export interface GaussianEvent {
  readonly kind: 'gaussian';
  readonly noiseMultiplier: number;
}

/**
 * Poisson subsampling: every record joins the batch independently with
 * probability `sampleRate`, then `event` runs on the batch (Mironov, Talwar,
 * Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism").
 * Accounted under the add/remove neighbouring relation.
 */
export interface PoissonSampledEvent {
  readonly kind: 'poisson-sampled';
  readonly sampleRate: number;
  readonly event: PrivacyEvent;
}

/**
 * Sampling without replacement: a uniformly random subset of `sampleSize`
 * out of `sourceSize` records, then `event` runs on it (Wang, Balle,
 * Kasiviswanathan 2019, AISTATS). Accounted under the replace-one relation.
 */
export interface SampledWithoutReplacementEvent {
  readonly kind: 'sampled-without-replacement';
  readonly sourceSize: number;
  readonly sampleSize: number;
  readonly event: PrivacyEvent;
}

/** Several events run one after another; Rényi DP adds up (Mironov 2017, Prop. 1). */
export interface ComposedEvent {
  readonly kind: 'composed';
  readonly events: readonly PrivacyEvent[];
}

/** The same event run `count` times; its Rényi DP is multiplied by `count`. */
export interface SelfComposedEvent {
  readonly kind: 'self-composed';
  readonly count: number;
  readonly event: PrivacyEvent;
}

/** Any privacy event the accountant understands. */
export type PrivacyEvent =
  | GaussianEvent
  | PoissonSampledEvent
  | SampledWithoutReplacementEvent
  | ComposedEvent
  | SelfComposedEvent;

// Every event built (and so validated) by the functions below; anything else
// is refused, so a hand-made object can never reach the accountant.
const BUILT = new WeakSet<object>();

function built<T extends PrivacyEvent>(event: T): T {
  BUILT.add(Object.freeze(event));
  return event;
}

/** True when `value` is an event built by one of the event functions of this module. */
export function isPrivacyEvent(value: unknown): value is PrivacyEvent {
  return typeof value === 'object' && value !== null && BUILT.has(value);
}

/** Returns `value` as an event, or throws INVALID_INPUT naming the field `name`. */
export function requireEvent(name: string, value: unknown): PrivacyEvent {
  if (!isPrivacyEvent(value)) {
    invalid(name, value, 'a privacy event built with the event functions (gaussianEvent, …)');
  }
  return value;
}

/**
 * The noise multiplier of the single Gaussian equivalent to `event`, when the
 * event is a Gaussian or a composition of Gaussians on the same data
 * (z_eff = (Σ z_i⁻²)^(−1/2); Mironov, Talwar, Zhang 2019, Sec. 3), else
 * `undefined`. Subsampled events accept only such inner events.
 */
export function effectiveNoiseMultiplier(event: PrivacyEvent): number | undefined {
  switch (event.kind) {
    case 'gaussian':
      return event.noiseMultiplier;
    case 'composed': {
      let inverseSquares = 0;
      for (const inner of event.events) {
        const z = effectiveNoiseMultiplier(inner);
        if (z === undefined) return undefined;
        inverseSquares += z ** -2;
      }
      return inverseSquares === 0 ? undefined : inverseSquares ** -0.5;
    }
    case 'self-composed': {
      const z = effectiveNoiseMultiplier(event.event);
      if (z === undefined || event.count === 0) return undefined;
      return z / Math.sqrt(event.count);
    }
    default:
      return undefined;
  }
}

function requireGaussianInside(name: string, event: PrivacyEvent): void {
  if (effectiveNoiseMultiplier(event) === undefined) {
    throw new UserError(
      'INVALID_INPUT',
      `${name} must be a Gaussian mechanism (or a composition of Gaussian mechanisms); ` +
        `a ${event.kind} event cannot be subsampled. Build the inner event with gaussianEvent.`,
    );
  }
}

/** Builds a Gaussian mechanism event; `noiseMultiplier` = noise std / L2 sensitivity > 0. */
export function gaussianEvent(options: { noiseMultiplier: number }): GaussianEvent {
  const noiseMultiplier = requirePositive('noiseMultiplier', options?.noiseMultiplier);
  return built({ kind: 'gaussian', noiseMultiplier });
}

/** Builds a Poisson-subsampled event; `sampleRate` q ∈ (0, 1], `event` a Gaussian. */
export function poissonSampledEvent(options: {
  sampleRate: number;
  event: PrivacyEvent;
}): PoissonSampledEvent {
  const sampleRate = requireRate('sampleRate', options?.sampleRate);
  const event = requireEvent('event', options.event);
  requireGaussianInside('The event inside a Poisson-sampled event', event);
  return built({ kind: 'poisson-sampled', sampleRate, event });
}

/**
 * Builds a sampled-without-replacement event: `sampleSize` of `sourceSize`
 * records (1 ≤ sampleSize ≤ sourceSize, whole numbers), `event` a Gaussian.
 */
export function sampledWithoutReplacementEvent(options: {
  sourceSize: number;
  sampleSize: number;
  event: PrivacyEvent;
}): SampledWithoutReplacementEvent {
  const sourceSize = requireInteger('sourceSize', options?.sourceSize, 1);
  const sampleSize = requireInteger('sampleSize', options.sampleSize, 1, sourceSize);
  const event = requireEvent('event', options.event);
  requireGaussianInside('The event inside a sampled-without-replacement event', event);
  return built({ kind: 'sampled-without-replacement', sourceSize, sampleSize, event });
}

/** Builds the composition of `events` (run one after another). */
export function composedEvent(options: { events: readonly PrivacyEvent[] }): ComposedEvent {
  const list: unknown = options?.events;
  if (!Array.isArray(list)) invalid('events', list, 'a list of privacy events');
  const events = Object.freeze(list.map((e, i) => requireEvent(`events[${i}]`, e)));
  return built({ kind: 'composed', events });
}

/** Builds `count` repetitions of `event` (count a whole number ≥ 0). */
export function selfComposedEvent(options: {
  count: number;
  event: PrivacyEvent;
}): SelfComposedEvent {
  const count = requireInteger('count', options?.count, 0);
  const event = requireEvent('event', options.event);
  return built({ kind: 'self-composed', count, event });
}
