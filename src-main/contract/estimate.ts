import { z } from 'zod';

/** How long a planned run should take on this computer and how much memory it needs, and why we think so. */
export const EstimateDto = z.strictObject({
  seconds: z.number().nonnegative(),
  /** The same, stage by stage (in order). */
  stages: z.array(
    z.strictObject({ stage: z.enum(['stage1', 'stage2']), seconds: z.number().nonnegative() }),
  ),
  backend: z.string(),
  basis: z.string(),
  /** Peak memory of the training process (services/estimate-memory.ts), part by part. */
  memory: z.strictObject({
    peakMb: z.number().nonnegative(),
    parts: z.array(z.strictObject({ name: z.string(), mb: z.number().nonnegative() })),
    basis: z.string(),
  }),
});
