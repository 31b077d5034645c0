/**
 * DP²-VAE presets (Jiang et al., arXiv 2208.03409): the settings of each
 * preset except σ (calibrated to the target ε) and the seed.
 */
import type { PresetName } from '../preset-names';

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
