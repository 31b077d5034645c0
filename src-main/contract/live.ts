import { z } from 'zod';
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
  method: z.enum(['dp2vae', 'dpsgd']).default('dp2vae'),
});
export const PresetsResponse = z.array(
  z.strictObject({ name: z.string(), label: z.string(), summary: z.string() }),
);
