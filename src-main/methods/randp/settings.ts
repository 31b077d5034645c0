/** The settings of `randp`, in the order of the New run form (zod only). */
import { z } from 'zod';
import { dpsgdSettings } from '../dpsgd/settings';
import { COMMON_SETTINGS, type Setting } from '../settings';

const { accountant } = COMMON_SETTINGS;

export const randpSettings = {
  // The schedule's settings mean what they mean for DP-SGD (the same Poisson-sampled mechanism).
  batchSize: dpsgdSettings.batchSize,
  sampleRate: dpsgdSettings.sampleRate,
  steps: dpsgdSettings.steps,
  sigma: dpsgdSettings.sigma,
  clip: dpsgdSettings.clip,
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
