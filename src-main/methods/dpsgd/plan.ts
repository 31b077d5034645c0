/**
 * A DP-SGD run's plan: a preset, the user's overrides, the data set's size
 * and a target (ε, δ) become the full hyperparameters. Unless σ is given, it
 * is calibrated (`calibrateSigma`) so that the run's OWN T steps reach the
 * target exactly (never above it).
 */
import { randomInt } from 'node:crypto';
import { UserError } from '../../contract/errors';
import { calibrateSigma } from '../../privacy';
import { ownEpsilon, type RunNoise } from '../../jobs/budget';
import type { DpsgdPlan } from '../../jobs/protocol';
import {
  checkOverrides,
  checkPresetName,
  checkTarget,
  type ResolvePlanInput,
  type ResolvedRunPlan,
} from '../plan-input';
import { DPSGD_PRESETS } from './presets';

/** The noise of a DP-SGD plan: Poisson sampling at q, σ (the accountant's 'dpsgd' mechanism). */
export function dpsgdNoise(plan: DpsgdPlan): RunNoise {
  return {
    mechanism: 'dpsgd',
    sampleRate: plan.sampleRate,
    sigma: plan.sigma,
    accountant: plan.accountant ?? 'rdp',
  };
}

/**
 * The full hyperparameters of a DP-SGD run. q comes
 * from `sampleRate`, else from the expected batch (`batchSize`, default the
 * preset's) over the data set's size (at most 1); T from `steps`, else the
 * preset's passes over the data; σ, when not given, is the smallest noise
 * whose T steps stay within the target (calibrated by the plan's accountant).
 * @throws UserError INVALID_INPUT for a bad setting (including DP²-VAE-only
 *   settings on a DP-SGD run), UNREACHABLE_TARGET when no σ reaches it.
 */
export function resolveDpsgdPlan(input: ResolvePlanInput): ResolvedRunPlan<DpsgdPlan> {
  const preset = DPSGD_PRESETS[checkPresetName(input.preset)];
  const o = checkOverrides(input.overrides);
  const foreign = (['blocks', 'pretrainEpochs', 'pretrainLr', 'pretrainClip'] as const).filter(
    (k) => o[k] !== undefined,
  );
  if (foreign.length > 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${foreign.join(', ')} ${foreign.length === 1 ? 'applies' : 'apply'} to DP²-VAE runs only; a DP-SGD run has no blocks and no stage 1.`,
    );
  }
  const { n, target, delta } = checkTarget(input);
  const notes: string[] = [];
  if (o.sampleRate !== undefined && o.batchSize !== undefined) {
    throw new UserError(
      'INVALID_INPUT',
      'Give either the sampling rate or the expected batch size of a DP-SGD run, not both.',
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
  const plan: DpsgdPlan = {
    method: 'dpsgd',
    accountant,
    sampleRate,
    batchSize: Math.max(1, Math.round(sampleRate * n)),
    sigma,
    clip: o.clip ?? preset.clip,
    steps,
    lr: o.lr ?? preset.lr,
    seed: o.seed ?? randomInt(2 ** 31 - 1),
    optimizer: o.optimizer ?? preset.optimizer,
    lrSchedule: preset.lrSchedule,
  };
  const epsilon = ownEpsilon(dpsgdNoise(plan), steps, delta);
  if (epsilon > target) {
    notes.push(
      `With σ = ${sigma} the ${steps} steps would spend ε = ${epsilon.toPrecision(3)}; training stops at the last step within ε = ${target}.`,
    );
  }
  return { plan, epsilon, notes };
}
