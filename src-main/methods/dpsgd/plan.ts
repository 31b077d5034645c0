/**
 * A DP-SGD run's plan: a preset, the user's overrides, the data set's size
 * and a target (ε, δ) become the full hyperparameters (the schedule is
 * shared with the other Poisson-sampled methods: ../poisson-plan.ts).
 */
import type { RunNoise } from '../../jobs/budget';
import type { DpsgdPlan } from '../../jobs/protocol';
import { checkPresetName, type ResolvePlanInput, type ResolvedRunPlan } from '../plan-input';
import {
  poissonNoise,
  poissonPlanFields,
  resolvePoissonSchedule,
  scheduleEpsilon,
} from '../poisson-plan';
import { DPSGD_PRESETS } from './presets';

/** The noise of a DP-SGD plan: Poisson sampling at q, σ (the accountant's 'dpsgd' mechanism). */
export function dpsgdNoise(plan: DpsgdPlan): RunNoise {
  return poissonNoise(plan);
}

/**
 * The full hyperparameters of a DP-SGD run (../poisson-plan.ts for q, T, σ).
 * @throws UserError INVALID_INPUT for a bad setting (including DP²-VAE-only
 *   settings on a DP-SGD run), UNREACHABLE_TARGET when no σ reaches it.
 */
export function resolveDpsgdPlan(input: ResolvePlanInput): ResolvedRunPlan<DpsgdPlan> {
  const preset = DPSGD_PRESETS[checkPresetName(input.preset)];
  const s = resolvePoissonSchedule(input, preset, {
    keys: [
      'blocks',
      'pretrainEpochs',
      'pretrainLr',
      'pretrainClip',
      'refineSteps',
      'refineLr',
      'importanceSamples',
    ],
    why: 'blocks and stage 1 belong to per-block DP²-VAE and encoder refinement to per-record DP²-VAE; a DP-SGD run trains one encoder network with the decoder.',
    method: 'DP-SGD',
  });
  const plan: DpsgdPlan = { method: 'dpsgd', ...poissonPlanFields(s, preset) };
  return { plan, ...scheduleEpsilon(s) };
}
