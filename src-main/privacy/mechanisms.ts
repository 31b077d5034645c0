/**
 * The training mechanisms the app and the `dp2` command line account for, as
 * one discriminated union, and their translation into privacy events.
 */
import { RdpAccountant } from './accountant';
import {
  gaussianEvent,
  poissonSampledEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  type PrivacyEvent,
} from './events';
import type { NeighbouringRelation } from './rdp';
import { invalid, requireInteger, requirePositive, requireRate } from './validate';

/**
 * A training run's privacy mechanism.
 *
 * - `dpsgd`: DP-SGD (Abadi et al. 2016): each step Poisson-samples records
 *   with probability `sampleRate`, clips per-example gradients to C and adds
 *   N(0, σ²C²) noise; σ is the noise multiplier against the per-example clip;
 *   add/remove relation (Mironov, Talwar, Zhang 2019).
 * - `dp2vae`: DP²-VAE stage 2 (Jiang et al. 2022, arXiv 2208.03409): each step
 *   picks 1 of `blocks` disjoint blocks without replacement, clips the block's
 *   mean gradient to C and adds N(0, σ²C²) noise. The block's contribution can
 *   change entirely, so the sensitivity is 2C and the noise multiplier is
 *   z = σ/2; replace-one relation (Wang, Balle, Kasiviswanathan 2019).
 * - `gaussian`: the plain Gaussian mechanism with sensitivity 1 and noise
 *   std σ, repeated `steps` times.
 */
export type MechanismSpec =
  | { mechanism: 'dpsgd'; sampleRate: number; sigma: number; steps: number }
  | { mechanism: 'dp2vae'; blocks: number; sigma: number; steps: number }
  | { mechanism: 'gaussian'; sigma: number; steps: number };

/** `Omit` applied to each member of a union separately. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A mechanism spec without its noise (what calibration solves for). */
export type MechanismSpecWithoutSigma = DistributiveOmit<MechanismSpec, 'sigma'>;

/** A mechanism spec without its step count (what step budgeting solves for). */
export type MechanismSpecWithoutSteps = DistributiveOmit<MechanismSpec, 'steps'>;

/**
 * Checks every field of a spec (from the UI, the CLI or a JSON batch) and
 * returns a clean copy. Fields listed in `skip` are not checked.
 */
export function validateMechanismSpec<T extends Partial<MechanismSpec>>(
  spec: T,
  skip: ReadonlyArray<'sigma' | 'steps'> = [],
): T {
  if (typeof spec !== 'object' || spec === null) {
    invalid('spec', spec, "a mechanism description such as { mechanism: 'dpsgd', … }");
  }
  const s = spec as Record<string, unknown>;
  if (!skip.includes('sigma')) requirePositive('sigma', s.sigma);
  if (!skip.includes('steps')) requireInteger('steps', s.steps, 0);
  switch (s.mechanism) {
    case 'dpsgd':
      requireRate('sampleRate', s.sampleRate);
      break;
    case 'dp2vae':
      requireInteger('blocks', s.blocks, 1);
      break;
    case 'gaussian':
      break;
    default:
      invalid('mechanism', s.mechanism, "'dpsgd', 'dp2vae' or 'gaussian'");
  }
  return spec;
}

/**
 * The privacy event of one step of a mechanism with noise `sigma`, and the
 * neighbouring relation it must be accounted under. The spec must be valid.
 */
export function stepEvent(spec: MechanismSpecWithoutSteps): {
  event: PrivacyEvent;
  neighbouring: NeighbouringRelation;
} {
  switch (spec.mechanism) {
    case 'dpsgd':
      return {
        event: poissonSampledEvent({
          sampleRate: spec.sampleRate,
          event: gaussianEvent({ noiseMultiplier: spec.sigma }),
        }),
        neighbouring: 'add-remove',
      };
    case 'dp2vae':
      return {
        event: sampledWithoutReplacementEvent({
          sourceSize: spec.blocks,
          sampleSize: 1,
          // The clipped block mean has sensitivity 2C against noise std σC.
          event: gaussianEvent({ noiseMultiplier: spec.sigma / 2 }),
        }),
        neighbouring: 'replace-one',
      };
    case 'gaussian':
      return {
        event: gaussianEvent({ noiseMultiplier: spec.sigma }),
        neighbouring: 'add-remove',
      };
  }
}

/**
 * The privacy event of a whole run (`steps` repetitions of the step event) and
 * its neighbouring relation.
 */
export function mechanismEvent(spec: MechanismSpec): {
  event: PrivacyEvent;
  neighbouring: NeighbouringRelation;
} {
  validateMechanismSpec(spec);
  const { event, neighbouring } = stepEvent(spec);
  return { event: selfComposedEvent({ count: spec.steps, event }), neighbouring };
}

/** A fresh accountant with the whole run of `spec` composed in. */
export function accountantFor(spec: MechanismSpec): RdpAccountant {
  const { event, neighbouring } = mechanismEvent(spec);
  return RdpAccountant.create({ neighbouring }).compose(event);
}

/** ε of the run described by `spec` at the given δ, with the optimal Rényi order. */
export function epsilonOf(options: { spec: MechanismSpec; delta: number }): {
  epsilon: number;
  order: number;
} {
  return accountantFor(options.spec).epsilon({ delta: options.delta });
}

/** δ of the run described by `spec` at the given ε, with the optimal Rényi order. */
export function deltaOf(options: { spec: MechanismSpec; epsilon: number }): {
  delta: number;
  order: number;
} {
  return accountantFor(options.spec).delta({ epsilon: options.epsilon });
}
