import type { MethodCard } from '../card';
import { dpsgdSettings } from './settings';
import { DpsgdPlan } from './plan-schema';

/** DP-SGD on the whole conditional VAE: what it is and what it measures (docs/methods.md). */
export const dpsgdCard = {
  id: 'dpsgd',
  name: 'DP-SGD',
  description:
    'Encoder and decoder trained together with per-image clipping and noise; only the decoder is released.',
  releases: 'generator',
  needs: [],
  measured: [
    { preset: 'paper', epsilon: 10, cnnAccuracy: [81.3, 83.4], minutes: 8 },
    { preset: 'high-privacy', epsilon: 1, cnnAccuracy: [80.8, 80.8], minutes: 3 },
  ],
  verdict: 'Measured on MNIST: CNN 81–83 % at ε = 10 in about 8 minutes, 81 % at ε = 1.',
  stages: {
    stage2: {
      title: 'DP-SGD (encoder and decoder together, private; only the decoder is released)',
      task: 'DP-SGD',
      label: 'Private training',
      hint: 'Every step adds noise and is paid for in the privacy ledger first.',
      loss: { title: 'Loss (nats per image)', recon: 'reconstruction', kl: 'KL' },
    },
  },
  settings: dpsgdSettings,
  planSchema: DpsgdPlan,
  planLine: (h, format) =>
    `Plan: DP-SGD, q = ${format(Number(h.sampleRate))} (expected batch ${h.batchSize}), σ = ${format(Number(h.sigma))}, C = ${h.clip}, T = ${h.steps} steps, lr ${h.lr}`,
} as const satisfies MethodCard<'dpsgd', typeof DpsgdPlan>;
