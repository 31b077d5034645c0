/** The stored plan of a `mepf` run (zod only; see ./plan.ts for how it is made). */
import { z } from 'zod';
import { AccountantName, ReleasedClassifier } from '../plan-fields';

/** Where φ comes from (embedding.ts): the shipped prior, the same network untrained, or random Fourier features. */
export const MepfFeatures = z.enum(['prior', 'random-net', 'rff']);

/**
 * Hyperparameters of a `mepf` run: one Gaussian release of the class sums of
 * φ and the class counts (release.ts), then a generator trained to match it
 * (generator.ts; post-processing, no privacy cost).
 */
export const MepfPlan = z.strictObject({
  method: z.literal('mepf'),
  /** The accountant (absent: 'rdp'). */
  accountant: AccountantName.optional(),
  features: MepfFeatures,
  /** For `prior` features: the prior the plan was made with, by name (the worker refuses another). */
  priorName: z.string().min(1).optional(),
  /** … and the SHA-256 of its weights. */
  priorSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** … and what its manifest states about its training data. */
  priorStatement: z.string().min(1).optional(),
  /** σ: noise std σ·Δ on every coordinate of the released vector. */
  sigma: z.number().positive().finite(),
  /** w: the weight of the class counts in the released vector (Δ = √(1 + w²)). */
  countWeight: z.number().positive().finite(),
  /** Noisy releases this run makes: 1, or 0 when it trains from another run's release. */
  steps: z.number().int().min(0).max(1),
  /** The run whose release this run's generator matches (no new spend), if any. */
  fromRelease: z.number().int().min(1).optional(),
  /**
   * The private classifier that labels the images drawn from the generator
   * (sample.ts sampleByLabeller), if any: the images are post-processing of
   * the release and the classifier, so the certificate composes both.
   */
  labeller: ReleasedClassifier.optional(),
  /** Adam steps of the generator (post-processing). */
  generatorSteps: z.number().int().min(1),
  /** Generated images per generator step. */
  generatorBatch: z.number().int().min(1),
  /** The generator's Adam step size. */
  lr: z.number().positive().finite(),
  /** Its schedule over the generator's steps (generator.ts). */
  lrSchedule: z.enum(['constant', 'cosine']),
  /** How a step estimates the generated class means (generator.ts). */
  estimator: z.enum(['moving-average', 'unbiased']),
  /** Seed of the data-independent streams (the generator's weights and latents, the φ of `random-net`/`rff`). */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
});
export type MepfPlan = z.infer<typeof MepfPlan>;
