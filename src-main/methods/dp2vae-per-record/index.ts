/**
 * DP²-VAE with per-record encoders (the paper's idea at K = N blocks): the
 * method's one descriptor. Releases the decoder; add/remove relation,
 * accounted as the Poisson-subsampled Gaussian mechanism on the decoder's
 * clipped per-example gradients (docs/privacy.md).
 */
import type { RunPlan } from '../../jobs/protocol';
import { defineMethod } from '../descriptor';
import { architectureFor } from '../plan-input';
import { poissonCertificate } from '../poisson-plan';
import { perRecordCard } from './card';
import { perRecordNoise, resolvePerRecordPlan } from './plan';
import type { PerRecordPlan } from './plan-schema';
import { PER_RECORD_PRESETS } from './presets';

export const dp2vaePerRecord = defineMethod<PerRecordPlan>({
  card: perRecordCard,
  relation: 'add-remove',
  presets: PER_RECORD_PRESETS,
  ownsPlan: (plan: RunPlan): plan is PerRecordPlan => plan.method === perRecordCard.id,
  resolvePlan: resolvePerRecordPlan,
  noise: perRecordNoise,
  architecture: (preset, image, classes) =>
    architectureFor(PER_RECORD_PRESETS[preset].mlp, image, classes),
  certificate: (plan, c) => poissonCertificate('dp2vae-per-record', plan, c),
  // The per-record posteriors live inside its checkpoints (deleted with them).
  privateFolders: [],
  // K importance samples put K rows per image through the decoder: ≈ K× the time
  // per step (bench/per-record.ts).
  workPerImage: (plan) => plan.importanceSamples,
  // Loaded only in the worker: the engine's training code stays out of the main process.
  train: async (config, plan, ctx) =>
    (await import('../dpsgd/train')).trainPoisson(config, plan, ctx, {
      method: 'dp2vae-per-record',
      encoders: 'per-record',
      refine: {
        steps: plan.refineSteps,
        firstVisitSteps: plan.refineFirstSteps,
        lr: plan.refineLr,
        samples: plan.importanceSamples,
      },
    }),
});
