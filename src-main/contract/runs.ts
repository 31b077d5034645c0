import { z } from 'zod';
import { DatasetName } from './datasets';
import { Delta, Epsilon } from './schemas';

export const PresetName = z.enum(['quick', 'paper', 'high-privacy']);

/** Hyperparameters the analyst may set on top of a preset (named, never positional). */
export const RunOverrides = z
  .strictObject({
    blocks: z.number().int().min(1),
    sigma: z.number().positive(),
    clip: z.number().positive(),
    steps: z.number().int().min(1),
    pretrainEpochs: z.number().positive(),
    batchSize: z.number().int().min(1),
    lr: z.number().positive(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    optimizer: z.enum(['adam', 'sgd']),
  })
  .partial();

export const RunPlanRequest = z.strictObject({
  dataset: DatasetName,
  method: z.literal('dp2vae').default('dp2vae'),
  preset: PresetName.default('quick'),
  epsilon: Epsilon,
  delta: Delta.optional(),
  overrides: RunOverrides.default({}),
});

export const RunPlanResponse = z.strictObject({
  hyperparameters: z.record(z.string(), z.union([z.number(), z.string()])),
  /** The run's own ε after all planned steps. */
  epsilon: z.number(),
  delta: z.number(),
  /** The data set's total before and after this run (composed by the accountant). */
  datasetSpent: z.strictObject({
    before: z.number(),
    after: z.number(),
    cap: z.number().nullable(),
  }),
  notes: z.array(z.string()),
});

export const RunStartRequest = RunPlanRequest.extend({
  /** Wait for the end of training (the command line); the app follows events instead. */
  wait: z.boolean().default(false),
});

export const RunOutcomeDto = z.strictObject({
  status: z.string(),
  steps: z.number(),
  epsilon: z.number(),
  stoppedBy: z.string().nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});

export const RunStartResponse = z.strictObject({
  runId: z.number(),
  outcome: RunOutcomeDto.nullable(),
});

export const RunRef = z.strictObject({ runId: z.number().int().min(1) });

export const RunDto = z.strictObject({
  id: z.number(),
  dataset: z.string(),
  method: z.string(),
  status: z.string(),
  targetEpsilon: z.number().nullable(),
  delta: z.number(),
  /** ε of the steps the run's ledger rows pay for. */
  spentEpsilon: z.number(),
  stepsPaid: z.number(),
  hyperparameters: z.unknown(),
  backend: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number(),
  error: z.string().nullable(),
});

export const GenerateRequest = z.strictObject({
  runId: z.number().int().min(1),
  perClass: z.number().int().min(1).max(100_000),
  seed: z.number().int().min(0).default(0),
  /** A `.npz` file or a folder (PNG per image, `CLASS/000001.png`); must not exist yet. */
  out: z.string().min(1),
});
export const GenerateResponse = z.strictObject({
  out: z.string(),
  count: z.number(),
  certificate: z.string(),
});

export const ExportRequest = z.strictObject({
  runId: z.number().int().min(1),
  outDir: z.string().min(1),
  include: z
    .strictObject({
      decoder: z.boolean(),
      samplesNpz: z.boolean(),
      samplesPng: z.boolean(),
      certificate: z.boolean(),
      grids: z.boolean(),
    })
    .partial()
    .default({ decoder: true, samplesNpz: true, certificate: true, grids: true }),
  /** Samples to generate first when the run has none yet (per class). */
  perClass: z.number().int().min(1).max(100_000).default(1000),
});
const Score = z.strictObject({ mean: z.number(), std: z.number() }).nullable();

export const EvalRequest = z
  .strictObject({
    runId: z.number().int().min(1).optional(),
    synthetic: z.string().min(1).optional(),
    /** Real held-out images: a data set's test split, or "mnist" (the bundled one). */
    realTest: z.string().min(1).optional(),
    /** Samples per class drawn from the run (the paper: 6000, i.e. 60 000 in all). */
    perClass: z.number().int().min(1).max(100_000).default(6000),
    seeds: z.number().int().min(1).max(10).default(5),
  })
  .refine((r) => (r.runId === undefined) !== (r.synthetic === undefined), {
    message: 'give either a run or a synthetic .npz file',
  });

/** DESIGN.md's `dp2 eval --json` (accuracies in %). */
export const EvalResponse = z.strictObject({
  lr: Score,
  mlp: Score,
  cnn: Score,
  fld: z.number().nullable(),
  n_synthetic: z.number(),
  n_test: z.number(),
  seeds: z.array(z.number()),
});

export const ExportResponse = z.strictObject({ outDir: z.string(), files: z.array(z.string()) });
