import type { MethodCard } from '../card';
import { dp2vaeSettings } from './settings';
import { TrainingPlan } from './plan-schema';

/** DP²-VAE with per-block encoders: what it is and what it measures (docs/methods.md). */
export const dp2vaeCard = {
  id: 'dp2vae',
  name: 'DP²-VAE',
  description:
    'Encoders learn privately kept summaries of groups of images; only the decoder is trained with noise and released.',
  releases: 'generator',
  needs: [],
  measured: [{ preset: 'quick', epsilon: 10, cnnAccuracy: [26, 26], minutes: 8 }],
  verdict:
    'Measured on MNIST: CNN ≈ 26 % at ε = 10 — each step carries at most C of signal against noise σ·C·√d, so the decoder learns little beyond noise. For a generator use the per-record mode (DP²-VAE, per-record encoders) or DP-SGD.',
  stages: {
    stage1: {
      title: 'Stage 1 (encoders, per block)',
      task: 'Stage 1',
      label: 'Stage 1 · encoders',
      hint: 'No noise; the encoders never leave this computer.',
      loss: { title: 'Stage 1 loss (nats per image)', recon: 'reconstruction', kl: 'KL' },
    },
    stage2: {
      title: 'Stage 2 (private decoder)',
      task: 'Stage 2',
      label: 'Stage 2 · private generator',
      hint: 'Every step adds noise and is paid for in the privacy ledger first.',
      loss: { title: 'Stage 2 loss (nats per image)', recon: 'reconstruction', kl: 'KL' },
    },
  },
  settings: dp2vaeSettings,
  planSchema: TrainingPlan,
  planLine: (h, format) =>
    `Plan: K = ${h.blocks} blocks, σ = ${format(Number(h.sigma))}, C = ${h.clip}, T = ${h.steps} steps, batch ${h.batchSize}, lr ${h.lr}`,
} as const satisfies MethodCard<'dp2vae', typeof TrainingPlan>;
