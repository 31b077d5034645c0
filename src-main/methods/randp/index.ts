/**
 * `randp` (issue #21; DP-RandP phase 2, Tang et al., NeurIPS 2023): the
 * method's one descriptor. Releases a classifier, not a generator: a softmax
 * linear model trained with DP-SGD on the frozen features of the
 * random-process prior (add/remove relation, accounted as the
 * Poisson-subsampled Gaussian mechanism, ledger mechanism 'dpsgd').
 */
import { UserError } from '../../contract/errors';
import { defaultArchitecture, parseArchitecture } from '../../engine/architecture';
import type { RunPlan } from '../../jobs/protocol';
import { defineMethod } from '../descriptor';
import { poissonCertificate } from '../poisson-plan';
import { randpCard } from './card';
import { randpNoise, resolveRandpPlan } from './plan';
import type { RandpPlan } from './plan-schema';
import { RANDP_PRESETS } from './presets';

export const randp = defineMethod<RandpPlan>({
  card: randpCard,
  relation: 'add-remove',
  presets: RANDP_PRESETS,
  ownsPlan: (plan: RunPlan): plan is RandpPlan => plan.method === randpCard.id,
  resolvePlan: resolveRandpPlan,
  noise: randpNoise,
  // The stored model description carries what the run needs of it: the data
  // set's image shape and its classes. A classifier has no decoder, so the
  // description's network is the smallest one the engine accepts; it is never
  // built, trained or released (the classifier is described by its own model
  // card, classifier.ts).
  architecture: (_preset, image, classes) => {
    if (classes < 2) {
      throw new UserError(
        'INVALID_INPUT',
        'A private classifier needs a data set of at least two classes; this one has one.',
      );
    }
    return parseArchitecture({
      ...defaultArchitecture(classes),
      image,
      latent: 1,
      encoderHidden: [1],
      decoderHidden: [1],
    });
  },
  certificate: (plan, c) =>
    poissonCertificate('randp', plan, c, {
      name: plan.priorName,
      weights_sha256: plan.priorSha256,
      statement: plan.priorStatement,
    }),
  // One pass of the prior over the training images, then the probe's Poisson-sampled steps.
  stageWork: (plan, trainCount) => [
    { stage: 'stage1', samples: trainCount },
    { stage: 'stage2', samples: plan.steps * plan.sampleRate * trainCount },
  ],
  // The images' features are held in memory only; its checkpoints hold the noisy weights.
  privateFolders: [],
  // Loaded only in the worker: the engine's training code stays out of the main process.
  train: async (config, plan, ctx) => (await import('./train')).trainRandp(config, plan, ctx),
});
