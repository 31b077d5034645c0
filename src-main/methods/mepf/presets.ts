/**
 * `mepf` presets: the settings of each preset except σ (calibrated to the
 * target ε) and the seed. Chosen by measurement (docs/methods.md).
 */
import type { PresetName } from '../preset-names';

export interface MepfPreset {
  name: PresetName;
  summary: string;
  features: 'prior' | 'random-net' | 'rff';
  generatorSteps: number;
  generatorBatch: number;
  lr: number;
}

/**
 * The release costs the same at every preset (one Gaussian mechanism; σ from
 * the target ε); the presets differ in how long the generator trains, which
 * costs time, never privacy. A generator step takes about 0.4–0.8 s on one
 * core of a laptop (batch 100, 28×28), the private phase about a minute for
 * 60 000 images.
 */
export const MEPF_PRESETS: Readonly<Record<PresetName, MepfPreset>> = {
  quick: {
    name: 'quick',
    summary:
      'One private release of the prior’s features, then a generator trained for 600 steps: a first result within about ten minutes on a laptop.',
    features: 'prior',
    generatorSteps: 600,
    generatorBatch: 100,
    lr: 1e-3,
  },
  paper: {
    name: 'paper',
    summary:
      'The same release, and a generator trained for 4 000 steps (about 45 minutes on a laptop). Training longer costs no privacy.',
    features: 'prior',
    generatorSteps: 4000,
    generatorBatch: 100,
    lr: 1e-3,
  },
  'high-privacy': {
    name: 'high-privacy',
    summary:
      'For a small ε (about 1): the release is made once whatever ε, so a small ε only adds noise to it; the generator trains for 1 500 steps.',
    features: 'prior',
    generatorSteps: 1500,
    generatorBatch: 100,
    lr: 1e-3,
  },
};
