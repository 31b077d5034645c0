/** DP-SGD's settings, in the order of the New run form (zod only). */
import { z } from 'zod';
import {
  BATCH_SCHEMA,
  CLIP_SCHEMA,
  COMMON_SETTINGS,
  SIGMA_SCHEMA,
  STEPS_SCHEMA,
  type Setting,
} from '../settings';

export const dpsgdSettings = {
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
    help: 'Noisy training steps. More steps learn more and spend more privacy.',
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
  ...COMMON_SETTINGS,
} as const satisfies Record<string, Setting>;
