/**
 * `randp` presets: the settings of each preset except σ (calibrated to the
 * target ε). Chosen by measurement (docs/classifier.md, bench/randp-probe.ts):
 * expected batch 3 000, C = 1, SGD momentum 0.9 with a cosine step size, EMA
 * 0.99; the step size and the epochs that measured best grow with ε
 * (phase2.ts measuredSettings). On a small data set (fewer than two
 * batches) the measured two-class setting is used: half the images per
 * step, 40 epochs.
 */
import type { PresetName } from '../preset-names';
import { measuredSettings, PHASE2_DEFAULTS } from './phase2';

export interface RandpPreset {
  name: PresetName;
  summary: string;
  /** Step size and passes over the data for a target ε. */
  schedule(epsilon: number): { lr: number; epochs: number };
}

/** Expected batch of every preset on a data set of at least two batches. */
export const RANDP_EXPECTED_BATCH: number = PHASE2_DEFAULTS.expectedBatch;
/** Passes over a small data set (measured on 4 000 images of two digits). */
export const RANDP_SMALL_EPOCHS = 40;

export const RANDP_PRESETS: Readonly<Record<PresetName, RandpPreset>> = {
  quick: {
    name: 'quick',
    summary:
      'A first private classifier: half the passes over the data of the paper preset (about 2 minutes for 60 000 images on a laptop, most of it computing the prior’s features).',
    schedule: (epsilon) => {
      const m = measuredSettings(epsilon);
      return { lr: m.lr, epochs: Math.max(1, Math.round(m.epochs / 2)) };
    },
  },
  paper: {
    name: 'paper',
    summary:
      'The measured settings for your ε (MNIST: 97 % at ε = 1, 98 % at ε = 8): step size and passes grow with ε. A few minutes on a laptop.',
    schedule: (epsilon) => measuredSettings(epsilon),
  },
  'high-privacy': {
    name: 'high-privacy',
    summary:
      'The settings measured best at a small ε (about 1): step size 0.3, 20 passes over the data, whatever ε you give.',
    schedule: () => measuredSettings(1),
  },
};
