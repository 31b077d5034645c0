import type { MethodCard } from '../card';
import { MepfPlan } from './plan-schema';
import { mepfSettings } from './settings';

/** `mepf`: one private release of feature summaries, then a generator (docs/methods.md). */
export const mepfCard = {
  id: 'mepf',
  name: 'One-shot feature release (DP-MEPF)',
  description:
    'Privacy is spent once, on noisy class summaries of image features; a generator then learns from that release alone, as long and as often as you like.',
  releases: 'generator',
  needs: [],
  measured: [
    { preset: 'quick', epsilon: 1, cnnAccuracy: [58.1, 62.9], minutes: 10 },
    { preset: 'quick', epsilon: 10, cnnAccuracy: [57.2, 63.0], minutes: 10 },
  ],
  verdict:
    'Measured on MNIST: CNN 58–63 % at ε = 1 and at ε = 10 — the noise barely matters, the generator’s training does. Behind DP-SGD on large data sets; its release does not weaken with few images per step, so it suits small data sets and small ε.',
  stages: {
    stage1: {
      title: 'Private release (features of every image, summed per class, noised once)',
      task: 'Private release',
      label: 'Private release',
      hint: 'Paid for once in the privacy ledger before any noise is drawn; the images’ features are summed in memory and never stored.',
      loss: null,
    },
    stage2: {
      title: 'Generator (learns from the release only; no privacy cost)',
      task: 'Generator',
      label: 'Generator · no privacy cost',
      hint: 'Learns from the noisy release alone: as many steps as you like, nothing more is spent.',
      loss: {
        title: 'Generator’s matching loss (distance to the release)',
        recon: 'mismatch',
        kl: null,
      },
    },
  },
  settings: mepfSettings,
  planSchema: MepfPlan,
  planLine: (h, format) =>
    `Plan: one release of ${h.features} features, σ = ${format(Number(h.sigma))}${h.fromRelease ? ` (the release of run ${h.fromRelease}, no new spend)` : ''}, then ${h.generatorSteps} generator steps of ${h.generatorBatch} images, lr ${h.lr}`,
} as const satisfies MethodCard<'mepf', typeof MepfPlan>;
