/** DP²-VAE's settings, in the order of the New run form (zod only). */
import { z } from 'zod';
import {
  BATCH_SCHEMA,
  CLIP_SCHEMA,
  COMMON_SETTINGS,
  SIGMA_SCHEMA,
  STEPS_SCHEMA,
  type Setting,
} from '../settings';

export const dp2vaeSettings = {
  blocks: {
    flag: { name: 'blocks', value: 'K' },
    schema: z.number().int().min(1),
    label: 'Blocks (K)',
    help: 'The images are split into K groups; each private step learns from one group. More groups: less noise per step.',
    kind: 'integer',
  },
  steps: {
    flag: { name: 'steps', value: 'T' },
    schema: STEPS_SCHEMA,
    label: 'Private steps (T)',
    help: 'Noisy training steps of the generator. More steps learn more and spend more privacy.',
    kind: 'integer',
  },
  sigma: {
    flag: { name: 'sigma', value: 'S' },
    schema: SIGMA_SCHEMA,
    label: 'Noise (σ)',
    help: 'Noise added at each private step, relative to the clipping norm. Leave empty: it is set by the target ε.',
    kind: 'number',
  },
  clip: {
    flag: { name: 'clip', value: 'C' },
    schema: CLIP_SCHEMA,
    label: 'Clipping norm (C)',
    help: 'The longest a step’s gradient may be; the noise is scaled to it.',
    kind: 'number',
  },
  pretrainEpochs: {
    flag: { name: 'pretrain-epochs', value: 'E' },
    schema: z.number().positive(),
    label: 'Encoder passes',
    help: 'Passes over each group when training its encoder (stage 1, no noise; encoders never leave this computer).',
    kind: 'number',
  },
  batchSize: {
    flag: { name: 'batch', value: 'B' },
    schema: BATCH_SCHEMA,
    label: 'Batch size',
    help: 'Images per step, taken from the chosen group.',
    kind: 'integer',
  },
  ...COMMON_SETTINGS,
  pretrainLr: {
    schema: z.number().positive(),
    label: 'Encoder learning rate',
    help: 'Step size of stage 1 (Adam).',
    kind: 'number',
    small: true,
    internal: true,
  },
  pretrainClip: {
    schema: z.number().positive(),
    label: 'Encoder clipping norm',
    help: 'Stage 1 clips each model’s batch gradient to this norm.',
    kind: 'number',
    internal: true,
  },
} as const satisfies Record<string, Setting>;
