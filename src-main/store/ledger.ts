/**
 * The privacy ledger: every noisy step that touched a data set, written
 * BEFORE the step runs (write-ahead) and durable when `recordSpend` returns.
 *
 * A row covers steps `fromStep..toStep` of one run under one mechanism spec.
 * A spend that continues the run's latest row with the same spec and δ
 * extends it in one UPDATE; anything else (new parameters, or a resumed run
 * replaying steps after its last checkpoint) appends a row. Replayed steps
 * are paid again: their noise is fresh. `stepsSpent` is therefore the exact
 * count of noisy updates paid for, not the last step number.
 *
 * Rows are never deleted or rewritten (triggers); a deleted data set stays as
 * a tombstone row, so its entries keep their name and fingerprint.
 */
import { UserError } from '../contract/errors';
import { getDataset, type Dataset } from './datasets';
import { appendSpend } from './ledger-journal';
import {
  canonicalJson,
  fromJson,
  nowIso,
  requireDelta,
  requireInt,
  requireText,
  stmt,
  writeTx,
} from './internal';
import { getRun } from './runs';
import type { Store } from './types';

/** Parameters of the mechanism a row pays for, e.g. `{ mechanism: 'dp2vae', blocks, sigma, clip }`. */
export interface MechanismSpec {
  mechanism: string;
  /** Optional on input (must then equal the steps covered); always set on output. */
  steps?: number;
  [parameter: string]: unknown;
}

/** What `recordSpend` needs. */
export interface SpendInput {
  datasetId: number;
  runId: number;
  spec: MechanismSpec;
  /** First and last step paid for (inclusive). */
  fromStep: number;
  toStep: number;
  /** Defaults to the run's δ. */
  delta?: number;
}

/** One ledger row. */
export interface LedgerEntry {
  id: number;
  datasetId: number;
  datasetName: string;
  datasetFingerprint: string;
  /** Whether the data set has since been deleted. */
  datasetDeleted: boolean;
  runId: number;
  /** The spec, with `steps` = the number of steps this row covers. */
  spec: MechanismSpec & { steps: number };
  fromStep: number;
  toStep: number;
  delta: number;
  recordedAt: string;
  updatedAt: string;
}

interface LedgerRow {
  id: number;
  dataset_id: number;
  run_id: number;
  spec: string;
  from_step: number;
  to_step: number;
  delta: number;
  recorded_at: string;
  updated_at: string;
  dataset_name: string;
  dataset_fingerprint: string;
  dataset_deleted_at: string | null;
}

function toEntry(row: LedgerRow): LedgerEntry {
  const params = fromJson(row.spec, `The mechanism of ledger row ${row.id}`) as MechanismSpec;
  return {
    id: row.id,
    datasetId: row.dataset_id,
    datasetName: row.dataset_name,
    datasetFingerprint: row.dataset_fingerprint,
    datasetDeleted: row.dataset_deleted_at !== null,
    runId: row.run_id,
    spec: { ...params, steps: row.to_step - row.from_step + 1 },
    fromStep: row.from_step,
    toStep: row.to_step,
    delta: row.delta,
    recordedAt: row.recorded_at,
    updatedAt: row.updated_at,
  };
}

const SELECT = `SELECT l.*, d.name AS dataset_name, d.fingerprint AS dataset_fingerprint, d.deleted_at AS dataset_deleted_at
  FROM ledger l JOIN datasets d ON d.id = l.dataset_id`;

/**
 * Records that steps `fromStep..toStep` of a run are about to run. Call it
 * before the noisy update(s) and run them only after it returns: it commits
 * with `synchronous = FULL`, so the spend survives a crash or a power cut,
 * and the ledger journal beside the database holds it too (fsynced before
 * the commit), so it survives a damaged database.
 * Must not be called inside another transaction.
 * @throws UserError INVALID_INPUT / NOT_FOUND for a bad spend (nothing written).
 */
export function recordSpend(store: Store, input: SpendInput): LedgerEntry {
  const { entry } = recordGrantedSpend(store, input, () => input.toStep);
  return entry as LedgerEntry;
}

/** What the data set's budget looks like inside the spend's transaction. */
export interface SpendContext {
  /** The data set as it is now (its cap may have changed since the run started). */
  dataset: Dataset;
  /** Every ledger row on the same images (re-imports included), this run's too. */
  entries: LedgerEntry[];
}

/**
 * Check-and-record in ONE `BEGIN IMMEDIATE` transaction: `grant` sees the
 * data set and its ledger as they are under the write lock and returns the
 * last step it allows (`fromStep - 1` for none); steps `fromStep..granted`
 * are recorded before the lock is released. Two processes spending on one
 * data set (the desktop app and `dp2 train`) are thereby serialised: neither
 * can be granted headroom the other has already taken.
 */
