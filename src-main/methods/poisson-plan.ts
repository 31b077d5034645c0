/**
 * What the plans of the Poisson-sampled methods share (DP-SGD on the whole
 * CVAE, DP²-VAE with per-record encoders): the sampling rate q from an
 * expected batch over the data set's size, the steps T from passes over the
 * data, and σ calibrated so that the run's own T steps reach the target ε
 * (never above it) under the 'dpsgd' mechanism of src-main/privacy.
 */
import { randomInt } from 'node:crypto';
import { UserError } from '../contract/errors';
import { calibrateSigma } from '../privacy';
import {
  buildDpsgdCertificate,
  type CertificatePrior,
  type PoissonMethod,
} from '../privacy/certificate';
import type { CertificateContext } from './descriptor';
import type { TermNoise } from '../privacy/termwise';
import { ownEpsilon, type RunNoise } from '../jobs/budget';
import {
  checkOverrides,
  checkTarget,
  type PlanOverrides,
  type ResolvePlanInput,
} from './plan-input';

/** The schedule of a Poisson-sampled run. */
export interface PoissonSchedule {
  /** The user's overrides, checked. */
  overrides: PlanOverrides;
  accountant: 'rdp' | 'pld';
  sampleRate: number;
  /** The expected batch q·N, rounded (for display). */
  batchSize: number;
  steps: number;
  sigma: number;
  delta: number;
  target: number;
  notes: string[];
}

/** The noise of a Poisson-sampled plan (the accountant's 'dpsgd' mechanism). */
export function poissonNoise(plan: {
  sampleRate: number;
  sigma: number;
  accountant?: 'rdp' | 'pld' | undefined;
}): RunNoise {
  return {
    mechanism: 'dpsgd',
    sampleRate: plan.sampleRate,
    sigma: plan.sigma,
    accountant: plan.accountant ?? 'rdp',
  };
}

/**
 * q from `sampleRate`, else from the expected batch (`batchSize`, default
 * the preset's) over N (at most 1); T from `steps`, else the preset's passes
 * over the data; σ, when not given, the smallest noise whose T steps stay
 * within the target (calibrated by the plan's accountant). Settings of other
 * methods (`foreign`) are refused with `why`.
 * @throws UserError INVALID_INPUT for a bad setting, UNREACHABLE_TARGET when no σ reaches it.
 */
export function resolvePoissonSchedule(
  input: ResolvePlanInput,
  preset: { expectedBatch: number; epochs: number },
  foreign: { keys: readonly (keyof PlanOverrides)[]; why: string; method: string },
): PoissonSchedule {
  const o = checkOverrides(input.overrides);
  const given = foreign.keys.filter((k) => o[k] !== undefined);
  if (given.length > 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${given.join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply to ${foreign.method} runs: ${foreign.why}`,
    );
  }
  const { n, target, delta } = checkTarget(input);
  const notes: string[] = [];
  if (o.sampleRate !== undefined && o.batchSize !== undefined) {
    throw new UserError(
      'INVALID_INPUT',
      `Give either the sampling rate or the expected batch size of a ${foreign.method} run, not both.`,
    );
  }
  let sampleRate: number;
  if (o.sampleRate !== undefined) sampleRate = o.sampleRate;
  else {
    const batch = o.batchSize ?? preset.expectedBatch;
    if (batch > n) {
      if (o.batchSize !== undefined) {
        throw new UserError(
          'INVALID_INPUT',
          `An expected batch of ${batch} cannot be drawn from ${n} training images. Choose at most ${n}.`,
        );
      }
      notes.push(
        `The data set has ${n} training images, so each step samples every image (expected batch ${n} instead of ${batch}).`,
      );
    }
    sampleRate = Math.min(1, batch / n);
  }
  const steps = o.steps ?? Math.max(1, Math.ceil(preset.epochs / sampleRate));
  const accountant = o.accountant ?? 'rdp';
  const sigma =
    o.sigma ??
    calibrateSigma({
      spec: { mechanism: 'dpsgd', sampleRate, steps },
      epsilon: target,
      delta,
      accountant,
    }).sigma;
  return {
    overrides: o,
    accountant,
    sampleRate,
    batchSize: Math.max(1, Math.round(sampleRate * n)),
    steps,
    sigma,
    delta,
    target,
    notes,
  };
}

/** The run's own ε after T steps, with a note when a given σ overshoots the target. */
export function scheduleEpsilon(s: PoissonSchedule): { epsilon: number; notes: string[] } {
  const epsilon = ownEpsilon(poissonNoise(s), s.steps, s.delta);
  const notes = [...s.notes];
  if (epsilon > s.target) {
    notes.push(
      `With σ = ${s.sigma} the ${s.steps} steps would spend ε = ${epsilon.toPrecision(3)}; training stops at the last step within ε = ${s.target}.`,
    );
  }
  return { epsilon, notes };
}

/** What a Poisson-sampled method's preset fixes besides the schedule. */
interface PoissonPreset {
  clip: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  lrSchedule: 'constant' | 'cosine';
}

/** The plan fields every Poisson-sampled method stores: the schedule, then the preset's settings under the user's overrides. */
export function poissonPlanFields(s: PoissonSchedule, preset: PoissonPreset) {
  const o = s.overrides;
  return {
    accountant: s.accountant,
    sampleRate: s.sampleRate,
    batchSize: s.batchSize,
    sigma: s.sigma,
    clip: o.clip ?? preset.clip,
    steps: s.steps,
    lr: o.lr ?? preset.lr,
    seed: o.seed ?? randomInt(2 ** 31 - 1),
    optimizer: o.optimizer ?? preset.optimizer,
    lrSchedule: preset.lrSchedule,
  };
}

/** The certificate of a decoder a Poisson-sampled method released (ε recomputed by the accountant). */
export function poissonCertificate(
  method: PoissonMethod,
  plan: { sampleRate: number; sigma: number; clip: number; accountant?: 'rdp' | 'pld' | undefined },
  c: CertificateContext,
  prior?: CertificatePrior,
  terms?: readonly TermNoise[],
) {
  return buildDpsgdCertificate({
    method,
    ...(prior ? { prior } : {}),
    ...(terms ? { terms } : {}),
    sampleRate: plan.sampleRate,
    sigma: plan.sigma,
    clip: plan.clip,
    steps: c.steps,
    delta: c.delta,
    accountant: plan.accountant ?? 'rdp',
    datasetId: c.datasetId,
    backend: c.backend,
    version: c.version,
    ...(c.created ? { created: c.created } : {}),
  });
}
