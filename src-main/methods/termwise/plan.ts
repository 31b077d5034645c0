/**
 * A term-wise DP-SGD run's plan: DP-SGD's Poisson schedule (σ calibrated on
 * the 'dpsgd' mechanism: the pair of noisy terms is one subsampled Gaussian
 * at σ, privacy/termwise.ts) plus the divergence's settings.
 */
import type { RunNoise } from '../../jobs/budget';
import { naiveBatchCap } from '../../privacy/termwise';
import {
  checkOverrides,
  checkPresetName,
  refuseForeignSettings,
  type ResolvePlanInput,
  type ResolvedRunPlan,
} from '../plan-input';
import {
  poissonNoise,
  poissonPlanFields,
  resolvePoissonSchedule,
  scheduleEpsilon,
} from '../poisson-plan';
import type { TermwisePlan } from './plan-schema';
import { TERMWISE_PRESETS } from './presets';
import { termwiseSettings } from './settings';

/** The noise of a term-wise plan: Poisson sampling at q, the pair's σ (the 'dpsgd' mechanism). */
export function termwiseNoise(plan: TermwisePlan): RunNoise {
  return poissonNoise(plan);
}

/**
 * The full hyperparameters of a term-wise run.
 * @throws UserError INVALID_INPUT for a bad or foreign setting, UNREACHABLE_TARGET when no σ reaches it.
 */
export function resolveTermwisePlan(input: ResolvePlanInput): ResolvedRunPlan<TermwisePlan> {
  const preset = TERMWISE_PRESETS[checkPresetName(input.preset)];
  refuseForeignSettings(checkOverrides(input.overrides), termwiseSettings, {
    name: 'term-wise DP-SGD',
    why: 'it trains one encoder network with the decoder by DP-SGD, with a divergence term.',
  });
  const s = resolvePoissonSchedule(input, preset, {
    keys: [],
    why: '',
    method: 'term-wise DP-SGD',
  });
  const o = s.overrides;
  const plan: TermwisePlan = {
    method: 'termwise',
    ...poissonPlanFields(s, preset),
    divergence: o.divergence ?? preset.divergence,
    divergenceWeight: o.divergenceWeight ?? preset.divergenceWeight,
    divergenceClip: o.divergenceClip ?? preset.divergenceClip,
    mode: o.termwiseMode ?? 'termwise',
    batchCap: naiveBatchCap(s.sampleRate * input.datasetSize),
  };
  return { plan, ...scheduleEpsilon(s) };
}