export function recordGrantedSpend(
  store: Store,
  input: SpendInput,
  grant: (current: SpendContext) => number,
): { granted: number; entry: LedgerEntry | null } {
  const fromStep = requireInt(input.fromStep, 'The first step of the spend');
  const toStep = requireInt(input.toStep, 'The last step of the spend');
  if (toStep < fromStep) {
    throw new UserError(
      'INVALID_INPUT',
      `A spend from step ${fromStep} to step ${toStep} covers no step; the last step must not come before the first.`,
    );
  }
  const spec = input.spec as unknown;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new UserError(
      'INVALID_INPUT',
      'The mechanism spec must be an object such as { mechanism: "dp2vae", blocks, sigma }.',
    );
  }
  const { steps, ...params } = input.spec;
  requireText(params.mechanism, 'The mechanism name', 50);
  if (steps !== undefined && steps !== toStep - fromStep + 1) {
    throw new UserError(
      'INVALID_INPUT',
      `The spec says ${String(steps)} steps but steps ${fromStep}..${toStep} are ${toStep - fromStep + 1}.`,
    );
  }
  const specText = canonicalJson(params, 'The mechanism spec');
  if (store.db.inTransaction) {
    throw new Error(
      'recordSpend must not run inside another transaction: its durability depends on its own commit.',
    );
  }

  store.db.pragma('synchronous = FULL');
  try {
    return writeTx(store, () => {
      const run = getRun(store, input.runId);
      const ds = getDataset(store, input.datasetId);
      if (run.datasetId !== ds.id) {
        throw new UserError(
          'INVALID_INPUT',
          `Run ${run.id} trains on data set ${run.datasetId}, not on data set ${ds.id}.`,
        );
      }
      const granted = Math.min(
        toStep,
        grant({ dataset: ds, entries: ledgerEntriesByFingerprint(store, ds.fingerprint) }),
      );
      if (granted < fromStep) return { granted: fromStep - 1, entry: null };
      const delta =
        input.delta === undefined ? run.delta : requireDelta(input.delta, 'The spend δ');
      const now = nowIso(store);
      const last = stmt(
        store,
        'SELECT id, spec, to_step, delta FROM ledger WHERE run_id = ? ORDER BY id DESC LIMIT 1',
      ).get(run.id) as { id: number; spec: string; to_step: number; delta: number } | undefined;
      let id: number;
      if (last && last.spec === specText && last.delta === delta && last.to_step + 1 === fromStep) {
        stmt(store, 'UPDATE ledger SET to_step = ?, updated_at = ? WHERE id = ?').run(
          granted,
          now,
          last.id,
        );
        id = last.id;
      } else {
        const info = stmt(
          store,
          `INSERT INTO ledger (dataset_id, run_id, spec, from_step, to_step, delta, recorded_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(ds.id, run.id, specText, fromStep, granted, delta, now, now);
        id = Number(info.lastInsertRowid);
      }
      // Last, still inside the transaction: a journal that cannot be written
      // rolls the spend back (the step is then not taken).
      appendSpend(store, {
        dataset: ds,
        storedFilesDir: storedFilesDir(store, ds.id),
        run: { id: run.id, method: run.method, delta: run.delta },
        spec: params,
        fromStep,
        toStep: granted,
        delta,
      });
      return {
        granted,
        entry: toEntry(stmt(store, `${SELECT} WHERE l.id = ?`).get(id) as LedgerRow),
      };
    });
  } finally {
    store.db.pragma('synchronous = NORMAL');
  }
}

function storedFilesDir(store: Store, datasetId: number): string {
  return (
    stmt(store, 'SELECT files_dir FROM datasets WHERE id = ?').get(datasetId) as {
      files_dir: string;
    }
  ).files_dir;
}

/** Every ledger row of a data set (deleted ones included), oldest first. */
export function ledgerEntries(store: Store, datasetId: number): LedgerEntry[] {
  return (
    stmt(store, `${SELECT} WHERE l.dataset_id = ? ORDER BY l.id`).all(datasetId) as LedgerRow[]
  ).map(toEntry);
}

/**
 * Every ledger row of every data set (live or deleted) with this content
 * fingerprint: the same images imported again keep their spent budget.
 */
export function ledgerEntriesByFingerprint(store: Store, fingerprint: string): LedgerEntry[] {
  return (
    stmt(store, `${SELECT} WHERE d.fingerprint = ? ORDER BY l.id`).all(fingerprint) as LedgerRow[]
  ).map(toEntry);
}

/** The exact number of noisy steps paid for by a run (replayed steps count again). */
export function stepsSpent(store: Store, runId: number): number {
  const row = stmt(
    store,
    'SELECT coalesce(sum(to_step - from_step + 1), 0) AS n FROM ledger WHERE run_id = ?',
  ).get(runId) as {
    n: number;
  };
  return row.n;
}
