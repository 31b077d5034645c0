/** The stored plan of a DP²-VAE run with per-record encoders (zod only; see ./plan.ts). */
import { z } from 'zod';
import { DpsgdPlan } from '../dpsgd/plan-schema';

/**
 * Hyperparameters of DP²-VAE with per-record encoders (engine/posterior.ts):
 * DP-SGD's schedule and noise (each step Poisson-samples every record with
 * probability `sampleRate`; σ·C on the sum of per-example decoder gradients
 * clipped to C), plus how each sampled record's own posterior is refined
 * without noise. Strict like every plan: another method's never parses.
 */
export const PerRecordPlan = DpsgdPlan.extend({
  method: z.literal('dp2vae-per-record'),
  lrSchedule: z.enum(['constant', 'cosine']),
  /** Gradient steps on a sampled record's posterior (no noise; never released). */
  refineSteps: z.number().int().min(0).max(255),
  /** The same on a record's first visit (a warm start from the prior). */
  refineFirstSteps: z.number().int().min(0).max(255),
  /** Step size of the posterior refinement. */
  refineLr: z.number().positive().finite(),
  /**
   * Importance samples K of each record's bound (IWAE; 1 = the ELBO), for its
   * refinement and for its decoder gradient. Plans stored before it existed mean 1.
   */
  importanceSamples: z.number().int().min(1).max(16).default(1),
});
export type PerRecordPlan = z.infer<typeof PerRecordPlan>;
