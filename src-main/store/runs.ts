/**
 * Training runs and their life cycle. Allowed status changes:
 * queued → running | cancelled | failed; running → paused | completed |
 * failed | cancelled | interrupted; paused → running | cancelled | failed |
 * interrupted; interrupted → running (resume) | cancelled | failed.
 * completed, failed and cancelled are final.
 */
import { UserError } from '../contract/errors';
import { getDataset } from './datasets';
import {
  fromJson,
  nowIso,
  requireDelta,
  requireInt,
  requirePositive,
  requireText,
  stmt,
  toJson,
  writeTx,
} from './internal';
import { ownerGone } from './owner';
import { RUN_METHODS, RUN_STATUSES } from './schema';
import type { Store } from './types';

/** Training method. */
export type RunMethod = (typeof RUN_METHODS)[number];
/** Status of a run. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Name and version of the privacy accountant that calibrated a run. */
export interface AccountantInfo {
  name: string;
  version: string;
}

/** What `createRun` needs. */
export interface NewRun {
  datasetId: number;
  method: RunMethod;
  hyperparameters: unknown;
  architecture: unknown;
  backend?: string | null;
  targetEpsilon?: number | null;
  delta: number;
  accountant?: AccountantInfo | null;
}

/** A run as stored. */
export interface Run {
  id: number;
  datasetId: number;
  method: RunMethod;
  hyperparameters: unknown;
  architecture: unknown;
  backend: string | null;
  status: RunStatus;
  targetEpsilon: number | null;
  delta: number;
  errorMessage: string | null;
  createdAt: string;
  /** First time the run entered 'running'. */
  startedAt: string | null;
  /** When it reached completed, failed or cancelled. */
  finishedAt: string | null;
  /** Time spent in 'running' (pauses excluded; time lost to a crash is not counted). */
  durationMs: number;
  accountantName: string | null;
  accountantVersion: string | null;
}

interface RunRow {
  id: number;
  dataset_id: number;
  method: RunMethod;
  hyperparameters: string;
  architecture: string;
  backend: string | null;
  status: RunStatus;
  target_epsilon: number | null;
  delta: number;
  error_message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  running_since: string | null;
  duration_ms: number;
  accountant_name: string | null;
  accountant_version: string | null;
}

const NEXT: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['paused', 'completed', 'failed', 'cancelled', 'interrupted'],
  paused: ['running', 'cancelled', 'failed', 'interrupted'],
  interrupted: ['running', 'cancelled', 'failed'],
  completed: [],
  failed: [],
  cancelled: [],
};

const FINAL: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    datasetId: row.dataset_id,
    method: row.method,
    hyperparameters: fromJson(row.hyperparameters, `The hyperparameters of run ${row.id}`),
    architecture: fromJson(row.architecture, `The architecture of run ${row.id}`),
    backend: row.backend,
    status: row.status,
    targetEpsilon: row.target_epsilon,
    delta: row.delta,
    errorMessage: row.error_message,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    accountantName: row.accountant_name,
    accountantVersion: row.accountant_version,
  };
}

/**
 * Creates a queued run on a live data set.
 * @throws UserError NOT_FOUND when the data set does not exist or was deleted.
 */
