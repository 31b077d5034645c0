/**
 * The settings an analyst may give on top of a preset: for each, its schema
 * (type and bounds), a label and one plain line. Each method lists its own
 * (`<id>/settings.ts`); the contract's overrides, the New run form and the
 * plan's checks are made from these lists. Zod only: the contract, bundled
 * into the sandboxed preload, reads them.
 */
import { z } from 'zod';

export interface Setting<S extends z.ZodType = z.ZodType> {
  /** Type and bounds. */
  schema: S;
  label: string;
  /** One plain line for the form. */
  help: string;
  /** `classifier-run`: the id of a finished private classifier run on the same data set (the form lists them). */
  kind: 'integer' | 'number' | 'choice' | 'classifier-run';
  choices?: readonly string[];
  /** Shown with an exponent (learning rates). */
  small?: boolean;
  /** Offered by the command line only, not on the New run form. */
  cliOnly?: boolean;
  /** Its `dp2 train` flag (`--name VALUE`); none for an internal setting. */
  flag?: { name: string; value: string };
  /**
   * Given only by the runner's programmatic callers (tests, benchmarks): not
   * in the contract, the command line or the form.
   */
  internal?: true;
}

/** Settings several methods share, with the same meaning and bounds. */
export const COMMON_SETTINGS = {
  accountant: {
    flag: { name: 'accountant', value: 'rdp|pld' },
    schema: z.enum(['rdp', 'pld']),
    label: 'Privacy accountant',
    help: 'Both give certified ε. RDP is fast; PLD is tighter (less noise for the same ε) and slower to plan.',
    kind: 'choice',
    choices: ['rdp', 'pld'],
  },
  lr: {
    flag: { name: 'lr', value: 'η' },
    schema: z.number().positive(),
    label: 'Learning rate',
    help: 'How far each private step moves the generator. Too large and noise takes over.',
    kind: 'number',
    small: true,
  },
  optimizer: {
    flag: { name: 'optimizer', value: 'adam|sgd' },
    schema: z.enum(['adam', 'sgd']),
    label: 'Optimiser',
    help: 'Adam adapts the step size per weight; SGD takes plain steps.',
    kind: 'choice',
    choices: ['adam', 'sgd'],
  },
  seed: {
    flag: { name: 'seed', value: 'N' },
    schema: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    label: 'Seed',
    help: 'Makes the choices that do not depend on the images repeatable (the privacy noise never is).',
    kind: 'integer',
  },
} as const satisfies Record<string, Setting>;

/** The private steps T (every method has them). */
export const STEPS_SCHEMA = z.number().int().min(1);
/** The noise multiplier σ. */
export const SIGMA_SCHEMA = z.number().positive();
/** The clipping norm C. */
export const CLIP_SCHEMA = z.number().positive();
/** A batch size (or an expected one). */
export const BATCH_SCHEMA = z.number().int().min(1);
