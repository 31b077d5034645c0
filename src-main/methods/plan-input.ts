/**
 * What every method's plan resolution shares: the request (preset, the
 * user's overrides, the data set's size, the target (ε, δ)), its checks in
 * plain words, and the result. Each method turns a request into its own plan
 * (`resolvePlan` of its descriptor).
 */
import type { z } from 'zod';
import { UserError } from '../contract/errors';
import {
  convArchitecture,
  defaultArchitecture,
  parseArchitecture,
  type Architecture,
  type ImageShape,
} from '../engine/architecture';
import type { RunPlan } from '../jobs/protocol';
import type { ReleasedClassifier } from './plan-fields';
import { AllSettingsSchema } from './catalog';
import { PRESET_NAMES, type PresetName } from './preset-names';

/** What the user may change on top of a preset (any method's settings; each refuses another's). */
export const PlanOverrides = AllSettingsSchema;
export type PlanOverrides = z.infer<typeof PlanOverrides>;

export interface ResolvePlanInput {
  /** The method; see the registry (`resolveRunPlan`). */
  method?: string;
  preset: PresetName;
  overrides?: PlanOverrides;
  /** Records in the training split N. */
  datasetSize: number;
  targetEpsilon: number;
  delta: number;
  /**
   * The released classifier the overrides name (`labeller`), looked up by
   * the caller in the store (jobs/linked-runs.ts): its privacy counts
   * towards the target of a run that builds on it.
   */
  labeller?: ReleasedClassifier;
}

/** A method's resolved plan. */
export interface ResolvedRunPlan<P extends RunPlan = RunPlan> {
  plan: P;
  /** The run's own ε after all T steps (above the target only when σ was given; training then stops earlier). */
  epsilon: number;
  /** Plain-words notes on what was adjusted (e.g. fewer blocks for a small data set). */
  notes: string[];
}

/** The preset of that name, or a plain-words refusal. */
export function checkPresetName(name: unknown): PresetName {
  if (typeof name === 'string' && (PRESET_NAMES as readonly string[]).includes(name)) {
    return name as PresetName;
  }
  throw new UserError(
    'INVALID_INPUT',
    `There is no preset "${String(name)}". Choose one of ${PRESET_NAMES.join(', ')}.`,
  );
}

/** The overrides, parsed, or a plain-words refusal naming the first bad one. */
export function checkOverrides(overrides: unknown): PlanOverrides {
  const r = PlanOverrides.safeParse(overrides ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue?.path.join('.') || 'the settings';
  throw new UserError(
    'INVALID_INPUT',
    issue?.code === 'unrecognized_keys'
      ? `Unknown training setting(s): ${(issue as { keys?: string[] }).keys?.join(', ')}. Known: ${Object.keys(PlanOverrides.shape).join(', ')}.`
      : `The training setting ${key} is not valid (${issue?.message ?? 'bad value'}).`,
  );
}

/**
 * Refuses, in plain words, the overrides a method does not have (another
 * method's settings): `why` says what the method does instead.
 * @throws UserError INVALID_INPUT naming them and the method's own settings.
 */
export function refuseForeignSettings(
  overrides: PlanOverrides,
  settings: Readonly<Record<string, unknown>>,
  method: { name: string; why: string },
): void {
  const foreign = Object.keys(overrides).filter(
    (k) => overrides[k as keyof PlanOverrides] !== undefined && !(k in settings),
  );
  if (foreign.length > 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${foreign.join(', ')} ${foreign.length === 1 ? 'does' : 'do'} not apply to ${method.name} runs: ${method.why} Its settings: ${Object.keys(settings).join(', ')}.`,
    );
  }
}

/** N, the target ε and δ of a request, checked. */
export function checkTarget(input: ResolvePlanInput): { n: number; target: number; delta: number } {
  const n = input.datasetSize;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UserError('INVALID_INPUT', `The data set has no training images (${n}).`);
  }
  const target = input.targetEpsilon;
  if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0) {
    throw new UserError(
      'INVALID_INPUT',
      `The target ε must be a number above 0 (got ${String(target)}).`,
    );
  }
  const delta = input.delta;
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new UserError(
      'INVALID_INPUT',
      `δ must be between 0 and 1, such as 1e-5 (got ${String(delta)}).`,
    );
  }
  return { n, target, delta };
}

/**
 * The model for a data set's image shape: the preset's MLP widths (or the
 * paper's, for null) for 28×28×1 images, the convolutional variant otherwise.
 */
export function architectureFor(
  mlp: { encoderHidden: number[]; decoderHidden: number[] } | null,
  image: ImageShape,
  classes: number,
): Architecture {
  if (image.height === 28 && image.width === 28 && image.channels === 1) {
    const base = defaultArchitecture(classes);
    return parseArchitecture(mlp ? { ...base, ...mlp } : base);
  }
  return convArchitecture(image, classes);
}
