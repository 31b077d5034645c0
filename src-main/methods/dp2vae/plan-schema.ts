/** The stored plan of a DP²-VAE run (zod only; see ./plan.ts for how it is made). */
import { z } from 'zod';
import { AccountantName } from '../plan-fields';

/** Hyperparameters of a DP²-VAE run (stored with the run; see presets.ts). */
export const TrainingPlan = z.strictObject({
  /** The method ('dp2vae'; absent in runs stored before DP-SGD existed). */
  method: z.literal('dp2vae').optional(),
  /** The accountant (absent: 'rdp'). */
  accountant: AccountantName.optional(),
  /** K: disjoint blocks of the private records (stage 1 trains one encoder per block). */
  blocks: z.number().int().min(1),
  /** σ: stage-2 noise std is σ·C on the clipped batch-mean decoder gradient. */
  sigma: z.number().positive().finite(),
  /** C: clipping norm of the batch-mean decoder gradient (stage 2). */
  clip: z.number().positive().finite(),
  /** T: the stage-2 step budget. */
  steps: z.number().int().min(1),
  /** Stage-1 passes over the largest block. */
  pretrainEpochs: z.number().positive().finite(),
  /** Batch size of both stages (a block smaller than this is used whole). */
  batchSize: z.number().int().min(1),
  /** Stage-2 decoder learning rate. */
  lr: z.number().positive().finite(),
  /** Seed of the data-independent streams (partition, initialisation, batch order). */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  /** Stage-2 decoder optimiser. */
  optimizer: z.enum(['adam', 'sgd']),
  /** Stage-1 learning rate (Adam). */
  pretrainLr: z.number().positive().finite(),
  /** Stage-1 clipping norm of each model's batch gradient. */
  pretrainClip: z.number().positive().finite(),
});
export type TrainingPlan = z.infer<typeof TrainingPlan>;
