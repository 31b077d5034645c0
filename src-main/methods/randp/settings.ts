/** The settings of `randp`, in the order of the New run form (zod only). */
import { z } from 'zod';
import {
  BATCH_SCHEMA,
  CLIP_SCHEMA,
  COMMON_SETTINGS,
  SIGMA_SCHEMA,
  STEPS_SCHEMA,
  type Setting,
} from '../settings';

const { accountant } = COMMON_SETTINGS;

export const randpSettings = {
  batchSize: {
    flag: { name: 'batch', value: 'B' },
    schema: BATCH_SCHEMA,
    label: 'Expected batch size',
    help: 'Each image joins a step independently with probability batch ÷ images (Poisson sampling).',
    kind: 'integer',
  },
  sampleRate: {
    flag: { name: 'sample-rate', value: 'Q' },
    schema: z.number().gt(0).lte(1),
    label: 'Sampling rate (q)',
    help: 'The probability that an image joins a step; give it or the expected batch size, not both.',
    kind: 'number',
    cliOnly: true,
  },
  steps: {
    flag: { name: 'steps', value: 'T' },
    schema: STEPS_SCHEMA,
    label: 'Private steps (T)',
    help: 'Noisy training steps of the classifier. More steps learn more and need more noise for the same ε.',
    kind: 'integer',
  },
  sigma: {
    flag: { name: 'sigma', value: 'S' },
    schema: SIGMA_SCHEMA,
    label: 'Noise (σ)',
    help: 'Noise added to the summed clipped gradients, relative to C. Leave empty: it is set by the target ε.',
    kind: 'number',
  },
  clip: {
    flag: { name: 'clip', value: 'C' },
    schema: CLIP_SCHEMA,
    label: 'Clipping norm (C)',
    help: 'Each image’s gradient is shortened to at most this length, so no single image can pull far.',
    kind: 'number',
  },
  lr: {
    ...COMMON_SETTINGS.lr,
    help: 'How far each private step moves the classifier (SGD with momentum, cosine decay).',
  },
  momentum: {
    flag: { name: 'momentum', value: 'M' },
    schema: z.number().min(0).lt(1),
    label: 'Momentum',
    help: 'SGD momentum of the classifier’s steps (post-processing of the noisy gradients).',
    kind: 'number',
    cliOnly: true,
  },
  emaDecay: {
    flag: { name: 'ema', value: 'D' },
    schema: z.number().min(0).lt(1),
    label: 'Averaging decay',
    help: 'The released classifier is a moving average of the steps’ weights with this decay (0: the last step’s).',
    kind: 'number',
    cliOnly: true,
  },
  publicPerFamily: {
    schema: z.number().int().min(10).max(10_000),
    label: 'Public images per family',
    help: 'Procedural images per family for the public whitening of the features.',
    kind: 'integer',
    internal: true,
  },
  accountant,
} as const satisfies Record<string, Setting>;
