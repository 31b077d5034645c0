/**
 * Per-step training metrics with bounded storage. For each (run, stage,
 * name) series every step below `METRIC_DENSE_STEPS` is kept; above it only
 * steps that are multiples of a power-of-two stride, the stride being the
 * smallest that keeps the tail within `METRIC_MAX_ROWS - METRIC_DENSE_STEPS`
 * rows for the largest step seen. When the stride grows, rows off the new
 * stride are thinned out, so a series never holds more than
 * `METRIC_MAX_ROWS` rows however long the run.
 *
 * Losses are computed on private data without noise: metrics stay inside the
 * app and are never exported.
 */
import { UserError } from '../contract/errors';
import { getRun } from './runs';
import { requireInt, requireText, stmt, writeTx } from './internal';
import type { Store } from './types';

/** Steps below this are all kept. */
export const METRIC_DENSE_STEPS = 1000;
/** Most rows kept per (run, stage, metric name). */
export const METRIC_MAX_ROWS = 5000;

const TAIL_ROWS = METRIC_MAX_ROWS - METRIC_DENSE_STEPS - 1;

/** One metric value. */
export interface MetricRow {
  /** E.g. 'stage1', 'stage2', 'eval'. */
  stage: string;
  step: number;
  /** E.g. 'loss', 'kl', 'epsilon'. */
  name: string;
  /** NaN and ±Infinity are kept as NaN (a diverged loss is worth seeing). */
  value: number;
}

/** The stride for a series whose largest step is `maxStep`: a power of two. */
export function metricStride(maxStep: number): number {
  const span = maxStep - METRIC_DENSE_STEPS + 1;
  if (span <= TAIL_ROWS) return 1;
  return 2 ** Math.ceil(Math.log2(span / TAIL_ROWS));
}

/** Whether `step` is kept under `stride`. */
function kept(step: number, stride: number): boolean {
  return step < METRIC_DENSE_STEPS || step % stride === 0;
}

/**
 * Appends metric rows of one run in one transaction (all or nothing); a step
 * already stored is replaced (a resumed run replays steps).
 * @throws UserError INVALID_INPUT for a malformed row (nothing is written).
 */
export function appendMetrics(store: Store, runId: number, rows: readonly MetricRow[]): void {
  if (!Array.isArray(rows)) throw new UserError('INVALID_INPUT', 'Metrics must be a list of rows.');
  writeTx(store, () => {
    getRun(store, runId);
    const series = new Map<string, { stage: string; name: string; rows: MetricRow[] }>();
    for (const [i, row] of rows.entries()) {
      const where = `Metric row ${i + 1}`;
      const stage = requireText(row?.stage, `${where}: the stage`, 50);
      const name = requireText(row.name, `${where}: the name`, 100);
      requireInt(row.step, `${where}: the step`);
      if (typeof row.value !== 'number')
        throw new UserError('INVALID_INPUT', `${where}: the value must be a number.`);
      const key = JSON.stringify([stage, name]);
      let s = series.get(key);
      if (!s) series.set(key, (s = { stage, name, rows: [] }));
      s.rows.push(row);
    }
    const maxStored = stmt(
      store,
      'SELECT max(step) AS m FROM metrics WHERE run_id = ? AND stage = ? AND name = ?',
    );
    const thin = stmt(
      store,
      'DELETE FROM metrics WHERE run_id = ? AND stage = ? AND name = ? AND step >= ? AND step % ? <> 0',
    );
    const insert = stmt(
      store,
      'INSERT OR REPLACE INTO metrics (run_id, stage, name, step, value) VALUES (?, ?, ?, ?, ?)',
    );
    for (const { stage, name, rows: batch } of series.values()) {
      let maxStep = (maxStored.get(runId, stage, name) as { m: number | null }).m ?? 0;
      for (const r of batch) maxStep = Math.max(maxStep, r.step);
      const stride = metricStride(maxStep);
      if (stride > 1) thin.run(runId, stage, name, METRIC_DENSE_STEPS, stride);
      for (const r of batch) {
        if (kept(r.step, stride))
          insert.run(runId, stage, name, r.step, Number.isFinite(r.value) ? r.value : null);
      }
    }
  });
}

/** The stored metrics of a run, ordered by stage, name and step; optionally one stage and/or name. */
export function getMetrics(
  store: Store,
  runId: number,
  filter: { stage?: string; name?: string } = {},
): MetricRow[] {
  const rows = stmt(
    store,
    `SELECT stage, step, name, value FROM metrics
     WHERE run_id = @run AND (@stage IS NULL OR stage = @stage) AND (@name IS NULL OR name = @name)
     ORDER BY stage, name, step`,
  ).all({ run: runId, stage: filter.stage ?? null, name: filter.name ?? null }) as {
    stage: string;
    step: number;
    name: string;
    value: number | null;
  }[];
  return rows.map((r) => ({
    stage: r.stage,
    step: r.step,
    name: r.name,
    value: r.value ?? Number.NaN,
  }));
}
