/**
 * The plan of a DP²-VAE run with per-record encoders: the Poisson schedule
 * shared with DP-SGD (../poisson-plan.ts) and the posterior refinement.
 */
import type { RunNoise } from '../../jobs/budget';
import { checkPresetName, type ResolvePlanInput, type ResolvedRunPlan } from '../plan-input';
import {
  poissonNoise,
  poissonPlanFields,
  resolvePoissonSchedule,
  scheduleEpsilon,
} from '../poisson-plan';
import type { PerRecordPlan } from './plan-schema';
import { PER_RECORD_PRESETS } from './presets';

/** Its noise: Poisson sampling at q, σ on the decoder's clipped per-example gradients. */
export function perRecordNoise(plan: PerRecordPlan): RunNoise {
  return poissonNoise(plan);
}

/**
 * The full hyperparameters of a per-record run.
 * @throws UserError INVALID_INPUT for a bad setting (including per-block
 *   DP²-VAE settings), UNREACHABLE_TARGET when no σ reaches the target.
 */
export function resolvePerRecordPlan(input: ResolvePlanInput): ResolvedRunPlan<PerRecordPlan> {
  const preset = PER_RECORD_PRESETS[checkPresetName(input.preset)];
  const s = resolvePoissonSchedule(input, preset, {
    keys: ['blocks', 'pretrainEpochs', 'pretrainLr', 'pretrainClip'],
    why: 'blocks and stage 1 belong to per-block DP²-VAE; here every image has its own encoder.',
    method: 'per-record DP²-VAE',
  });
  const o = s.overrides;
  const plan: PerRecordPlan = {
    method: 'dp2vae-per-record',
    ...poissonPlanFields(s, preset),
    refineSteps: o.refineSteps ?? preset.refineSteps,
    refineFirstSteps: Math.max(o.refineSteps ?? 0, preset.refineFirstSteps),
    refineLr: o.refineLr ?? preset.refineLr,
    importanceSamples: o.importanceSamples ?? preset.importanceSamples,
  };
  return { plan, ...scheduleEpsilon(s) };
}
