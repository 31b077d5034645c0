/**
 * A DP²-VAE run's plan (Jiang et al., arXiv 2208.03409): a preset, the
 * user's overrides, the data set's size and a target (ε, δ) become the full
 * hyperparameters. Unless σ is given, it is calibrated (`calibrateSigma`) so
 * that the run's OWN T steps reach the target exactly (never above it).
 */
import { randomInt } from 'node:crypto';
import { UserError } from '../../contract/errors';
import { calibrateSigma } from '../../privacy';
import { ownEpsilon, type RunNoise } from '../../jobs/budget';
import type { TrainingPlan } from '../../jobs/protocol';
import {
  checkOverrides,
  checkPresetName,
  checkTarget,
  type ResolvePlanInput,
  type ResolvedRunPlan,
} from '../plan-input';
import { MIN_BLOCK_RECORDS, PRESETS } from './presets';

/** The noise of a DP²-VAE plan: one of K blocks per step, σ (the accountant's 'dp2vae' mechanism). */
export function dp2vaeNoise(plan: TrainingPlan): RunNoise {
  return {
    mechanism: 'dp2vae',
    blocks: plan.blocks,
    sigma: plan.sigma,
    accountant: plan.accountant ?? 'rdp',
  };
}

/**
 * The full hyperparameters of a DP²-VAE run (for either method, use
 * {@link resolveRunPlan}). K is capped so each block holds at
 * least {@link MIN_BLOCK_RECORDS} records (unless K is given); σ, when not
 * given, is the smallest noise whose T steps stay within the target.
 * @throws UserError INVALID_INPUT for a bad setting, UNREACHABLE_TARGET when
 *   no σ reaches the target.
 */
export function resolvePlan(input: ResolvePlanInput): ResolvedRunPlan<TrainingPlan> {
  if (input.method !== undefined && input.method !== 'dp2vae') {
    throw new UserError('INVALID_INPUT', 'resolvePlan makes DP²-VAE plans; use resolveRunPlan.');
  }
  const preset = PRESETS[checkPresetName(input.preset)];
  const o = checkOverrides(input.overrides);
  if (
    o.refineSteps !== undefined ||
    o.refineLr !== undefined ||
    o.importanceSamples !== undefined
  ) {
    throw new UserError(
      'INVALID_INPUT',
      'Encoder refinement settings (steps, samples per image) apply to per-record DP²-VAE runs only; per-block DP²-VAE trains one encoder per block in stage 1.',
    );
  }
  if (o.sampleRate !== undefined) {
    throw new UserError(
      'INVALID_INPUT',
      'The sampling rate applies to DP-SGD runs and per-record DP²-VAE runs only; per-block DP²-VAE samples one block per step (set the number of blocks instead).',
    );
  }
  const { n, target, delta } = checkTarget(input);
  const notes: string[] = [];
  let blocks = o.blocks ?? preset.blocks;
  if (o.blocks !== undefined && o.blocks > n) {
    throw new UserError(
      'INVALID_INPUT',
      `${o.blocks} blocks cannot be made from ${n} training images. Choose at most ${n} blocks.`,
    );
  }
  if (o.blocks === undefined) {
    const most = Math.max(1, Math.floor(n / MIN_BLOCK_RECORDS));
    if (blocks > most) {
      notes.push(
        `The data set has ${n} training images, so ${most} blocks are used instead of ${blocks} (at least ${MIN_BLOCK_RECORDS} images per block).`,
      );
      blocks = most;
    }
  }
  const steps = o.steps ?? preset.steps;
  const sigma =
    o.sigma ??
    calibrateSigma({
      spec: { mechanism: 'dp2vae', blocks, steps },
      epsilon: target,
      delta,
      accountant: o.accountant ?? 'rdp',
    }).sigma;
  const plan: TrainingPlan = {
    method: 'dp2vae',
    accountant: o.accountant ?? 'rdp',
    blocks,
    sigma,
    clip: o.clip ?? preset.clip,
    steps,
    pretrainEpochs: o.pretrainEpochs ?? preset.pretrainEpochs,
    batchSize: o.batchSize ?? preset.batchSize,
    lr: o.lr ?? preset.lr,
    seed: o.seed ?? randomInt(2 ** 31 - 1),
    optimizer: o.optimizer ?? preset.optimizer,
    pretrainLr: o.pretrainLr ?? preset.pretrainLr,
    pretrainClip: o.pretrainClip ?? preset.pretrainClip,
  };
  const epsilon = ownEpsilon(dp2vaeNoise(plan), steps, delta);
  if (epsilon > target) {
    notes.push(
      `With σ = ${sigma} the ${steps} steps would spend ε = ${epsilon.toPrecision(3)}; training stops at the last step within ε = ${target}.`,
    );
  }
  return { plan, epsilon, notes };
}
