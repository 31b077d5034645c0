/**
 * The privacy accountant of DP² Studio: privacy events, Rényi DP and privacy
 * loss distributions of the Gaussian mechanisms, conversion to (ε, δ),
 * calibration and plain-language readings. See the TSDoc of each export for
 * the paper and equation it implements.
 */
export {
  composedEvent,
  effectiveNoiseMultiplier,
  gaussianEvent,
  isPrivacyEvent,
  poissonSampledEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
} from './events';
export type {
  ComposedEvent,
  GaussianEvent,
  PoissonSampledEvent,
  PrivacyEvent,
  SampledWithoutReplacementEvent,
  SelfComposedEvent,
} from './events';
export {
  DEFAULT_ORDERS,
  gaussianRdp,
  poissonSubsampledGaussianRdp,
  rdpOfEvent,
  sampledWithoutReplacementGaussianRdp,
} from './rdp';
export type { NeighbouringRelation } from './rdp';
export { deltaFromRdp, epsilonFromRdp } from './conversion';
export { ACCOUNTANT_VERSION, RdpAccountant } from './accountant';
export {
  DEFAULT_DISCRETIZATION,
  DiscretePld,
  PLD_ACCOUNTANT_VERSION,
  gaussianDelta,
  poissonGaussianDelta,
  poissonGaussianPld,
} from './pld';
export type { PldDirection } from './pld';
export { PldAccountant, sampledBlockGaussianPld } from './pld-accountant';
export {
  accountantFor,
  accountantVersion,
  deltaOf,
  epsilonOf,
  mechanismEvent,
  pldAccountantFor,
  stepEvent,
  validateAccountant,
} from './mechanisms';
export type {
  AccountantKind,
  AccountingOptions,
  DistributiveOmit,
  MechanismSpec,
  MechanismSpecWithoutSigma,
  MechanismSpecWithoutSteps,
} from './mechanisms';
export {
  DEFAULT_STEP_LIMIT,
  SIGMA_MAX,
  SIGMA_MIN,
  calibrateSigma,
  calibrateSigmaPld,
  maxSteps,
  maxStepsPld,
} from './calibration';
export { epsilonCurve } from './curve';
export { posteriorBound, membershipTprBound } from './interpretation';
