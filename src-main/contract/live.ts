import { z } from 'zod';
import { DEFAULT_METHOD, MethodIdSchema } from '../methods/catalog';
import { RunDto } from './runs';

/** What the worker last said about a run that is training in this app session. */
export const LiveRunDto = z.strictObject({
  stage: z.string().nullable(),
  step: z.number(),
  totalSteps: z.number(),
  samplesPerSecond: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  /** The run's own ε after the last reported step (from the accountant, in the worker). */
  epsilon: z.number().nullable(),
  /** The data set's composed total after that step. */
  datasetEpsilon: z.number().nullable(),
  backend: z.string().nullable(),
  memoryMb: z.number().nullable(),
  paused: z.boolean(),
});

/** One metric series, thinned for drawing: [step, value] pairs. */
export const SeriesDto = z.strictObject({
  stage: z.string(),
  name: z.string(),
  points: z.array(z.tuple([z.number(), z.number()])),
});

export const RunProgressRequest = z.strictObject({
  runId: z.number().int().min(1),
  /** Most points per series (the view's width). */
  maxPoints: z.number().int().min(2).max(2000).default(300),
});

/** Everything the Run screen draws, in one round trip (the app polls it while a run trains). */
export const RunProgressResponse = z.strictObject({
  run: RunDto,
  /** Whether a training process of this run is alive in this app session. */
  active: z.boolean(),
  live: LiveRunDto.nullable(),
  series: z.array(SeriesDto),
  /** The newest sample grid from the stage-2 decoder (releasable), PNG as base64. */
  grid: z.strictObject({ step: z.number(), png: z.string() }).nullable(),
});

export const CertificateResponse = z.strictObject({
  /** The certificate as written to `certificate.json`. */
  certificate: z.record(z.string(), z.unknown()),
  /** The same promise in plain words. */
  words: z.array(z.string()),
  /** Set when an older certificate was re-issued first (said once). */
  notice: z.string().nullable(),
});

export const PresetsRequest = z.strictObject({
  method: MethodIdSchema.default(DEFAULT_METHOD),
});
export const PresetsResponse = z.array(
  z.strictObject({ name: z.string(), label: z.string(), summary: z.string() }),
);

/** The training methods, best measured first, with what each measures (New run shows them). */
export const MethodsResponse = z.array(
  z.strictObject({
    id: MethodIdSchema,
    name: z.string(),
    description: z.string(),
    releases: z.enum(['generator', 'classifier', 'embedding']),
    /** MNIST, evaluation protocol v2: CNN accuracy range in %, time in minutes on a 2-core laptop. */
    measured: z.array(
      z.strictObject({
        preset: z.string(),
        epsilon: z.number(),
        /** A generator's: CNN trained on its synthetic images, on the real test split. */
        cnnAccuracy: z.tuple([z.number(), z.number()]).optional(),
        /** A classifier's: the released classifier itself on the real test split. */
        testAccuracy: z.tuple([z.number(), z.number()]).optional(),
        minutes: z.number(),
      }),
    ),
    verdict: z.string(),
    /** Its settings on the New run form, in order, each with one plain line. */
    fields: z.array(
      z.strictObject({
        key: z.string(),
        label: z.string(),
        help: z.string(),
        kind: z.enum(['integer', 'number', 'choice', 'classifier-run']),
        choices: z.array(z.string()).optional(),
        small: z.boolean().optional(),
      }),
    ),
    /** Its stages in order ('stage2' trains the released generator), as the Run screen shows them. */
    stages: z.array(
      z.strictObject({
        id: z.enum(['stage1', 'stage2']),
        label: z.string(),
        hint: z.string(),
        loss: z
          .strictObject({ title: z.string(), recon: z.string(), kl: z.string().nullable() })
          .nullable(),
      }),
    ),
    /** The method `dp2 train` and New run use when none is chosen. */
    isDefault: z.boolean(),
  }),
);
