/** The hyperparameters the New run screen offers, each with one plain line. */
export interface HyperparameterField {
  key: string;
  label: string;
  help: string;
  kind: 'integer' | 'number' | 'choice';
  choices?: readonly string[];
  /** Shown on a log scale / with exponent (learning rates). */
  small?: boolean;
}

const COMMON_TAIL: HyperparameterField[] = [
  {
    key: 'accountant',
    label: 'Privacy accountant',
    help: 'Both give certified ε. RDP is fast; PLD is tighter (less noise for the same ε) and slower to plan.',
    kind: 'choice',
    choices: ['rdp', 'pld'],
  },
  {
    key: 'lr',
    label: 'Learning rate',
    help: 'How far each private step moves the generator. Too large and noise takes over.',
    kind: 'number',
    small: true,
  },
  {
    key: 'optimizer',
    label: 'Optimiser',
    help: 'Adam adapts the step size per weight; SGD takes plain steps.',
    kind: 'choice',
    choices: ['adam', 'sgd'],
  },
  {
    key: 'seed',
    label: 'Seed',
    help: 'Makes the choices that do not depend on the images repeatable (the privacy noise never is).',
    kind: 'integer',
  },
];

export const DP2VAE_FIELDS: HyperparameterField[] = [
  {
    key: 'blocks',
    label: 'Blocks (K)',
    help: 'The images are split into K groups; each private step learns from one group. More groups: less noise per step.',
    kind: 'integer',
  },
  {
    key: 'steps',
    label: 'Private steps (T)',
    help: 'Noisy training steps of the generator. More steps learn more and spend more privacy.',
    kind: 'integer',
  },
  {
    key: 'sigma',
    label: 'Noise (σ)',
    help: 'Noise added at each private step, relative to the clipping norm. Leave empty: it is set by the target ε.',
    kind: 'number',
  },
  {
    key: 'clip',
    label: 'Clipping norm (C)',
    help: 'The longest a step’s gradient may be; the noise is scaled to it.',
    kind: 'number',
  },
  {
    key: 'pretrainEpochs',
    label: 'Encoder passes',
    help: 'Passes over each group when training its encoder (stage 1, no noise; encoders never leave this computer).',
    kind: 'number',
  },
  {
    key: 'batchSize',
    label: 'Batch size',
    help: 'Images per step, taken from the chosen group.',
    kind: 'integer',
  },
  ...COMMON_TAIL,
];

export const DPSGD_FIELDS: HyperparameterField[] = [
  {
    key: 'batchSize',
    label: 'Expected batch size',
    help: 'Each image joins a step independently with probability batch ÷ images (Poisson sampling).',
    kind: 'integer',
  },
  {
    key: 'steps',
    label: 'Private steps (T)',
    help: 'Noisy training steps. More steps learn more and spend more privacy.',
    kind: 'integer',
  },
  {
    key: 'sigma',
    label: 'Noise (σ)',
    help: 'Noise added to the summed clipped gradients, relative to C. Leave empty: it is set by the target ε.',
    kind: 'number',
  },
  {
    key: 'clip',
    label: 'Clipping norm (C)',
    help: 'Each image’s gradient is shortened to at most this length, so no single image can pull far.',
    kind: 'number',
  },
  ...COMMON_TAIL,
];

/**
 * The advanced fields of each method's form, by method id (the methods
 * themselves, their order and their measured figures come from the main
 * process: `runs.methods`).
 */
export const METHOD_FIELDS: Readonly<Record<string, readonly HyperparameterField[]>> = {
  dp2vae: DP2VAE_FIELDS,
  dpsgd: DPSGD_FIELDS,
};
