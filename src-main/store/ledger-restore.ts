/**
 * Restoring the privacy ledger into a new database from the ledger journal
 * (ledger-journal.ts), after a damaged database was moved aside: every data
 * set's spend comes back, so its cap keeps counting what was spent.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, nowIso, stmt, toJson, writeTx } from './internal';
import { readJournal, type JournalSpend } from './ledger-journal';
import { fromStoredPath } from './paths';
import { RUN_METHODS } from './schema';
import type { Store } from './types';

/** What a restore brought back. */
export interface LedgerRestore {
  /** Data sets restored: live when their files are still there, else as deleted entries. */
  datasets: { name: string; live: boolean }[];
  runs: number;
  /** Ledger rows (one per journalled spend). */
  rows: number;
  steps: number;
}

/**
 * Restores every journalled spend into `store` (a database just created), in
 * one transaction. Returns null when the journal is empty.
 */
export function restoreLedger(store: Store): LedgerRestore | null {
  const lines = readJournal(store.path);
  if (lines.length === 0) return null;
  return writeTx(store, () => {
    const now = nowIso(store);
    const latest = new Map<string, JournalSpend['dataset']>();
    for (const l of lines) latest.set(l.dataset.publicId, l.dataset);
    const datasetIds = new Map<string, number>();
    const datasets: LedgerRestore['datasets'] = [];
    for (const [publicId, d] of latest) {
      const dir = fromStoredPath(store, d.filesDir);
      const nameTaken = stmt(
        store,
        'SELECT 1 FROM datasets WHERE name_key = ? AND deleted_at IS NULL',
      ).get(d.name.trim().normalize('NFC').toLowerCase());
      const live = dir !== undefined && existsSync(join(dir, 'dataset.json')) && !nameTaken;
      const info = stmt(
        store,
        `INSERT INTO datasets (name, name_key, fingerprint, format, preprocessing, split_seed, train_count, test_count,
           class_names, files_dir, budget_epsilon, budget_delta, created_at, deleted_at, public_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        d.name,
        d.name.trim().normalize('NFC').toLowerCase(),
        d.fingerprint,
        d.format,
        toJson(d.preprocessing ?? null, 'The preprocessing settings'),
        d.splitSeed,
        d.trainCount,
        d.testCount,
        toJson(d.classNames, 'The class names'),
        d.filesDir,
        d.budgetEpsilon,
        d.budgetDelta,
        now,
        live ? null : now,
        publicId,
      );
      datasetIds.set(publicId, Number(info.lastInsertRowid));
      datasets.push({ name: d.name, live });
    }
    const runIds = new Map<string, number>();
    let steps = 0;
    for (const l of lines) {
      const datasetId = datasetIds.get(l.dataset.publicId) as number;
      const key = `${l.db}:${l.run.id}`;
      let runId = runIds.get(key);
      if (runId === undefined) {
        const method = (RUN_METHODS as readonly string[]).includes(l.run.method)
          ? l.run.method
          : RUN_METHODS[0];
        const info = stmt(
          store,
          `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at, error_message)
           VALUES (?, ?, ?, '{}', 'failed', ?, ?, ?)`,
        ).run(
          datasetId,
          method,
          toJson({ restoredFromJournal: { database: l.db, run: l.run.id } }, 'The run'),
          l.run.delta,
          now,
          `Restored from the ledger journal: the database that held this run (its run ${l.run.id}) was damaged. Only its privacy spend was recovered.`,
        );
        runId = Number(info.lastInsertRowid);
        runIds.set(key, runId);
      }
      stmt(
        store,
        `INSERT INTO ledger (dataset_id, run_id, spec, from_step, to_step, delta, recorded_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        datasetId,
        runId,
        canonicalJson(l.spec, 'The mechanism spec'),
        l.fromStep,
        l.toStep,
        l.delta,
        l.at,
        l.at,
      );
      steps += l.toStep - l.fromStep + 1;
    }
    const summary: LedgerRestore = { datasets, runs: runIds.size, rows: lines.length, steps };
    stmt(store, "INSERT OR REPLACE INTO meta (key, value) VALUES ('restored', ?)").run(
      toJson({ at: now, ...summary }, 'The restore summary'),
    );
    return summary;
  });
}

/** The restore this database was made by, if any (for the faces to say so). */
export function restoredLedger(store: Store): (LedgerRestore & { at: string }) | null {
  const row = stmt(store, "SELECT value FROM meta WHERE key = 'restored'").get() as
    { value: string } | undefined;
  return row ? (JSON.parse(row.value) as LedgerRestore & { at: string }) : null;
}
