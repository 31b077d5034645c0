/**
 * Term-wise DP-SGD (Takahashi et al., arXiv 2006.11204): the method's one
 * descriptor. Releases the decoder; add/remove relation, accounted as the
 * Poisson-subsampled Gaussian at the pair's σ (docs/privacy.md).
 */
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
  architecture: (preset, image, classes) =>
    architectureFor(TERMWISE_PRESETS[preset].mlp, image, classes),
  certificate: (plan, c) => poissonCertificate('termwise', plan, c, undefined, termNoises(plan)),
  privateFolders: [],
  train: async (config, plan, ctx) => (await import('./train')).trainTermwise(config, plan, ctx),
});
