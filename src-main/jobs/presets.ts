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
 * - `quick` — chosen by measurement on the development machine (2 shared
 *   cores, tfjs wasm, MNIST 60 000 images, ε = 10, δ = 1e-5): through the
 *   runner, 457 s wall (stage 1 31 s, stage 2 426 s for 20 000 steps).
 *   Stage 2 is noise-dominated at any ε (FINDINGS.md: the clipped block-mean
 *   gradient carries at most C against noise σC·√d, and σ stays ≥ ≈ 0.6
 *   even at ε = 1000), so the levers are a tiny decoder (d ≈ 14k instead of
 *   539k: (8+10)→16→784), many cheap steps (≈ 20 ms each) and K = 1000
 *   blocks (σ ≈ 1.0 for 20 000 steps). Measured stage-2 loss 217 nats
 *   (random decoder ≈ 545; the paper's model: 358 after 4000 steps in the
 *   same time). The samples show the mean digit stroke, not yet each class:
 *   nearest-class-mean accuracy of generated digits ≈ 11–18 % (chance 10 %,
 *   real test digits 79 %).
 * - `paper` — the paper's MNIST setting: K = 2500 blocks, its model
 *   (decoder (8+10)→256→512→784), Adam; hours on a CPU.
 * - `high-privacy` — for small ε (around 1): the quick model with K = 2000
 *   (σ ≈ 1.8 for 20 000 steps at ε = 1, against 2.7 with K = 1000); needs
 *   at least 16 000 training images to keep 2000 blocks.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  quick: {
    name: 'quick',
    summary:
      'A first generator in about ten minutes on a laptop: a very small model, 1000 blocks, 20 000 private steps.',
    blocks: 1000,
    steps: 20_000,
    pretrainEpochs: 3,
    batchSize: 64,
    lr: 3e-3,
    clip: 1,
    optimizer: 'adam',
    pretrainLr: 3e-3,
    pretrainClip: 5,
    mlp: { encoderHidden: [128, 64], decoderHidden: [16] },
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
      'For a small ε (about 1): the quick model with 2000 blocks, so less noise is needed per step (σ ≈ 1.8 at ε = 1).',
    blocks: 2000,
    steps: 20_000,
    pretrainEpochs: 3,
    batchSize: 64,
    lr: 3e-3,
    clip: 1,
    optimizer: 'adam',
    pretrainLr: 3e-3,
    pretrainClip: 5,
    mlp: { encoderHidden: [128, 64], decoderHidden: [16] },
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
