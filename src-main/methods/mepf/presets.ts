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
}

/**
 * The release costs the same at every preset (one Gaussian mechanism; σ from
 * the target ε); the presets differ in how long the generator trains, which
 * costs time, never privacy.
 *
 * Features: random Fourier features of the pixels (two kernels). Measured on
 * MNIST at ε = 1 (docs/methods.md), with images drawn by the release: CNN
 * 81.8 % after 400 generator steps, against 52–58 % for the random-process
 * prior's features, whose class means the release cannot tell apart well
 * enough to choose images by. More steps did not raise the accuracy (200 to
 * 1 000 measured); a step takes about 0.5–0.9 s on one core (batch 100,
 * 28×28), the private phase under a minute for 60 000 images.
 */
export const MEPF_PRESETS: Readonly<Record<PresetName, MepfPreset>> = {
  quick: {
    name: 'quick',
    summary:
      'One private release of image features, then a generator trained for 400 steps: a first result within about ten minutes on a laptop.',
    features: 'rff',
    generatorSteps: 400,
    generatorBatch: 100,
  },
  paper: {
    name: 'paper',
    summary:
      'The same release, and a generator trained for 1 000 steps (about twenty minutes on a laptop). Training longer costs no privacy.',
    features: 'rff',
    generatorSteps: 1000,
    generatorBatch: 100,
  },
  'high-privacy': {
    name: 'high-privacy',
    summary:
      'For a small ε (about 1): the release is made once whatever ε, so a small ε only adds noise to it; the generator trains for 400 steps.',
    features: 'rff',
    generatorSteps: 400,
    generatorBatch: 100,
  },
};
