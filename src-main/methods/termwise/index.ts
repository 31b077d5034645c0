/**
 * Term-wise DP-SGD (Takahashi et al., arXiv 2006.11204): the method's one
 * descriptor. Releases the decoder; add/remove relation, accounted as the
 * Poisson-subsampled Gaussian at the pair's σ (docs/privacy.md).
 */
import { UserError } from '../../contract/errors';
import type { RunPlan } from '../../jobs/protocol';
import { termNoises } from '../../privacy/termwise';
import { defineMethod } from '../descriptor';
import { architectureFor } from '../plan-input';
import { poissonCertificate } from '../poisson-plan';
import { termwiseCard } from './card';
import type { TermwisePlan } from './plan-schema';
import { resolveTermwisePlan, termwiseNoise } from './plan';
import { TERMWISE_PRESETS } from './presets';

export const termwise = defineMethod<TermwisePlan>({
  card: termwiseCard,
  relation: 'add-remove',
  presets: TERMWISE_PRESETS,
  ownsPlan: (plan: RunPlan): plan is TermwisePlan => plan.method === termwiseCard.id,
  resolvePlan: resolveTermwisePlan,
  noise: termwiseNoise,
  architecture: (preset, image, classes) => {
    // Refused when the run is planned, before anything is spent (the engine checks again).
    if (image.height !== 28 || image.width !== 28 || image.channels !== 1) {
      throw new UserError(
        'UNSUPPORTED',
        `Term-wise DP-SGD trains the MLP model of 28×28 grey images only in this version; this data set's images are ${image.height}×${image.width}×${image.channels}. Choose DP-SGD (or another method) for other image sizes.`,
      );
    }
    return architectureFor(TERMWISE_PRESETS[preset].mlp, image, classes);
  },
  certificate: (plan, c) => poissonCertificate('termwise', plan, c, undefined, termNoises(plan)),
  privateFolders: [],
  train: async (config, plan, ctx) => (await import('./train')).trainTermwise(config, plan, ctx),
});
