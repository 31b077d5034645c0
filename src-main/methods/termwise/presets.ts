/**
 * Term-wise DP-SGD presets: DP-SGD's (same model, batch, passes, Adam with a
 * cosine decay; ../dpsgd/presets.ts) plus the divergence. Measured figures:
 * docs/methods.md.
 */
import { DPSGD_PRESETS, type DpsgdPreset } from '../dpsgd/presets';
import type { PresetName } from '../preset-names';

/** A term-wise preset: DP-SGD's and the divergence's settings. */
export interface TermwisePreset extends DpsgdPreset {
  divergence: 'kl' | 'mmd-imq' | 'mmd-rbf';
  divergenceWeight: number;
  divergenceClip: number;
}

const DIVERGENCE = { divergence: 'mmd-imq', divergenceWeight: 1, divergenceClip: 0.25 } as const;

export const TERMWISE_PRESETS: Readonly<Record<PresetName, TermwisePreset>> = {
  quick: {
    ...DPSGD_PRESETS.quick,
    ...DIVERGENCE,
    summary:
      'Term-wise DP-SGD with an MMD pull of the codes to the prior: the small model, expected batch 1024, 10 passes.',
  },
  paper: {
    ...DPSGD_PRESETS.paper,
    ...DIVERGENCE,
    summary:
      'Term-wise DP-SGD with an MMD pull of the codes to the prior: the small model, expected batch 1024, 30 passes.',
  },
  'high-privacy': {
    ...DPSGD_PRESETS['high-privacy'],
    ...DIVERGENCE,
    summary:
      'Term-wise DP-SGD for a small ε (about 1): expected batch 2048, so each step’s average is less noisy.',
  },
};
