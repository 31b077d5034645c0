/**
 * DP-SGD on the whole conditional VAE: the method's one descriptor.
 * Releases the decoder; add/remove relation, accounted as the
 * Poisson-subsampled Gaussian mechanism (docs/privacy.md).
 */
import type { DpsgdPlan, RunPlan } from '../../jobs/protocol';
import { defineMethod } from '../descriptor';
import { architectureFor } from '../plan-input';
import { poissonCertificate } from '../poisson-plan';
import { dpsgdCard } from './card';
import { dpsgdNoise, resolveDpsgdPlan } from './plan';
import { DPSGD_PRESETS } from './presets';

export const dpsgd = defineMethod<DpsgdPlan>({
  card: dpsgdCard,
  relation: 'add-remove',
  presets: DPSGD_PRESETS,
  ownsPlan: (plan: RunPlan): plan is DpsgdPlan => plan.method === dpsgdCard.id,
  resolvePlan: resolveDpsgdPlan,
  noise: dpsgdNoise,
  architecture: (preset, image, classes) =>
    architectureFor(DPSGD_PRESETS[preset].mlp, image, classes),
  certificate: (plan, c) => poissonCertificate('dpsgd', plan, c),
  // Its (noised, still unreleased) encoder lives inside its checkpoints.
  privateFolders: [],
  // Loaded only in the worker: the engine's training code stays out of the main process.
  train: async (config, plan, ctx) => (await import('./train')).trainDpsgd(config, plan, ctx),
});
