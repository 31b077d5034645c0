import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../src-main/contract/errors';
import {
  createRun,
  getRun,
  latestCheckpoint,
  listCheckpoints,
  listRuns,
  markInterruptedRuns,
  recordCheckpoint,
  updateRunStatus,
} from '../../../src-main/store';
import { seed, tempStore } from './helpers';

const code = (c: string) => (err: unknown) => err instanceof UserError && err.code === c;

test('a run moves through its life cycle and keeps its timings', (t) => {
  let now = Date.parse('2024-05-01T10:00:00Z');
  const { store } = tempStore(t, () => new Date(now));
  const { run, dataset } = seed(store);
  assert.equal(run.status, 'queued');
  assert.equal(run.datasetId, dataset.id);
  assert.deepEqual(run.hyperparameters, { blocks: 10, sigma: 1.2, clip: 1, steps: 2000 });
  assert.equal(run.accountantName, 'rdp');

  now += 1000;
  let r = updateRunStatus(store, run.id, 'running', { backend: 'tensorflow' });
  assert.equal(r.startedAt, '2024-05-01T10:00:01.000Z');
  assert.equal(r.backend, 'tensorflow');
  now += 60_000;
  r = updateRunStatus(store, run.id, 'paused');
  assert.equal(r.durationMs, 60_000);
  now += 3_600_000; // paused time is not counted
  updateRunStatus(store, run.id, 'running');
  now += 30_000;
  r = updateRunStatus(store, run.id, 'completed');
  assert.equal(r.durationMs, 90_000);
  assert.equal(r.startedAt, '2024-05-01T10:00:01.000Z');
  assert.equal(r.finishedAt, new Date(now).toISOString());
  assert.throws(
    () => updateRunStatus(store, run.id, 'running'),
    /completed and cannot become running/,
  );
});

test('a failed run keeps its error; bad runs and changes are refused', (t) => {
  const { store } = tempStore(t);
  const { run, dataset } = seed(store);
  assert.throws(() => updateRunStatus(store, run.id, 'paused'), code('INVALID_INPUT'));
  updateRunStatus(store, run.id, 'running');
  const failed = updateRunStatus(store, run.id, 'failed', { errorMessage: 'Out of memory.' });
  assert.equal(failed.errorMessage, 'Out of memory.');
  assert.throws(() => getRun(store, 999), code('NOT_FOUND'));
  assert.throws(() => updateRunStatus(store, 999, 'running'), code('NOT_FOUND'));
  const base = {
    datasetId: dataset.id,
    method: 'dp2vae' as const,
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  };
  assert.throws(
    () => createRun(store, { ...base, method: 'gan' as 'dpsgd' }),
    code('INVALID_INPUT'),
  );
  assert.throws(() => createRun(store, { ...base, delta: 0 }), code('INVALID_INPUT'));
  assert.throws(() => createRun(store, { ...base, datasetId: 77 }), code('NOT_FOUND'));
  assert.equal(listRuns(store).length, 1);
});

test('markInterruptedRuns turns running and paused runs whose process is gone into interrupted ones', (t) => {
  const { store } = tempStore(t);
  const { dataset } = seed(store);
  const make = () =>
    createRun(store, {
      datasetId: dataset.id,
      method: 'dpsgd',
      hyperparameters: {},
      architecture: {},
      delta: 1e-5,
    }).id;
  const [queued, running, paused, done] = [make(), make(), make(), make()];
  for (const id of [running, paused, done]) updateRunStatus(store, id, 'running');
  updateRunStatus(store, paused, 'paused');
  updateRunStatus(store, done, 'completed');
  // Runs this connection owns are its own business: nothing to mark.
  assert.deepEqual(markInterruptedRuns(store), []);
  // Owned by a live process (another app): left alone. Owned by a process that is gone: marked.
  const own = store.db.prepare('UPDATE runs SET owner = ? WHERE id = ?');
  own.run(`${process.ppid}:other`, running);
  own.run(`${process.ppid}:other`, paused);
  assert.deepEqual(markInterruptedRuns(store), []);
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  own.run(`${gone}:gone`, running);
  own.run(`${process.pid}:an-earlier-connection`, paused);
  assert.deepEqual(markInterruptedRuns(store), [running, paused]);
  assert.equal(getRun(store, running).status, 'interrupted');
  assert.equal(getRun(store, paused).status, 'interrupted');
  assert.match(getRun(store, running).errorMessage ?? '', /resume/);
  assert.equal(getRun(store, queued).status, 'queued');
  assert.equal(getRun(store, done).status, 'completed');
  assert.deepEqual(markInterruptedRuns(store), []);
  // An interrupted run resumes.
  assert.equal(updateRunStatus(store, running, 'running').errorMessage, null);
  assert.deepEqual(
    listRuns(store, { status: 'interrupted' }).map((r) => r.id),
    [paused],
  );
  assert.deepEqual(listRuns(store, { datasetId: dataset.id }).length, 5);
});

test('checkpoints: the latest recorded one is returned', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  assert.equal(latestCheckpoint(store, run.id), undefined);
  recordCheckpoint(store, {
    runId: run.id,
    stage: 'stage1',
    step: 500,
    path: 'runs/1/ckpt-s1-500',
    bytes: 10,
  });
  const last = recordCheckpoint(store, {
    runId: run.id,
    stage: 'stage2',
    step: 100,
    path: 'runs/1/ckpt-s2-100',
    bytes: 20,
  });
  assert.deepEqual(latestCheckpoint(store, run.id), last);
  assert.equal(last.path, `${store.home}/runs/1/ckpt-s2-100`);
  assert.equal(listCheckpoints(store, run.id).length, 2);
  assert.throws(
    () =>
      recordCheckpoint(store, { runId: run.id, stage: 'stage2', step: 1, path: '../x', bytes: 1 }),
    code('INVALID_INPUT'),
  );
  assert.throws(
    () => recordCheckpoint(store, { runId: 42, stage: 'stage2', step: 1, path: 'x', bytes: 1 }),
    code('NOT_FOUND'),
  );
});
