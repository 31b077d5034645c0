/** The stored plan of a term-wise DP-SGD run (zod only; see ./plan.ts for how it is made). */
import { z } from 'zod';
import { AccountantName } from '../plan-fields';

/**
 * Hyperparameters of a term-wise DP-SGD run of the conditional VAE with a
 * batch-coupled regulariser (engine/termwise.ts). σ is the pair's noise
 * multiplier (the accountant's); each term's own σ follows from σ, C and
 * C₂ (privacy/termwise.ts splitSigma).
 */
export const TermwisePlan = z.strictObject({
  method: z.literal('termwise'),
  accountant: AccountantName.optional(),
  sampleRate: z.number().gt(0).lte(1),
  batchSize: z.number().int().min(1),
  sigma: z.number().positive().finite(),
  /** C₁: the per-record term's clip (naive: the one clip). */
  clip: z.number().positive().finite(),
  steps: z.number().int().min(1),
  lr: z.number().positive().finite(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  optimizer: z.enum(['adam', 'sgd']),
  lrSchedule: z.enum(['constant', 'cosine']).optional(),
  /** The prior/divergence pair. */
  divergence: z.enum(['kl', 'mmd-imq', 'mmd-rbf']),
  /** λ: weight of B·MMD². */
  divergenceWeight: z.number().positive().finite(),
  /** C₂: one record's own divergence gradient is at most C₂ (the term's sensitivity is 2C₂). */
  divergenceClip: z.number().positive().finite(),
  /** 'termwise' (the paper's mechanism) or 'naive' (research: DP-SGD on the same loss). */
  mode: z.enum(['termwise', 'naive']),
  /** Naive only: a sample above this many records is a noise-only step. */
  batchCap: z.number().int().min(1),
});
export type TermwisePlan = z.infer<typeof TermwisePlan>;
