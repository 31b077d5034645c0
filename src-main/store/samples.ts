/**
 * Sample grids drawn from the stage-2 decoder while a run trains (PNG bytes
 * kept in the database). They are computed from the noisy decoder only, so
 * they are releasable; one grid per (run, step), a replayed step replaces it.
 */
import { UserError } from '../contract/errors';
import { getRun } from './runs';
import { nowIso, requireInt, stmt, writeTx } from './internal';
import type { Store } from './types';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Largest grid accepted, in bytes. */
export const MAX_GRID_BYTES = 8 * 1024 * 1024;

/** A stored sample grid. */
export interface SampleGrid {
  runId: number;
  step: number;
  png: Uint8Array;
  createdAt: string;
}

/** Stores (or replaces) the PNG grid of a run at a step. */
export function recordSampleGrid(
  store: Store,
  input: { runId: number; step: number; png: Uint8Array },
): void {
  const step = requireInt(input.step, 'The grid step');
  const png = input.png;
  if (
    !(png instanceof Uint8Array) ||
    png.byteLength < 8 ||
    !PNG_SIGNATURE.equals(Buffer.from(png.buffer, png.byteOffset, 8))
  ) {
    throw new UserError('INVALID_INPUT', 'A sample grid must be PNG image bytes.');
  }
  if (png.byteLength > MAX_GRID_BYTES) {
    throw new UserError(
      'INVALID_INPUT',
      `A sample grid of ${png.byteLength} bytes is too large (at most ${MAX_GRID_BYTES}); draw fewer or smaller samples.`,
    );
  }
  writeTx(store, () => {
    getRun(store, input.runId);
    stmt(
      store,
      'INSERT OR REPLACE INTO sample_grids (run_id, step, png, created_at) VALUES (?, ?, ?, ?)',
    ).run(
      input.runId,
      step,
      Buffer.from(png.buffer, png.byteOffset, png.byteLength),
      nowIso(store),
    );
  });
}

/** The steps at which a run has grids, in order. */
export function sampleGridSteps(store: Store, runId: number): number[] {
  return (
    stmt(store, 'SELECT step FROM sample_grids WHERE run_id = ? ORDER BY step').all(runId) as {
      step: number;
    }[]
  ).map((r) => r.step);
}

/** The grid of a run at `step`, or its latest grid when `step` is omitted; undefined when none. */
export function getSampleGrid(store: Store, runId: number, step?: number): SampleGrid | undefined {
  const row = (
    step === undefined
      ? stmt(store, 'SELECT * FROM sample_grids WHERE run_id = ? ORDER BY step DESC LIMIT 1').get(
          runId,
        )
      : stmt(store, 'SELECT * FROM sample_grids WHERE run_id = ? AND step = ?').get(runId, step)
  ) as { run_id: number; step: number; png: Buffer; created_at: string } | undefined;
  return (
    row && {
      runId: row.run_id,
      step: row.step,
      png: new Uint8Array(row.png),
      createdAt: row.created_at,
    }
  );
}
