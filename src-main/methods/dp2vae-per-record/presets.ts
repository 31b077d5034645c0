/**
 * Presets of DP²-VAE with per-record encoders: the schedule of the DP-SGD
 * preset of the same name (the same decoder, expected batch and passes, so
 * the two compare on one budget) and how each record's posterior is refined.
 * Figures: docs/methods.md.
 */
import { DPSGD_PRESETS, type DpsgdPreset } from '../dpsgd/presets';
import type { PresetName } from '../preset-names';

export interface PerRecordPreset extends DpsgdPreset {
  refineSteps: number;
  refineFirstSteps: number;
  refineLr: number;
  /** Importance samples of each image's bound (1 = the ELBO). */
  importanceSamples: number;
}

/**
 * One refinement step per visit, five on the first (measured, docs/methods.md):
 * at ε = 1 one, three or five steps per visit gave the same utility (CNN
 * 78.9 / 79.1 / 78.4 %) though more steps reach a lower −ELBO; at ε = 10
 * one and three gave CNN 82.3 and 82.0–83.5 %. One step keeps a step's cost
 * near DP-SGD's (bench/per-record.ts).
 */
const REFINE = { refineSteps: 1, refineFirstSteps: 5, refineLr: 0.05, importanceSamples: 1 };

const summaries: Record<PresetName, string> = {
  quick:
    'Per-record encoders on a small model: a first generator in a few minutes (expected batch 1024, 10 passes over the data).',
  paper:
    'Per-record encoders for the paper’s Table 1: the small model, expected batch 1024, 30 passes over the data.',
  'high-privacy':
    'Per-record encoders for a small ε (about 1): a larger expected batch (2048), so each step’s average is less noisy, and 4 samples per image (an importance-weighted bound).',
};

export const PER_RECORD_PRESETS: Readonly<Record<PresetName, PerRecordPreset>> = {
  quick: { ...DPSGD_PRESETS.quick, summary: summaries.quick, ...REFINE },
  paper: { ...DPSGD_PRESETS.paper, summary: summaries.paper, ...REFINE },
  'high-privacy': {
    ...DPSGD_PRESETS['high-privacy'],
    summary: summaries['high-privacy'],
    ...REFINE,
    // The importance-weighted bound with 4 samples (docs/methods.md, "Levers"):
    // +2.9 CNN points at ε = 1 over 3–4 seeds, for about 4.4× the time per step,
    // affordable on this preset's few steps; the longer presets keep the ELBO.
    importanceSamples: 4,
  },
};
