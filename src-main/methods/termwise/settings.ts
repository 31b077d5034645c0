/** Term-wise DP-SGD's settings, in the order of the New run form (zod only). */
import { z } from 'zod';
import { dpsgdSettings } from '../dpsgd/settings';
import type { Setting } from '../settings';

export const termwiseSettings = {
  divergence: {
    flag: { name: 'divergence', value: 'kl|mmd-imq|mmd-rbf' },
    schema: z.enum(['kl', 'mmd-imq', 'mmd-rbf']),
    label: 'Prior and divergence',
    help: 'kl: the plain VAE (then term-wise equals DP-SGD). mmd-imq / mmd-rbf: also pull the whole batch’s codes towards the N(0, I) prior by an MMD with that kernel.',
    kind: 'choice',
    choices: ['kl', 'mmd-imq', 'mmd-rbf'],
  },
  divergenceWeight: {
    flag: { name: 'divergence-weight', value: 'λ' },
    schema: z.number().positive(),
    label: 'Divergence weight (λ)',
    help: 'How strongly the batch’s codes are pulled towards the prior, against reconstruction.',
    kind: 'number',
  },
  divergenceClip: {
    flag: { name: 'divergence-clip', value: 'C2' },
    schema: z.number().positive(),
    label: 'Divergence clipping norm (C₂)',
    help: 'Each image’s share of the divergence gradient is shortened to at most this length; its noise is set from 2 × C₂.',
    kind: 'number',
  },
  termwiseMode: {
    flag: { name: 'termwise-mode', value: 'termwise|naive' },
    schema: z.enum(['termwise', 'naive']),
    label: 'Mechanism (research)',
    help: 'termwise: each term clipped and noised its own way (recommended). naive: plain DP-SGD on the same loss, whose noise grows with the batch — for comparison only.',
    kind: 'choice',
    choices: ['termwise', 'naive'],
    cliOnly: true,
  },
  ...dpsgdSettings,
} as const satisfies Record<string, Setting>;
