/** The stored plan of a DP-SGD run (zod only; see ./plan.ts for how it is made). */
import { z } from 'zod';
import { AccountantName } from '../plan-fields';

/**
 * Hyperparameters of a DP-SGD run of the conditional VAE (encoder and decoder
 * trained together; engine/dpsgd.ts). Each step Poisson-samples every record
 * with probability `sampleRate`; σ is the noise multiplier on the sum of
 * per-example gradients clipped to C.
 */
export const DpsgdPlan = z.strictObject({
  method: z.literal('dpsgd'),
  /** The accountant (absent: 'rdp'). */
  accountant: AccountantName.optional(),
  /** q: the Poisson sampling probability of each record per step. */
  sampleRate: z.number().gt(0).lte(1),
  /** The expected batch size q·N, rounded (for display; q is what counts). */
  batchSize: z.number().int().min(1),
  /** σ: noise std σ·C on the sum of clipped per-example gradients. */
  sigma: z.number().positive().finite(),
  /** C: the per-example clipping norm (encoder and decoder gradient as one vector). */
  clip: z.number().positive().finite(),
  /** T: the step budget. */
  steps: z.number().int().min(1),
  /** Learning rate of the optimiser (encoder and decoder). */
  lr: z.number().positive().finite(),
  /** Seed of the data-independent streams (initialisation, the VAE's ε). */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  optimizer: z.enum(['adam', 'sgd']),
  /** Learning-rate schedule over T ('cosine': decays to 0 at T; absent: constant). */
  lrSchedule: z.enum(['constant', 'cosine']).optional(),
});
export type DpsgdPlan = z.infer<typeof DpsgdPlan>;
