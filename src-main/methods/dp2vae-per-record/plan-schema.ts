/** The stored plan of a DP²-VAE run with per-record encoders (zod only; see ./plan.ts). */
import { z } from 'zod';
import { AccountantName } from '../plan-fields';

/**
 * Hyperparameters of DP²-VAE with per-record encoders (engine/posterior.ts):
 * each step Poisson-samples every record with probability `sampleRate`,
 * refines the sampled records' own posteriors without noise, and trains the
 * decoder on the sum of per-example gradients clipped to C plus N(0, σ²C²).
 */
export const PerRecordPlan = z.strictObject({
  method: z.literal('dp2vae-per-record'),
  accountant: AccountantName.optional(),
  /** q: the Poisson sampling probability of each record per step. */
  sampleRate: z.number().gt(0).lte(1),
  /** The expected batch size q·N, rounded (for display; q is what counts). */
  batchSize: z.number().int().min(1),
  /** σ: noise std σ·C on the sum of clipped per-example decoder gradients. */
  sigma: z.number().positive().finite(),
  /** C: the per-example clipping norm of the decoder's gradient. */
  clip: z.number().positive().finite(),
  /** T: the step budget. */
  steps: z.number().int().min(1),
  /** Learning rate of the decoder's optimiser. */
  lr: z.number().positive().finite(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  optimizer: z.enum(['adam', 'sgd']),
  lrSchedule: z.enum(['constant', 'cosine']),
  /** Gradient steps on a sampled record's posterior (no noise; never released). */
  refineSteps: z.number().int().min(0).max(255),
  /** The same on a record's first visit (a warm start from the prior). */
  refineFirstSteps: z.number().int().min(0).max(255),
  /** Step size of the posterior refinement. */
  refineLr: z.number().positive().finite(),
});
export type PerRecordPlan = z.infer<typeof PerRecordPlan>;
