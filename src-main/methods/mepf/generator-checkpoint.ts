/**
 * A `mepf` generator's training state as bytes, in the app's checkpoint
 * container (engine/checkpoint.ts: magic, header, arrays, SHA-256), so a
 * paused or killed run resumes exactly where it stopped.
 */
import { UserError } from '../../contract/errors';
import { packContainer, unpackContainer, type ContainerArray } from '../../engine/checkpoint';
import type { GeneratorCheckpoint } from './generator';

const KIND = 'mepf-generator';

/** What must match for a checkpoint to resume a run (its generator's settings). */
export interface GeneratorCheckpointSettings {
  seed: number;
  steps: number;
  batchSize: number;
  learningRate: number;
}

/** Serialises a generator checkpoint with the settings it belongs to (deterministic). */
export function serializeGeneratorCheckpoint(
  cp: GeneratorCheckpoint,
  settings: GeneratorCheckpointSettings,
): Uint8Array {
  const arrays: ContainerArray[] = [];
  cp.params.forEach((a, i) => arrays.push([`params.${i}`, a]));
  cp.adam.m.forEach((a, i) => arrays.push([`adam.m.${i}`, a]));
  cp.adam.v.forEach((a, i) => arrays.push([`adam.v.${i}`, a]));
  arrays.push(['average', cp.average]);
  return packContainer(
    {
      kind: KIND,
      settings: {
        seed: settings.seed,
        steps: settings.steps,
        batchSize: settings.batchSize,
        learningRate: settings.learningRate,
      },
      step: cp.step,
      adamT: cp.adam.t,
      seen: cp.seen,
      counts: { params: cp.params.length, m: cp.adam.m.length, v: cp.adam.v.length },
    },
    arrays,
  );
}

/** Parses and verifies a generator checkpoint (UserError CORRUPT_DATA in plain words). */
export function deserializeGeneratorCheckpoint(bytes: Uint8Array): {
  checkpoint: GeneratorCheckpoint;
  settings: GeneratorCheckpointSettings;
} {
  const { header, array, list } = unpackContainer(bytes);
  const h = header as {
    kind?: unknown;
    settings: GeneratorCheckpointSettings;
    step: number;
    adamT: number;
    seen: boolean[];
    counts: { params: number; m: number; v: number };
  };
  if (h.kind !== KIND) {
    throw new UserError(
      'CORRUPT_DATA',
      `This training checkpoint cannot be read: it is a ${String(h.kind)} checkpoint, not a mepf generator's.`,
    );
  }
  return {
    checkpoint: {
      step: h.step,
      params: list('params', h.counts.params),
      adam: { t: h.adamT, m: list('adam.m', h.counts.m), v: list('adam.v', h.counts.v) },
      average: array<Float32Array>('average'),
      seen: [...h.seen],
    },
    settings: h.settings,
  };
}
