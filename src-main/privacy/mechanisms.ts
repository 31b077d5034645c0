/**
 * The training mechanisms the app and the `dp2` command line account for, as
 * one discriminated union, and their translation into privacy events.
 */
import { ACCOUNTANT_VERSION, RdpAccountant } from './accountant';
import { PLD_ACCOUNTANT_VERSION } from './pld';
import { PldAccountant } from './pld-accountant';
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
 * Which accountant turns a run into (ε, δ):
 * - `'rdp'` (the default): Rényi DP composed over the default orders, then the
 *   improved RDP → (ε, δ) conversion (accountant.ts; `ACCOUNTANT_VERSION`).
 * - `'pld'`: privacy loss distributions, discretised pessimistically and
 *   composed by FFT (pld.ts; `PLD_ACCOUNTANT_VERSION`) — tighter. DP-SGD
 *   and the Gaussian mechanism use their exact dominating pairs; DP²-VAE uses
 *   the symmetrised Poisson pair at q = 1/K, z = σ/2 (see
 *   `sampledBlockGaussianPld`), which requires each stage-2 step to depend on
 *   the data only through the sampled block and the public decoder (frozen
 *   encoders).
 */
export type AccountantKind = 'rdp' | 'pld';

/** How to account: the accountant and, for PLD, the grid width (default 1e-4). */
export interface AccountingOptions {
  accountant?: AccountantKind;
  discretization?: number;
}

/** Checks an accountant choice given by a caller (undefined means 'rdp'). */
export function validateAccountant(value: unknown): AccountantKind {
  if (value === undefined) return 'rdp';
  if (value !== 'rdp' && value !== 'pld') invalid('accountant', value, "'rdp' or 'pld'");
  return value;
}

/** The name and version an accountant states in certificates and run rows ("dp2-rdp/…", "dp2-pld/…"). */
export function accountantVersion(kind: AccountantKind): string {
  return kind === 'pld' ? PLD_ACCOUNTANT_VERSION : ACCOUNTANT_VERSION;
}

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

/** A fresh RDP accountant with the whole run of `spec` composed in. */
export function accountantFor(spec: MechanismSpec): RdpAccountant {
  const { event, neighbouring } = mechanismEvent(spec);
  return RdpAccountant.create({ neighbouring }).compose(event);
}

/** A fresh PLD accountant with the whole run of `spec` composed in. */
export function pldAccountantFor(
  spec: MechanismSpec,
  options: { discretization?: number } = {},
): PldAccountant {
  const { event, neighbouring } = mechanismEvent(spec);
  return PldAccountant.create({ neighbouring, discretization: options.discretization }).compose(
    event,
  );
}

/**
 * ε of the run described by `spec` at the given δ, by the chosen accountant
 * (default `'rdp'`). `order` is the optimal Rényi order under RDP and NaN
 * under PLD (which has none).
 */
export function epsilonOf(options: { spec: MechanismSpec; delta: number } & AccountingOptions): {
  epsilon: number;
  order: number;
} {
  const accountant = validateAccountant(options?.accountant);
  if (accountant === 'pld') {
    const pld = pldAccountantFor(options.spec, { discretization: options.discretization });
    return { epsilon: pld.epsilon({ delta: options.delta }).epsilon, order: Number.NaN };
  }
  return accountantFor(options.spec).epsilon({ delta: options.delta });
}

/**
 * δ of the run described by `spec` at the given ε, by the chosen accountant
 * (default `'rdp'`). `order` is the optimal Rényi order under RDP and NaN
 * under PLD.
 */
export function deltaOf(options: { spec: MechanismSpec; epsilon: number } & AccountingOptions): {
  delta: number;
  order: number;
} {
  const accountant = validateAccountant(options?.accountant);
  if (accountant === 'pld') {
    const pld = pldAccountantFor(options.spec, { discretization: options.discretization });
    return { delta: pld.delta({ epsilon: options.epsilon }).delta, order: Number.NaN };
  }
  return accountantFor(options.spec).delta({ epsilon: options.epsilon });
}
