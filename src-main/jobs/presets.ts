/**
 * Plan resolution for any method: a preset, the user's overrides, the data
 * set's size and a target (ε, δ) become a run's full plan, by its method's
 * descriptor (src-main/methods). Whether the run fits the data set's
 * remaining budget is checked by the runner (budget.ts) before anything starts.
 *
 * The methods' presets and plan functions are re-exported here for the
 * callers that name them.
 */
import { UserError } from '../contract/errors';
import type { Architecture, ImageShape } from '../engine/architecture';
import { METHOD_IDS } from '../methods/catalog';
import type { ResolvePlanInput, ResolvedRunPlan } from '../methods/plan-input';
import { checkPresetName } from '../methods/plan-input';
import type { PresetName } from '../methods/preset-names';
import { isMethodId, methodOf } from '../methods/registry';

export { PRESET_NAMES, type PresetName } from '../methods/preset-names';
export { PlanOverrides, type ResolvePlanInput, type ResolvedRunPlan } from '../methods/plan-input';
export { MIN_BLOCK_RECORDS, PRESETS, type Preset } from '../methods/dp2vae/presets';
export { resolvePlan } from '../methods/dp2vae/plan';
export { DPSGD_PRESETS, type DpsgdPreset } from '../methods/dpsgd/presets';

/** The presets of a method in order, for the New run screen. */
export function presetList(method: string): { name: PresetName; summary: string }[] {
  const { presets } = methodOf(method);
  return (Object.keys(presets) as PresetName[]).map((name) => ({
    name,
    summary: presets[name].summary,
  }));
}

/**
 * The full plan of a run of the named method (σ calibrated by the plan's
 * accountant unless given).
 * @throws UserError INVALID_INPUT for an unknown method or a bad setting
 *   (including another method's settings), UNREACHABLE_TARGET when no σ
 *   reaches the target.
 */
export function resolveRunPlan(input: ResolvePlanInput & { method: string }): ResolvedRunPlan {
  if (!isMethodId(input.method)) {
    throw new UserError(
      'INVALID_INPUT',
      `There is no training method "${String(input.method)}". Choose ${METHOD_IDS.join(' or ')}.`,
    );
  }
  return methodOf(input.method).resolvePlan(input);
}

/** The model a method's preset trains for a data set's image shape. */
export function planArchitecture(
  preset: PresetName,
  image: ImageShape,
  classes: number,
  method: string,
): Architecture {
  return methodOf(method).architecture(checkPresetName(preset), image, classes);
}
