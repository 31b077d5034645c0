import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../src-main/contract/errors';
import {
  METRIC_DENSE_STEPS,
  METRIC_MAX_ROWS,
  appendMetrics,
  getMetrics,
  getSampleGrid,
  recordSampleGrid,
  sampleGridSteps,
} from '../../../src-main/store';
import type { MetricRow } from '../../../src-main/store';
import { seed, tempStore } from './helpers';

test('metrics are kept step by step for short runs; replays replace values', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const rows: MetricRow[] = [];
  for (let step = 0; step < 200; step++) {
    rows.push({ stage: 'stage2', step, name: 'loss', value: 1 / (step + 1) });
    rows.push({ stage: 'stage2', step, name: 'epsilon', value: step / 100 });
  }
  appendMetrics(store, run.id, rows);
  appendMetrics(store, run.id, [{ stage: 'stage2', step: 5, name: 'loss', value: Number.NaN }]);
  const loss = getMetrics(store, run.id, { name: 'loss' });
  assert.equal(loss.length, 200);
  assert.ok(Number.isNaN(loss[5]?.value));
  assert.equal(getMetrics(store, run.id).length, 400);
  assert.equal(getMetrics(store, run.id, { stage: 'stage1' }).length, 0);
});

test('a very long run stays within the row bound per metric, with the early steps whole', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const total = 1_000_000;
  const batch = 20_000;
  for (let start = 0; start < total; start += batch) {
    const rows: MetricRow[] = [];
    for (let step = start; step < start + batch; step++)
      rows.push({ stage: 'stage2', step, name: 'loss', value: step });
    appendMetrics(store, run.id, rows);
    const count = store.db
      .prepare('SELECT count(*) FROM metrics WHERE run_id = ?')
      .pluck()
      .get(run.id) as number;
    assert.ok(count <= METRIC_MAX_ROWS, `${count} rows after step ${start + batch}`);
  }
  const kept = getMetrics(store, run.id);
  assert.ok(kept.length > METRIC_MAX_ROWS * 0.7, `the bound is used well (${kept.length})`);
  for (let step = 0; step < METRIC_DENSE_STEPS; step++) assert.equal(kept[step]?.step, step);
  const tail = kept.slice(METRIC_DENSE_STEPS).map((r) => r.step);
  const gaps = tail.slice(1).map((s, i) => s - (tail[i] ?? 0));
  assert.equal(new Set(gaps).size, 1, 'the tail is evenly spread');
  assert.ok((tail.at(-1) ?? 0) > total - (gaps[0] ?? 0) - 1, 'the tail reaches the last steps');
  assert.ok(kept.every((r) => r.value === r.step));
});

test('a bad row anywhere in a batch writes nothing', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const rows = [
    { stage: 'stage1', step: 1, name: 'loss', value: 1 },
    { stage: 'stage1', step: 2, name: 'loss', value: 2 },
    { stage: 'stage1', step: -3, name: 'loss', value: 3 },
  ];
  assert.throws(
    () => appendMetrics(store, run.id, rows),
    (e) => e instanceof UserError && /row 3/.test(e.message),
  );
  assert.throws(() =>
    appendMetrics(store, run.id, [
      rows[0] as MetricRow,
      { stage: 'stage1', step: 4, name: 'loss', value: '5' as unknown as number },
    ]),
  );
  assert.throws(
    () => appendMetrics(store, 999, [rows[0] as MetricRow]),
    (e) => e instanceof UserError && e.code === 'NOT_FOUND',
  );
  assert.equal(getMetrics(store, run.id).length, 0);
});

test('sample grids are stored per step, PNG only', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const png = (n: number) => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, n]);
  recordSampleGrid(store, { runId: run.id, step: 100, png: png(1) });
  recordSampleGrid(store, { runId: run.id, step: 50, png: png(2) });
  recordSampleGrid(store, { runId: run.id, step: 100, png: png(3) });
  assert.deepEqual(sampleGridSteps(store, run.id), [50, 100]);
  assert.deepEqual(getSampleGrid(store, run.id)?.png, png(3));
  assert.deepEqual(getSampleGrid(store, run.id, 50)?.png, png(2));
  assert.equal(getSampleGrid(store, run.id, 7), undefined);
  assert.throws(
    () => recordSampleGrid(store, { runId: run.id, step: 1, png: Uint8Array.from([1, 2, 3]) }),
    /PNG/,
  );
});
