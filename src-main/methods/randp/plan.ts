/**
 * A `randp` run's plan: a preset, the user's overrides, the data set's size
 * and a target (ε, δ) become the full settings. The schedule (q from the
 * expected batch, T from the passes, σ calibrated by the plan's accountant
 * so that T steps stay within the target) is the one every Poisson-sampled
 * method shares (../poisson-plan.ts); the prior's identity is recorded so
 * that the worker trains on the prior the plan was made with.
 */
import type { RunNoise } from '../../jobs/budget';
import { readPriorManifest } from '../../priors/prior-file';
import {
  checkOverrides,
  checkPresetName,
  checkTarget,
  refuseForeignSettings,
  type ResolvePlanInput,
  type ResolvedRunPlan,
} from '../plan-input';
import { poissonNoise, resolvePoissonSchedule, scheduleEpsilon } from '../poisson-plan';
import { PHASE2_DEFAULTS } from './phase2';
import type { RandpPlan } from './plan-schema';
import { RANDP_EXPECTED_BATCH, RANDP_PRESETS, RANDP_SMALL_EPOCHS } from './presets';
import { randpSettings } from './settings';

/** The noise of a `randp` plan: Poisson sampling at q, σ (the accountant's 'dpsgd' mechanism). */
export function randpNoise(plan: RandpPlan): RunNoise {
  return poissonNoise(plan);
}

/**
 * The full settings of a `randp` run (../poisson-plan.ts for q, T, σ).
 * @throws UserError INVALID_INPUT for a setting of another method or a bad
 *   value, NOT_FOUND / CORRUPT_DATA when the prior is missing or damaged,
 *   UNREACHABLE_TARGET when no σ reaches the target.
 */
export function resolveRandpPlan(input: ResolvePlanInput): ResolvedRunPlan<RandpPlan> {
  const preset = RANDP_PRESETS[checkPresetName(input.preset)];
  const o = checkOverrides(input.overrides);
  refuseForeignSettings(o, randpSettings, {
    name: 'randp',
    why: 'they train a linear classifier on the prior’s fixed features (no generator, encoder or blocks).',
  });
  const { n, target } = checkTarget(input);
  const measured = preset.schedule(target);
  // A small data set: half of it per step, the passes measured on 4 000 images.
  const small = n < 2 * RANDP_EXPECTED_BATCH;
  const notes: string[] = [];
  if (small && o.batchSize === undefined && o.sampleRate === undefined) {
    notes.push(
      `The data set has ${n} training images, fewer than two batches of ${RANDP_EXPECTED_BATCH}: each step samples about half of them, for ${RANDP_SMALL_EPOCHS} passes (the setting measured on 4 000 images).`,
    );
  }
  const s = resolvePoissonSchedule(
    input,
    {
      expectedBatch: small ? Math.max(1, Math.round(n / 2)) : RANDP_EXPECTED_BATCH,
      epochs: small ? RANDP_SMALL_EPOCHS : measured.epochs,
    },
    { keys: [], why: '', method: 'randp' },
  );
  const manifest = readPriorManifest();
  const plan: RandpPlan = {
    method: 'randp',
    accountant: s.accountant,
    priorName: manifest.name,
    priorSha256: manifest.weights.sha256,
    priorStatement: manifest.statement,
    sampleRate: s.sampleRate,
    batchSize: s.batchSize,
    sigma: s.sigma,
    clip: o.clip ?? PHASE2_DEFAULTS.clip,
    steps: s.steps,
    lr: o.lr ?? measured.lr,
    momentum: o.momentum ?? PHASE2_DEFAULTS.momentum,
    emaDecay: o.emaDecay ?? PHASE2_DEFAULTS.emaDecay,
    power: PHASE2_DEFAULTS.power,
    shrink: PHASE2_DEFAULTS.shrink,
    publicPerFamily: o.publicPerFamily ?? PHASE2_DEFAULTS.publicPerFamily,
  };
  const { epsilon, notes: more } = scheduleEpsilon(s);
  return { plan, epsilon, notes: [...notes, ...more] };
}
