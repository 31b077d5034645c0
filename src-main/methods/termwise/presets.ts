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

// C₂ = 0.05: the per-record term's σ is then √1.1 ≈ 1.05 × the pair's (privacy/termwise.ts
// splitSigma); at 150 steps and ε = 10, C₂ = 0.25, 0.05, 0.02 gave CNN 77.4, 78.1, 78.6 %
// (one run each, bench/termwise.ts).
const DIVERGENCE = { divergence: 'mmd-imq', divergenceWeight: 1, divergenceClip: 0.05 } as const;

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
