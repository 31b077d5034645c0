import type { MethodCard } from '../card';
import { RandpPlan } from './plan-schema';
import { randpSettings } from './settings';

/** `randp`: a private classifier on the random-process prior's features (docs/classifier.md). */
export const randpCard = {
  id: 'randp',
  name: 'Private classifier (DP-RandP)',
  description:
    'Releases a classifier, not images: a linear model trained with DP-SGD on the features of the random-process prior shipped with the app. Use it when what you need is a model to share.',
  releases: 'classifier',
  needs: ['the random-process prior shipped with the app'],
  // Test accuracy of the released classifier itself (not of a CNN trained on synthetic images).
  // bench/randp-probe.ts with the shipped (1 500-step) prior, one run each.
  measured: [
    { preset: 'paper', epsilon: 1, testAccuracy: [97.8, 97.8], minutes: 2 },
    { preset: 'paper', epsilon: 8, testAccuracy: [98.7, 98.7], minutes: 3 },
  ],
  verdict:
    'Measured on MNIST: the classifier scores 97.8 % on the test images at ε = 1 and 98.7 % at ε = 8, in a few minutes; on 4 000 images of two digits, 97–98 % at ε = 1 (with an earlier prior). Not comparable with the generators’ figures, which score a classifier trained on their synthetic images.',
  stages: {
    stage1: {
      title: 'Features (the prior’s features of every image, held in memory; no privacy cost)',
      task: 'Features',
      label: 'Features · no privacy cost',
      hint: 'The shipped prior describes each image on its own; nothing is learned from the images yet and nothing is written.',
      loss: null,
    },
    stage2: {
      title:
        'Private classifier (DP-SGD on the prior’s frozen features; the classifier is released)',
      task: 'Private classifier',
      label: 'Private training',
      hint: 'The prior’s features are computed first (no privacy cost); every noisy step is paid for in the privacy ledger before it is taken.',
      loss: null,
    },
  },
  settings: randpSettings,
  planSchema: RandpPlan,
  planLine: (h, format) =>
    `Plan: private classifier on the prior’s features, q = ${format(Number(h.sampleRate))} (expected batch ${h.batchSize}), σ = ${format(Number(h.sigma))}, C = ${h.clip}, T = ${h.steps} steps, lr ${h.lr}`,
} as const satisfies MethodCard<'randp', typeof RandpPlan>;
