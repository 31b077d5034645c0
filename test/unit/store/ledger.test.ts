import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../src-main/contract/errors';
import {
  createRun,
  deleteDataset,
  insertDataset,
  ledgerEntries,
  ledgerEntriesByFingerprint,
  recordSpend,
  stepsSpent,
  updateRunStatus,
} from '../../../src-main/store';
import { datasetInput, seed, tempStore } from './helpers';

const code = (c: string) => (err: unknown) => err instanceof UserError && err.code === c;
const spec = { mechanism: 'dp2vae', blocks: 10, sigma: 1.2, clip: 1 };

test('successive spends with the same parameters extend one row; others append', (t) => {
  const { store } = tempStore(t);
  const { dataset, run } = seed(store);
  for (let step = 1; step <= 100; step++)
    recordSpend(store, {
      datasetId: dataset.id,
      runId: run.id,
      spec,
      fromStep: step,
      toStep: step,
    });
  recordSpend(store, {
    datasetId: dataset.id,
    runId: run.id,
    spec: { sigma: 1.2, clip: 1, blocks: 10, mechanism: 'dp2vae' },
    fromStep: 101,
    toStep: 150,
  });
  let rows = ledgerEntries(store, dataset.id);
  assert.equal(rows.length, 1, 'key order does not matter');
  assert.deepEqual(rows[0]?.spec, { ...spec, steps: 150 });
  assert.equal(rows[0]?.delta, 1e-5);
  // New sigma: a new row.
  recordSpend(store, {
    datasetId: dataset.id,
    runId: run.id,
    spec: { ...spec, sigma: 2, steps: 10 },
    fromStep: 151,
    toStep: 160,
  });
  // Resume after a checkpoint at 140 replays 141..160 with fresh noise: paid again.
  recordSpend(store, {
    datasetId: dataset.id,
    runId: run.id,
    spec: { ...spec, sigma: 2 },
    fromStep: 141,
    toStep: 160,
  });
  rows = ledgerEntries(store, dataset.id);
  assert.deepEqual(
    rows.map((r) => [r.fromStep, r.toStep, r.spec.steps]),
    [
      [1, 150, 150],
      [151, 160, 10],
      [141, 160, 20],
    ],
  );
  assert.equal(stepsSpent(store, run.id), 180);
  assert.equal(rows[0]?.datasetName, 'Chest X-rays');
  assert.equal(rows[0]?.datasetFingerprint, dataset.fingerprint);
});

test('bad spends are refused and write nothing', (t) => {
  const { store } = tempStore(t);
  const { dataset, run } = seed(store);
  const other = insertDataset(store, datasetInput(store, 'Skin photos'));
  const base = { datasetId: dataset.id, runId: run.id, spec, fromStep: 1, toStep: 5 };
  assert.throws(() => recordSpend(store, { ...base, toStep: 0 }), code('INVALID_INPUT'));
  assert.throws(() => recordSpend(store, { ...base, spec: { ...spec, steps: 4 } }), /says 4 steps/);
  assert.throws(
    () => recordSpend(store, { ...base, spec: { blocks: 3 } as unknown as typeof spec }),
    code('INVALID_INPUT'),
  );
  assert.throws(
    () => recordSpend(store, { ...base, spec: { ...spec, sigma: Number.NaN } }),
    code('INVALID_INPUT'),
  );
  assert.throws(() => recordSpend(store, { ...base, datasetId: other.id }), /not on data set/);
  assert.throws(() => recordSpend(store, { ...base, runId: 99 }), code('NOT_FOUND'));
  assert.throws(() => recordSpend(store, { ...base, delta: 1 }), code('INVALID_INPUT'));
  assert.throws(
    () => store.db.transaction(() => recordSpend(store, base))(),
    /inside another transaction/,
  );
  assert.equal(stepsSpent(store, run.id), 0);
  assert.equal(
    store.db.pragma('synchronous', { simple: true }),
    1,
    'back to NORMAL after a refusal',
  );
});

test('ledger rows can be neither deleted nor rewritten, and outlive their data set', (t) => {
  const { store } = tempStore(t);
  const { dataset, run } = seed(store);
  recordSpend(store, { datasetId: dataset.id, runId: run.id, spec, fromStep: 1, toStep: 40 });
  assert.throws(() => store.db.prepare('DELETE FROM ledger').run(), /never deleted/);
  assert.throws(() => store.db.prepare('UPDATE ledger SET to_step = 10').run(), /only be extended/);
  assert.throws(() => store.db.prepare(`UPDATE ledger SET spec = '{}'`).run(), /only be extended/);
  assert.throws(() => store.db.prepare('DELETE FROM datasets').run(), /never deleted/);

  updateRunStatus(store, run.id, 'running');
  updateRunStatus(store, run.id, 'completed');
  deleteDataset(store, dataset.id);
  const rows = ledgerEntries(store, dataset.id);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.datasetDeleted, true);
  assert.equal(rows[0]?.datasetName, 'Chest X-rays');
  assert.equal(stepsSpent(store, run.id), 40);
  assert.throws(
    () =>
      recordSpend(store, { datasetId: dataset.id, runId: run.id, spec, fromStep: 41, toStep: 41 }),
    code('NOT_FOUND'),
  );

  // The same images imported again: the spent budget follows the fingerprint.
  const again = insertDataset(store, datasetInput(store, 'Chest X-rays'));
  const run2 = createRun(store, {
    datasetId: again.id,
    method: 'dpsgd',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  recordSpend(store, {
    datasetId: again.id,
    runId: run2.id,
    spec: { mechanism: 'dpsgd', q: 0.01, sigma: 1 },
    fromStep: 1,
    toStep: 5,
  });
  assert.deepEqual(
    ledgerEntriesByFingerprint(store, again.fingerprint).map((r) => [r.datasetId, r.spec.steps]),
    [
      [dataset.id, 40],
      [again.id, 5],
    ],
  );
  assert.equal(ledgerEntries(store, again.id).length, 1);
});
