/**
 * Training checkpoints. A checkpoint holds encoder and optimiser state, so it
 * is private: it never leaves the machine and is removed with its data set.
 * Write (and fsync) the file before recording it.
 */
import { UserError } from '../contract/errors';
import { getRun } from './runs';
import { nowIso, requireInt, requireText, stmt, writeTx } from './internal';
import { fromStoredPath, toStoredPath } from './paths';
import type { Store } from './types';

/** A recorded checkpoint. */
export interface Checkpoint {
  id: number;
  runId: number;
  stage: string;
  step: number;
  /** Absolute path of the checkpoint file or folder. */
  path: string;
  bytes: number;
  createdAt: string;
}

interface CheckpointRow {
  id: number;
  run_id: number;
  stage: string;
  step: number;
  path: string;
  bytes: number;
  created_at: string;
}

function toCheckpoint(store: Store, row: CheckpointRow): Checkpoint {
  const path = fromStoredPath(store, row.path);
  if (path === undefined) {
    throw new UserError(
      'CORRUPT_DATA',
      `Checkpoint ${row.id} of run ${row.run_id} points outside the data folder. Restore the database from a backup.`,
    );
  }
  return {
    id: row.id,
    runId: row.run_id,
    stage: row.stage,
    step: row.step,
    path,
    bytes: row.bytes,
    createdAt: row.created_at,
  };
}

/** Records a checkpoint written for a run (path inside the data home). */
export function recordCheckpoint(
  store: Store,
  input: { runId: number; stage: string; step: number; path: string; bytes: number },
): Checkpoint {
  const stage = requireText(input.stage, 'The checkpoint stage', 50);
  const step = requireInt(input.step, 'The checkpoint step');
  const bytes = requireInt(input.bytes, 'The checkpoint size');
  const path = toStoredPath(store, input.path, 'The checkpoint path');
  return writeTx(store, () => {
    getRun(store, input.runId);
    const info = stmt(
      store,
      'INSERT INTO checkpoints (run_id, stage, step, path, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(input.runId, stage, step, path, bytes, nowIso(store));
    return toCheckpoint(
      store,
      stmt(store, 'SELECT * FROM checkpoints WHERE id = ?').get(
        info.lastInsertRowid,
      ) as CheckpointRow,
    );
  });
}

/** The most recently recorded checkpoint of a run, or undefined. */
export function latestCheckpoint(store: Store, runId: number): Checkpoint | undefined {
  const row = stmt(
    store,
    'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY id DESC LIMIT 1',
  ).get(runId) as CheckpointRow | undefined;
  return row && toCheckpoint(store, row);
}

/** Every checkpoint of a run, oldest first. */
export function listCheckpoints(store: Store, runId: number): Checkpoint[] {
  return (
    stmt(store, 'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY id').all(
      runId,
    ) as CheckpointRow[]
  ).map((r) => toCheckpoint(store, r));
}