export function createRun(store: Store, input: NewRun): Run {
  if (!RUN_METHODS.includes(input.method)) {
    throw new UserError(
      'INVALID_INPUT',
      `The method "${String(input.method)}" is unknown; use ${RUN_METHODS.join(' or ')}.`,
    );
  }
  const hyper = toJson(input.hyperparameters, 'The hyperparameters');
  const arch = toJson(input.architecture, 'The architecture');
  const backend =
    input.backend === undefined || input.backend === null
      ? null
      : requireText(input.backend, 'The backend name', 100);
  const target =
    input.targetEpsilon === undefined || input.targetEpsilon === null
      ? null
      : requirePositive(input.targetEpsilon, 'The target ε');
  const delta = requireDelta(input.delta, 'The run δ');
  const acc = input.accountant ?? null;
  if (acc) {
    requireText(acc.name, 'The accountant name', 100);
    requireText(acc.version, 'The accountant version', 100);
  }
  return writeTx(store, () => {
    const ds = getDataset(store, requireInt(input.datasetId, 'The data set id', 1));
    const info = stmt(
      store,
      `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, backend, status, target_epsilon, delta,
         created_at, accountant_name, accountant_version, owner)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
    ).run(
      ds.id,
      input.method,
      hyper,
      arch,
      backend,
      target,
      delta,
      nowIso(store),
      acc?.name ?? null,
      acc?.version ?? null,
      store.owner,
    );
    return getRun(store, Number(info.lastInsertRowid));
  });
}

/** Finds a run; undefined when none. */
export function findRun(store: Store, runId: number): Run | undefined {
  const row = stmt(store, 'SELECT * FROM runs WHERE id = ?').get(runId) as RunRow | undefined;
  return row && toRun(row);
}

/**
 * Gets a run.
 * @throws UserError NOT_FOUND when there is none.
 */
export function getRun(store: Store, runId: number): Run {
  const found = Number.isSafeInteger(runId) ? findRun(store, runId) : undefined;
  if (!found)
    throw new UserError(
      'NOT_FOUND',
      `There is no run ${String(runId)}. List the runs to see their ids.`,
    );
  return found;
}

/** Lists runs, oldest first, optionally of one data set and/or status. */
export function listRuns(
  store: Store,
  filter: { datasetId?: number; status?: RunStatus } = {},
): Run[] {
  const rows = stmt(
    store,
    `SELECT * FROM runs WHERE (@dataset IS NULL OR dataset_id = @dataset) AND (@status IS NULL OR status = @status) ORDER BY id`,
  ).all({ dataset: filter.datasetId ?? null, status: filter.status ?? null }) as RunRow[];
  return rows.map(toRun);
}

/** Extra fields `updateRunStatus` may set with the status. */
export interface RunStatusUpdate {
  /** Error text (kept for 'failed'; cleared on 'running'). */
  errorMessage?: string | null;
  backend?: string;
  accountant?: AccountantInfo;
}

function elapsedMs(store: Store, since: string | null): number {
  if (since === null) return 0;
  return Math.max(0, Math.round(store.clock().getTime() - Date.parse(since)));
}

/**
 * Moves a run to `status`, keeping the timings: `startedAt` on the first
 * start, time in 'running' added to `durationMs`, `finishedAt` on a final status.
 * @throws UserError INVALID_INPUT for a change the life cycle does not allow.
 */
export function updateRunStatus(
  store: Store,
  runId: number,
  status: RunStatus,
  extra: RunStatusUpdate = {},
): Run {
  if (!RUN_STATUSES.includes(status)) {
    throw new UserError(
      'INVALID_INPUT',
      `The run status "${String(status)}" is unknown; use one of ${RUN_STATUSES.join(', ')}.`,
    );
  }
  return writeTx(store, () => {
    const row = stmt(store, 'SELECT * FROM runs WHERE id = ?').get(runId) as RunRow | undefined;
    if (!row)
      throw new UserError('NOT_FOUND', `There is no run ${runId}. List the runs to see their ids.`);
    if (!NEXT[row.status].includes(status)) {
      throw new UserError(
        'INVALID_INPUT',
        `Run ${runId} is ${row.status} and cannot become ${status}.`,
      );
    }
    const now = nowIso(store);
    const duration =
      row.duration_ms + (row.status === 'running' ? elapsedMs(store, row.running_since) : 0);
    const error =
      status === 'running'
        ? null
        : extra.errorMessage !== undefined
          ? extra.errorMessage
          : row.error_message;
    stmt(
      store,
      `UPDATE runs SET status = ?, started_at = ?, running_since = ?, duration_ms = ?, finished_at = ?,
         error_message = ?, backend = ?, accountant_name = ?, accountant_version = ?,
         owner = ? WHERE id = ?`,
    ).run(
      status,
      row.started_at ?? (status === 'running' ? now : null),
      status === 'running' ? now : null,
      duration,
      FINAL.includes(status) ? now : null,
      error,
      extra.backend ?? row.backend,
      extra.accountant?.name ?? row.accountant_name,
      extra.accountant?.version ?? row.accountant_version,
      status === 'running' || status === 'paused' ? store.owner : null,
      runId,
    );
    return getRun(store, runId);
  });
}

/**
 * At start-up: every run left 'running' or 'paused' by a process that is gone
 * becomes 'interrupted' (resumable from its last checkpoint); one left
 * 'queued' becomes 'failed'. Returns the ids of the interrupted ones.
 * Runs of a live process are left alone, so opening the data folder from the
 * command line while the app trains changes nothing; a process that merely
 * reuses the owner's PID (after a reboot) does not count as live (see owner.ts).
 */
export function markInterruptedRuns(store: Store): number[] {
  const rows = stmt(
    store,
    `SELECT id, owner, status FROM runs WHERE status IN ('running', 'paused', 'queued') ORDER BY id`,
  ).all() as { id: number; owner: string | null; status: string }[];
  // Asked outside the write lock: asking the system may start a process (ps).
  const gone = rows.filter((r) => ownerGone(r.owner, store.owner, 'connection'));
  return writeTx(store, () => {
    // Only if the run still has the owner judged gone (it may have moved on since).
    const mark = stmt(
      store,
      `UPDATE runs SET status = 'interrupted', running_since = NULL, owner = NULL,
         error_message = 'The app stopped while this run was going; resume it from its last checkpoint.'
       WHERE id = ? AND owner IS ? AND status IN ('running', 'paused')`,
    );
    // A run whose process died before its worker started never trained: it cannot resume.
    const never = stmt(
      store,
      `UPDATE runs SET status = 'failed', owner = NULL, finished_at = ?,
         error_message = 'The app stopped before this run began training. Start a new run.'
       WHERE id = ? AND owner IS ? AND status = 'queued'`,
    );
    const now = nowIso(store);
    const interrupted: number[] = [];
    for (const r of gone) {
      if (r.status === 'queued') never.run(now, r.id, r.owner);
      else if (mark.run(r.id, r.owner).changes > 0) interrupted.push(r.id);
    }
    return interrupted;
  });
}
