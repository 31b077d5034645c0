/**
 * Deleting a data set. In one transaction: the data set becomes a tombstone
 * (kept for the ledger), its private artifacts are marked removed, its
 * checkpoints, metrics and evaluations rows go, runs waiting to resume are
 * cancelled, and every private path is queued in `pending_removals`. After the commit the
 * queued files are removed; a path that could not be removed stays queued and
 * `purgePendingRemovals` (call it at start-up) tries again. Released decoders,
 * their certificates, samples and grids, and the ledger are kept.
 */
import { rmSync } from 'node:fs';
import { UserError } from '../contract/errors';
import type { Artifact } from './artifacts';
import { listArtifacts } from './artifacts';
import type { Dataset } from './datasets';
import { getDataset } from './datasets';
import { nowIso, stmt, writeTx } from './internal';
import { fromStoredPath, isWithin } from './paths';
import type { Store } from './types';

/** What is left after removing queued private files. */
export interface RemovalReport {
  /** Absolute paths removed from disk. */
  removed: string[];
  /** Paths still queued, with the reason; retried by `purgePendingRemovals`. */
  notRemoved: { path: string; reason: string }[];
}

/** Result of `deleteDataset`. */
export interface DeleteDatasetResult extends RemovalReport {
  /** The data set's tombstone. */
  dataset: Dataset;
  /** Releasable artifacts kept. */
  keptArtifacts: Artifact[];
  /** Interrupted runs cancelled because their checkpoints are gone. */
  cancelledRuns: number[];
}

/**
 * Deletes a data set: private data goes, releasable artifacts and the ledger stay.
 * @throws UserError INVALID_INPUT while one of its runs is queued, running or paused.
 */
export function deleteDataset(store: Store, nameOrId: string | number): DeleteDatasetResult {
  const { dataset, cancelledRuns } = writeTx(store, () => {
    const ds = getDataset(store, nameOrId);
    const active = stmt(
      store,
      `SELECT id, status FROM runs WHERE dataset_id = ? AND status IN ('queued', 'running', 'paused') ORDER BY id`,
    ).all(ds.id) as { id: number; status: string }[];
    if (active[0]) {
      throw new UserError(
        'INVALID_INPUT',
        `Run ${active[0].id} on data set "${ds.name}" is ${active[0].status}. Cancel it, then delete the data set.`,
      );
    }
    const now = nowIso(store);
    const queue = stmt(
      store,
      'INSERT OR IGNORE INTO pending_removals (path, reason, queued_at) VALUES (?, ?, ?)',
    );
    const reason = `data set ${ds.id} deleted`;
    queue.run(
      stmt(store, 'SELECT files_dir FROM datasets WHERE id = ?').pluck(true).get(ds.id),
      reason,
      now,
    );
    const privatePaths = stmt(
      store,
      `SELECT path FROM artifacts WHERE dataset_id = ? AND visibility = 'private' AND deleted_at IS NULL
       UNION SELECT c.path FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.dataset_id = ?`,
    )
      .pluck(true)
      .all(ds.id, ds.id) as string[];
    for (const p of privatePaths) queue.run(p, reason, now);

    stmt(
      store,
      `UPDATE artifacts SET deleted_at = ? WHERE dataset_id = ? AND visibility = 'private' AND deleted_at IS NULL`,
    ).run(now, ds.id);
    stmt(
      store,
      'DELETE FROM checkpoints WHERE run_id IN (SELECT id FROM runs WHERE dataset_id = ?)',
    ).run(ds.id);
    stmt(
      store,
      'DELETE FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE dataset_id = ?)',
    ).run(ds.id);
    // Evaluation scores were computed on the data set's private splits (their
    // per-seed and per-class rows go with them, ON DELETE CASCADE).
    stmt(
      store,
      'DELETE FROM evaluations WHERE run_id IN (SELECT id FROM runs WHERE dataset_id = ?)',
    ).run(ds.id);
    const cancelled = stmt(
      store,
      `SELECT id FROM runs WHERE dataset_id = ? AND status = 'interrupted' ORDER BY id`,
    )
      .pluck(true)
      .all(ds.id) as number[];
    stmt(
      store,
      `UPDATE runs SET status = 'cancelled', finished_at = ?, error_message = 'Its data set was deleted.'
       WHERE dataset_id = ? AND status = 'interrupted'`,
    ).run(now, ds.id);
    stmt(store, 'UPDATE datasets SET deleted_at = ? WHERE id = ?').run(now, ds.id);
    return {
      dataset: getDataset(store, ds.id, { includeDeleted: true }),
      cancelledRuns: cancelled,
    };
  });
  const report = purgePendingRemovals(store);
  scrubWriteAheadLog(store);
  return {
    dataset,
    cancelledRuns,
    keptArtifacts: listArtifacts(store, { datasetId: dataset.id, visibility: 'releasable' }),
    ...report,
  };
}

/**
 * The connection zeroes freed content (`secure_delete`, see open.ts), but the
 * deleted rows' earlier versions are still in the database file until a
 * checkpoint, and in the write-ahead log until it restarts. A TRUNCATE
 * checkpoint copies the zeroed pages into the file and empties the log, so
 * that once a deletion returns its bytes are on disk nowhere in the database.
 * If another process is reading at that moment the log cannot restart yet;
 * the next checkpoint (at the latest when the last connection closes) does it.
 */
function scrubWriteAheadLog(store: Store): void {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * Removes the files queued by data set deletions (never a path outside the
 * data home, never one that holds a live releasable artifact). Call it at
 * start-up to finish deletions a crash interrupted.
 */
export function purgePendingRemovals(store: Store): RemovalReport {
  const report: RemovalReport = { removed: [], notRemoved: [] };
  const pending = stmt(store, 'SELECT path FROM pending_removals ORDER BY path')
    .pluck(true)
    .all() as string[];
  if (pending.length === 0) return report;
  const releasable = listArtifacts(store, { visibility: 'releasable' });
  const done = stmt(store, 'DELETE FROM pending_removals WHERE path = ?');
  for (const stored of pending) {
    const abs = fromStoredPath(store, stored);
    if (abs === undefined) {
      report.notRemoved.push({
        path: stored,
        reason: 'it is outside the data folder; remove it yourself if it is private',
      });
      continue;
    }
    const inside = releasable.find((a) => isWithin(abs, a.path));
    if (inside) {
      report.notRemoved.push({
        path: abs,
        reason: `it holds the releasable ${inside.kind} ${inside.path}; move that out, then start again`,
      });
      continue;
    }
    try {
      rmSync(abs, { recursive: true, force: true });
      done.run(stored);
      report.removed.push(abs);
    } catch (err) {
      report.notRemoved.push({ path: abs, reason: (err as Error).message });
    }
  }
  return report;
}
