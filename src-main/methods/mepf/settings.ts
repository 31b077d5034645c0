/** The settings of `mepf`, in the order of the New run form (zod only). */
import { z } from 'zod';
import { COMMON_SETTINGS, SIGMA_SCHEMA, type Setting } from '../settings';

const { accountant, seed } = COMMON_SETTINGS;

export const mepfSettings = {
  features: {
    flag: { name: 'features', value: 'prior|random-net|rff' },
    schema: z.enum(['prior', 'random-net', 'rff']),
    label: 'Features',
    help: 'What the one private release summarises: random Fourier features of the pixels (default, measured best), the features of the random-process prior shipped with the app, or the same network untrained.',
    kind: 'choice',
    choices: ['rff', 'prior', 'random-net'],
  },
  generatorSteps: {
    flag: { name: 'generator-steps', value: 'S' },
    schema: z.number().int().min(1),
    label: 'Generator steps',
    help: 'How long the generator learns from the release. No privacy cost: more steps only take more time.',
    kind: 'integer',
  },
  generatorBatch: {
    flag: { name: 'generator-batch', value: 'B' },
    schema: z.number().int().min(1).max(4096),
    label: 'Generator batch',
    help: 'Images the generator draws at each of its steps.',
    kind: 'integer',
  },
  sigma: {
    flag: { name: 'sigma', value: 'S' },
    schema: SIGMA_SCHEMA,
    label: 'Noise (σ)',
    help: 'Noise added once to the class summaries, relative to one image’s largest effect. Leave empty: it is set by the target ε.',
    kind: 'number',
  },
  lr: {
    ...COMMON_SETTINGS.lr,
    help: 'How far each generator step moves the generator (no privacy cost).',
  },
  fromRelease: {
    flag: { name: 'from-release', value: 'RUN' },
    schema: z.number().int().min(1),
    label: 'Train from the release of run',
    help: 'Train a new generator from the release of an earlier mepf run on the same data set: no new privacy is spent.',
    kind: 'integer',
    cliOnly: true,
  },
  labeller: {
    flag: { name: 'labeller', value: 'RUN' },
    schema: z.number().int().min(1),
    label: 'Label images with the private classifier of run',
    help: 'A finished private classifier (randp) on the same data set labels the generator’s images: clearly better images per class. Its ε counts towards this run’s target, which then covers the images.',
    kind: 'classifier-run',
  },
  countWeight: {
    schema: z.number().positive(),
    label: 'Count weight',
    help: 'Weight of the class counts in the released vector.',
    kind: 'number',
    internal: true,
  },
  accountant,
  seed,
} as const satisfies Record<string, Setting>;
