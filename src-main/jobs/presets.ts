/**
 * Training presets and plan resolution: a preset, the user's overrides, the
 * data set's size and a target (ε, δ) become the full hyperparameters of a
 * DP²-VAE run (Jiang et al., arXiv 2208.03409). Unless σ is given, it is
 * calibrated (`calibrateSigma`) so that the run's OWN T steps reach the
 * target exactly (never above it). Whether the run fits the data set's
 * remaining budget is checked by the runner (budget.ts) before anything starts.
 */
import { randomInt } from 'node:crypto';
import type { z } from 'zod';
import { UserError } from '../contract/errors';
import {
  convArchitecture,
  defaultArchitecture,
  parseArchitecture,
  type Architecture,
  type ImageShape,
} from '../engine';
import { calibrateSigma } from '../privacy';
import { ownEpsilon } from './budget';
import { TrainingPlan } from './protocol';

export const PRESET_NAMES = ['quick', 'paper', 'high-privacy'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** A preset: hyperparameters except σ and the seed, and the model's widths. */
export interface Preset {
  name: PresetName;
  /** One plain sentence for the New run screen. */
  summary: string;
  blocks: number;
  steps: number;
  pretrainEpochs: number;
  batchSize: number;
  lr: number;
  clip: number;
  optimizer: 'adam' | 'sgd';
  pretrainLr: number;
  pretrainClip: number;
  /** Hidden widths of the MLP model (28×28 images); null = the paper's 512/256. */
  mlp: { encoderHidden: number[]; decoderHidden: number[] } | null;
}

/**
 * The presets.
 *
 * - `quick` — measured on the development machine (2 shared cores, tfjs wasm,
 *   bench in the report of the jobs layer): MNIST 60 000 images, both stages
 *   in under 10 minutes; a smaller decoder than the paper's (the noise grows
 *   with √(decoder size), FINDINGS.md) and K = 500 blocks (σ grows slowly
 *   with T at large K).
 * - `paper` — the paper's MNIST setting: K = 2500 blocks, its model
 *   (decoder (8+10)→256→512→784), Adam; hours on a CPU.
 * - `high-privacy` — for small ε (around 1): many blocks, fewer steps.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  quick: {
    name: 'quick',
    summary:
      'A first generator in about ten minutes on a laptop: a small model, 500 blocks, 4000 private steps.',
    blocks: 500,
    steps: 4000,
    pretrainEpochs: 3,
    batchSize: 64,
    lr: 1e-3,
    clip: 1,
    optimizer: 'adam',
    pretrainLr: 1e-3,
    pretrainClip: 5,
    mlp: { encoderHidden: [256, 128], decoderHidden: [64, 128] },
  },
  paper: {
    name: 'paper',
    summary:
      'The setting of the DP²-VAE paper: 2500 blocks and its full model. Slow: hours without a GPU.',
    blocks: 2500,
    steps: 10_000,
    pretrainEpochs: 20,
    batchSize: 64,
    lr: 1e-3,
    clip: 1,
    optimizer: 'adam',
    pretrainLr: 1e-3,
    pretrainClip: 5,
    mlp: null,
  },
  'high-privacy': {
    name: 'high-privacy',
    summary:
      'For a small ε (about 1): 1000 blocks and fewer private steps, so less noise is needed per step.',
    blocks: 1000,
    steps: 2000,
    pretrainEpochs: 3,
    batchSize: 64,
    lr: 1e-3,
    clip: 1,
    optimizer: 'adam',
    pretrainLr: 1e-3,
    pretrainClip: 5,
    mlp: { encoderHidden: [256, 128], decoderHidden: [64, 128] },
  },
};

/** The smallest block a preset's K is reduced to fit (records per block). */
export const MIN_BLOCK_RECORDS = 8;

/** What the user may change on top of a preset. */
export const PlanOverrides = TrainingPlan.partial();
export type PlanOverrides = z.infer<typeof PlanOverrides>;

function presetOf(name: unknown): Preset {
  if (typeof name === 'string' && (PRESET_NAMES as readonly string[]).includes(name)) {
    return PRESETS[name as PresetName];
  }
  throw new UserError(
    'INVALID_INPUT',
    `There is no preset "${String(name)}". Choose one of ${PRESET_NAMES.join(', ')}.`,
  );
}

function checkOverrides(overrides: unknown): PlanOverrides {
  const r = PlanOverrides.safeParse(overrides ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue?.path.join('.') || 'the settings';
  throw new UserError(
    'INVALID_INPUT',
    issue?.code === 'unrecognized_keys'
      ? `Unknown training setting(s): ${(issue as { keys?: string[] }).keys?.join(', ')}. Known: ${Object.keys(TrainingPlan.shape).join(', ')}.`
      : `The training setting ${key} is not valid (${issue?.message ?? 'bad value'}).`,
  );
}

export interface ResolvePlanInput {
  preset: PresetName;
  overrides?: PlanOverrides;
  /** Records in the training split N. */
  datasetSize: number;
  targetEpsilon: number;
  delta: number;
}

export interface ResolvedPlan {
  plan: TrainingPlan;
  /** The run's own ε after all T steps (above the target only when σ was given; training then stops earlier). */
  epsilon: number;
  /** Plain-words notes on what was adjusted (e.g. fewer blocks for a small data set). */
  notes: string[];
}

/**
 * The full hyperparameters of a run. K is capped so each block holds at
 * least {@link MIN_BLOCK_RECORDS} records (unless K is given); σ, when not
 * given, is the smallest noise whose T steps stay within the target.
 * @throws UserError INVALID_INPUT for a bad setting, UNREACHABLE_TARGET when
 *   no σ reaches the target.
 */
export function resolvePlan(input: ResolvePlanInput): ResolvedPlan {
  const preset = presetOf(input.preset);
  const o = checkOverrides(input.overrides);
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
    calibrateSigma({ spec: { mechanism: 'dp2vae', blocks, steps }, epsilon: target, delta }).sigma;
  const plan: TrainingPlan = {
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
  const epsilon = ownEpsilon({ blocks, sigma }, steps, delta);
  if (epsilon > target) {
    notes.push(
      `With σ = ${sigma} the ${steps} steps would spend ε = ${epsilon.toPrecision(3)}; training stops at the last step within ε = ${target}.`,
    );
  }
  return { plan, epsilon, notes };
}

/**
 * The model for a data set's image shape: the preset's MLP widths (or the
 * paper's) for 28×28×1 images, the convolutional variant otherwise.
 */
export function planArchitecture(
  preset: PresetName,
  image: ImageShape,
  classes: number,
): Architecture {
  const p = presetOf(preset);
  if (image.height === 28 && image.width === 28 && image.channels === 1) {
    const base = defaultArchitecture(classes);
    return parseArchitecture(p.mlp ? { ...base, ...p.mlp } : base);
  }
  return convArchitecture(image, classes);
}
