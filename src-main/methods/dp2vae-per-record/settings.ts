/** The settings of DP²-VAE with per-record encoders, in the order of the New run form (zod only). */
import { z } from 'zod';
import { dpsgdSettings } from '../dpsgd/settings';
import type { Setting } from '../settings';

const { batchSize, sampleRate, steps, sigma, clip, ...common } = dpsgdSettings;

export const perRecordSettings = {
  batchSize,
  sampleRate,
  steps,
  sigma,
  clip: {
    ...clip,
    help: 'Each image’s gradient of the generator is shortened to at most this length, so no single image can pull far.',
  },
  refineSteps: {
    flag: { name: 'refine-steps', value: 'S' },
    schema: z.number().int().min(0).max(255),
    label: 'Encoder steps per visit',
    help: 'How many plain steps each sampled image’s own encoder takes before the generator learns from it. No privacy cost: encoders never leave this computer.',
    kind: 'integer',
  },
  importanceSamples: {
    flag: { name: 'importance-samples', value: 'K' },
    schema: z.number().int().min(1).max(16),
    label: 'Samples per image',
    help: 'How many guesses of each image’s code its encoder and the generator’s step weigh together (an importance-weighted bound). No privacy cost; each step takes about this many times longer.',
    kind: 'integer',
  },
  ...common,
  refineLr: {
    schema: z.number().positive(),
    label: 'Encoder step size',
    help: 'Step size of each image’s encoder refinement.',
    kind: 'number',
    small: true,
    internal: true,
  },
} as const satisfies Record<string, Setting>;
