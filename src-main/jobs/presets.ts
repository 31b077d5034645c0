/**
 * Training presets and plan resolution: a preset, the user's overrides, the
 * data set's size and a target (ε, δ) become the full hyperparameters of a
 * DP²-VAE run (Jiang et al., arXiv 2208.03409) or of a DP-SGD run of the same
 * conditional VAE (`resolveRunPlan`). Unless σ is given, it is
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
import { ownEpsilon, planNoise } from './budget';
import { DpsgdPlan, TrainingPlan, type Method, type RunPlan } from './protocol';

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

/** What the user may change on top of a preset (either method; each refuses the other's settings). */
export const PlanOverrides = TrainingPlan.omit({ method: true })
  .partial()
  .extend({ sampleRate: DpsgdPlan.shape.sampleRate.optional() });
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
      ? `Unknown training setting(s): ${(issue as { keys?: string[] }).keys?.join(', ')}. Known: ${Object.keys(PlanOverrides.shape).join(', ')}.`
      : `The training setting ${key} is not valid (${issue?.message ?? 'bad value'}).`,
  );
}

export interface ResolvePlanInput {
  /** The method (default 'dp2vae'); see {@link resolveRunPlan}. */
  method?: Method;
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

function checkTarget(input: ResolvePlanInput): { n: number; target: number; delta: number } {
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
 * The full hyperparameters of a DP²-VAE run (for either method, use
 * {@link resolveRunPlan}). K is capped so each block holds at
 * least {@link MIN_BLOCK_RECORDS} records (unless K is given); σ, when not
 * given, is the smallest noise whose T steps stay within the target.
 * @throws UserError INVALID_INPUT for a bad setting, UNREACHABLE_TARGET when
 *   no σ reaches the target.
 */
export function resolvePlan(input: ResolvePlanInput): ResolvedPlan {
  if (input.method === 'dpsgd') {
    throw new UserError('INVALID_INPUT', 'resolvePlan makes DP²-VAE plans; use resolveRunPlan.');
  }
  const preset = presetOf(input.preset);
  const o = checkOverrides(input.overrides);
  if (o.sampleRate !== undefined) {
    throw new UserError(
      'INVALID_INPUT',
      'The sampling rate applies to DP-SGD runs only; DP²-VAE samples one block per step (set the number of blocks instead).',
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
  const epsilon = ownEpsilon(planNoise(plan), steps, delta);
  if (epsilon > target) {
    notes.push(
      `With σ = ${sigma} the ${steps} steps would spend ε = ${epsilon.toPrecision(3)}; training stops at the last step within ε = ${target}.`,
    );
  }
  return { plan, epsilon, notes };
}

/** A DP-SGD preset: hyperparameters except σ and the seed, and the model's widths. */
export interface DpsgdPreset {
  name: PresetName;
  summary: string;
  /** Expected batch size q·N (q is derived from the data set's size, at most 1). */
  expectedBatch: number;
  /** Passes over the data: T = ⌈epochs / q⌉ steps. */
  epochs: number;
  clip: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  lrSchedule: 'constant' | 'cosine';
  /** Hidden widths of the MLP model (28×28 images); null = the paper's 512/256. */
  mlp: { encoderHidden: number[]; decoderHidden: number[] } | null;
}

/**
 * DP-SGD presets (whole CVAE, Poisson sampling, per-example clipping, Adam
 * with a cosine learning-rate decay to 0 at T). Chosen by measurement on the
 * development machine (2 shared cores, tfjs wasm, MNIST 60 000 images,
 * ε = 10, δ = 1e-5, one seed; utility = accuracy on the real test split of
 * classifiers trained on 10 000 generated digits):
 *
 * - expected batch 1024 (q ≈ 0.017), 10 passes (586 steps, σ = 0.62), the
 *   small model (encoder 794→256→128→16, decoder 18→128→256→784, 475 k
 *   parameters, ≈ 2 000–3 500 samples/s on one core): Adam lr 2e-3 → CNN
 *   65 %, 5e-3 → 77 %, 1e-2 → 81 %, 2e-2 → 83.5 % (cosine: 82.7 %); logistic
 *   regression 77 → 84 %. A wider decoder (18→256→512→784) at 5e-3: the
 *   same (77 %), at half the speed. Expected batch 2048, 20 passes
 *   (σ = 0.79), 2e-2: 81 %.
 * - Every per-example gradient is clipped at C = 1 (norms are far above 1),
 *   so C only scales the gradient and Adam undoes the scale: C is not a lever.
 * - A constant lr of 2e-2 diverged after ≈ 1 100 steps (30 passes): the
 *   noise random-walks the weights; the cosine decay keeps late steps small.
 *
 * - 30 passes (1758 steps, σ = 0.733 by RDP), cosine decay from 2e-2: the
 *   `paper` preset, ≈ 8 min with another job on the second core. Through
 *   `dp2 train` and `dp2 eval` (60 000 generated digits, 5 seeds, protocol
 *   v2): LR 83.4 %, MLP 82.5 %, CNN 83.4 ± 0.2 %, above DP-Sinkhorn's 83.2 %.
 *   The paper's full model at 30 passes and lr 1e-2 gave CNN 82.6 % in
 *   12 min. A second training run differs by up to two points (the Poisson
 *   samples and the noise differ), so one run is one draw.
 *
 * Large expected batches keep the noise on the averaged gradient small
 * (σC/B), at a σ that grows only slowly with B; a smaller model than the
 * paper's halves the noise norm √d and more than doubles the throughput.
 */
export const DPSGD_PRESETS: Readonly<Record<PresetName, DpsgdPreset>> = {
  quick: {
    name: 'quick',
    summary:
      'DP-SGD on a small model: a first generator in about five minutes on a laptop (expected batch 1024, 10 passes over the data).',
    expectedBatch: 1024,
    epochs: 10,
    clip: 1,
    lr: 2e-2,
    optimizer: 'adam',
    lrSchedule: 'cosine',
    mlp: { encoderHidden: [256, 128], decoderHidden: [128, 256] },
  },
  paper: {
    name: 'paper',
    summary:
      'DP-SGD for the paper’s Table 1: the small model, expected batch 1024, 30 passes over the data. About ten minutes on a laptop.',
    expectedBatch: 1024,
    epochs: 30,
    clip: 1,
    lr: 2e-2,
    optimizer: 'adam',
    lrSchedule: 'cosine',
    mlp: { encoderHidden: [256, 128], decoderHidden: [128, 256] },
  },
  'high-privacy': {
    name: 'high-privacy',
    summary:
      'DP-SGD for a small ε (about 1): the small model with a larger expected batch (2048), so each step’s average is less noisy.',
    expectedBatch: 2048,
    epochs: 10,
    clip: 1,
    lr: 2e-2,
    optimizer: 'adam',
    lrSchedule: 'cosine',
    mlp: { encoderHidden: [256, 128], decoderHidden: [128, 256] },
  },
};

/** The presets of a method in order, for the New run screen. */
export function presetList(method: Method): { name: PresetName; summary: string }[] {
  return PRESET_NAMES.map((name) => ({
    name,
    summary: (method === 'dpsgd' ? DPSGD_PRESETS : PRESETS)[name].summary,
  }));
}

/** Resolved plan of either method. */
export interface ResolvedRunPlan {
  plan: RunPlan;
  epsilon: number;
  notes: string[];
}

/**
 * The full hyperparameters of a run of either method. For DP-SGD, q comes
 * from `sampleRate`, else from the expected batch (`batchSize`, default the
 * preset's) over the data set's size (at most 1); T from `steps`, else the
 * preset's passes over the data; σ, when not given, is the smallest noise
 * whose T steps stay within the target (calibrated by the plan's accountant).
 * @throws UserError INVALID_INPUT for a bad setting (including DP²-VAE-only
 *   settings on a DP-SGD run), UNREACHABLE_TARGET when no σ reaches it.
 */
export function resolveRunPlan(input: ResolvePlanInput): ResolvedRunPlan {
  const method = input.method ?? 'dp2vae';
  if (method === 'dp2vae') return resolvePlan({ ...input, method });
  if (method !== 'dpsgd') {
    throw new UserError(
      'INVALID_INPUT',
      `There is no training method "${String(method)}". Choose dp2vae or dpsgd.`,
    );
  }
  const preset = DPSGD_PRESETS[presetOf(input.preset).name];
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
  const epsilon = ownEpsilon(planNoise(plan), steps, delta);
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
  method: Method = 'dp2vae',
): Architecture {
  const p = method === 'dpsgd' ? DPSGD_PRESETS[presetOf(preset).name] : presetOf(preset);
  if (image.height === 28 && image.width === 28 && image.channels === 1) {
    const base = defaultArchitecture(classes);
    return parseArchitecture(p.mlp ? { ...base, ...p.mlp } : base);
  }
  return convArchitecture(image, classes);
}
