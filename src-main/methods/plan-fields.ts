/**
 * Fields the stored plans of several methods share. Zod only: the contract,
 * bundled into the sandboxed preload, reads the plans' schemas.
 */
import { z } from 'zod';

/**
 * The privacy accountant that calibrates σ and states ε ('rdp': Rényi DP,
 * src-main/privacy). A field of the plan so that another accountant can be
 * chosen per run; runs stored without it used RDP.
 */
export const AccountantName = z.enum(['rdp', 'pld']);
export type AccountantName = z.infer<typeof AccountantName>;

/**
 * A private classifier released by an earlier run on the same data set (a
 * finished `randp` run), as another run's plan records it when it builds on
 * that classifier: the run, and the privacy its certificate states (Poisson
 * rate q, noise multiplier σ, clip C, steps T, accountant) and the prior its
 * features came from (public: shipped with the app).
 */
export const ReleasedClassifier = z.strictObject({
  run: z.number().int().min(1),
  sampleRate: z.number().gt(0).lte(1),
  sigma: z.number().positive().finite(),
  clip: z.number().positive().finite(),
  steps: z.number().int().min(1),
  /** Absent: 'rdp'. */
  accountant: AccountantName.optional(),
  priorName: z.string().min(1),
  priorSha256: z.string().regex(/^[0-9a-f]{64}$/),
  priorStatement: z.string().min(1),
});
export type ReleasedClassifier = z.infer<typeof ReleasedClassifier>;
