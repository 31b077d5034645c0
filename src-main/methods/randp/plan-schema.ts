/** The stored plan of a `randp` run (zod only; see ./plan.ts for how it is made). */
import { z } from 'zod';
import { AccountantName } from '../plan-fields';

/**
 * Hyperparameters of a `randp` run (DP-RandP phase 2): a softmax linear
 * classifier trained with DP-SGD (dp-linear.ts) on the frozen features of
 * the random-process prior, after a feature map made from the prior alone
 * (phase2.ts). Each step Poisson-samples every record with probability
 * `sampleRate`; σ is the noise multiplier on the sum of per-example
 * gradients clipped to C.
 */
export const RandpPlan = z.strictObject({
  method: z.literal('randp'),
  /** The accountant (absent: 'rdp'). */
  accountant: AccountantName.optional(),
  /** The prior the plan was made with, by name (the worker refuses another)… */
  priorName: z.string().min(1),
  /** … the SHA-256 of its weights … */
  priorSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** … and what its manifest states about its training data. */
  priorStatement: z.string().min(1),
  /** q: the Poisson sampling probability of each record per step. */
  sampleRate: z.number().gt(0).lte(1),
  /** The expected batch size q·N, rounded (for display; q is what counts). */
  batchSize: z.number().int().min(1),
  /** σ: noise std σ·C on the sum of clipped per-example gradients. */
  sigma: z.number().positive().finite(),
  /** C: the per-example clipping norm (weights and bias as one vector). */
  clip: z.number().positive().finite(),
  /** T: the step budget. */
  steps: z.number().int().min(1),
  /** Peak step size (cosine decay to 0 at T). */
  lr: z.number().positive().finite(),
  /** SGD momentum. */
  momentum: z.number().min(0).lt(1),
  /** Decay of the moving average of the iterates that is released (0: the last iterate). */
  emaDecay: z.number().min(0).lt(1),
  /** Feature map (public): the element-wise power of the pooled features. */
  power: z.number().positive().finite(),
  /** … the shrinkage of the public covariance toward the identity. */
  shrink: z.number().positive().finite(),
  /** … and procedural images per family behind the public covariance. */
  publicPerFamily: z.number().int().min(10),
});
export type RandpPlan = z.infer<typeof RandpPlan>;
