/**
 * DP²-VAE with per-block encoders (the paper's stage 2): the method's one
 * descriptor. Releases the decoder; replace-one relation, accounted as
 * subsampling one of K blocks without replacement (docs/privacy.md).
 */
import type { RunPlan, TrainingPlan } from '../../jobs/protocol';
import { buildCertificate } from '../../privacy/certificate';
import { defineMethod } from '../descriptor';
import { architectureFor } from '../plan-input';
import { dp2vaeCard } from './card';
import { dp2vaeNoise, resolvePlan } from './plan';
import { PRESETS } from './presets';

export const dp2vae = defineMethod<TrainingPlan>({
  card: dp2vaeCard,
  relation: 'replace-one',
  presets: PRESETS,
  // Plans stored before DP-SGD existed carry no method: they are DP²-VAE's.
  ownsPlan: (plan: RunPlan): plan is TrainingPlan =>
    plan.method === undefined || plan.method === dp2vaeCard.id,
  resolvePlan,
  noise: dp2vaeNoise,
  architecture: (preset, image, classes) => architectureFor(PRESETS[preset].mlp, image, classes),
  certificate: (plan, c) =>
    buildCertificate({
      blocks: plan.blocks,
      sigma: plan.sigma,
      clip: plan.clip,
      steps: c.steps,
      delta: c.delta,
      accountant: plan.accountant ?? 'rdp',
      datasetId: c.datasetId,
      backend: c.backend,
      version: c.version,
      ...(c.created ? { created: c.created } : {}),
    }),
  privateFolders: ['encoders'],
  // Loaded only in the worker: the engine's training code stays out of the main process.
  train: async (config, plan, ctx) => (await import('./train')).trainDp2vae(config, plan, ctx),
});
