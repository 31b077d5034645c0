/**
 * Spent privacy survives a damaged database: every spend is also written to
 * the ledger journal beside the database, and a new database restores every
 * data set's spend from it. The app (here: its `dp2` command line and the
 * app.info channel) says what it restored.
 */
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spendWithinCap } from '../../../src-main/jobs/spend';
import { ServiceContext } from '../../../src-main/services/context';
import { createServices } from '../../../src-main/services/create-services';
import { ledgerTotal } from '../../../src-main/services/ledger-total';
import {
  closeStore,
  createRun,
  deleteDataset,
  getDataset,
  journalPath,
  ledgerEntriesByFingerprint,
  listDatasets,
  openStore,
  recordSpend,
  updateRunStatus,
  type Store,
} from '../../../src-main/store';
import { mnistDataset } from '../jobs/helpers';
import { runCliCaptured as dp2 } from '../../support/run-cli';
import { tempDir } from '../../support/temp';

const DELTA = 1e-5;

function run(store: Store, datasetId: number, method: 'dp2vae' | 'dpsgd'): number {
  return createRun(store, {
    datasetId,
    method,
    hyperparameters: {},
    architecture: {},
    delta: DELTA,
  }).id;
}

/** Overwrites pages in the middle of the file: SQLite finds the damage. */
function damage(path: string): void {
  const size = readFileSync(path).length;
  const fd = openSync(path, 'r+');
  try {
    for (let at = 4096; at < size; at += 4096) writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, at);
    writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
  } finally {
    closeSync(fd);
  }
}

test('a damaged database: the new one restores every data set’s spend from the journal', async () => {
  const tmp = tempDir();
  const home = tmp.path;
  const path = join(home, 'dp2.sqlite');
  let store = openStore({ path, home });
  const a = await mnistDataset(store, 'ward a', 30, { epsilon: 20 });
  const b = await mnistDataset(store, 'ward b', 30, { epsilon: null }, 30);
  const c = await mnistDataset(store, 'old ward', 30, { epsilon: null }, 60);
  const ra = run(store, a.id, 'dpsgd');
  for (let s = 1; s <= 40; s += 10)
    spendWithinCap(store, {
      datasetId: a.id,
      runId: ra,
      noise: { mechanism: 'dpsgd', sampleRate: 0.05, sigma: 1.1 },
      fromStep: s,
      toStep: s + 9,
      delta: DELTA,
    });
  const rb = run(store, b.id, 'dp2vae');
  recordSpend(store, {
    datasetId: b.id,
    runId: rb,
    spec: { mechanism: 'dp2vae', blocks: 10, sigma: 2 },
    fromStep: 1,
    toStep: 25,
  });
  // A resumed run replays steps: they are paid again, and stay paid.
  recordSpend(store, {
    datasetId: b.id,
    runId: rb,
    spec: { mechanism: 'dp2vae', blocks: 10, sigma: 2 },
    fromStep: 21,
    toStep: 30,
  });
  const rc = run(store, c.id, 'dpsgd');
  recordSpend(store, {
    datasetId: c.id,
    runId: rc,
    spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma: 1 },
    fromStep: 1,
    toStep: 5,
  });
  updateRunStatus(store, rc, 'failed', { errorMessage: 'stopped' });
  await deleteDataset(store, 'old ward');
  const before = [a, b, c].map((d) =>
    ledgerTotal(ledgerEntriesByFingerprint(store, d.fingerprint), DELTA),
  );
  closeStore(store);
  // A crash while a spend was being journalled leaves a torn last line.
  appendFileSync(journalPath(path), '{"v":1,"db":"torn","dataset":{"fing');

  damage(path);
  assert.throws(() => openStore({ path, home }), { code: 'CORRUPT_DATA' });
  store = openStore({ path, home });
  try {
    assert.deepEqual(store.restored?.datasets, [
      { name: 'ward a', live: true },
      { name: 'ward b', live: true },
      { name: 'old ward', live: false },
    ]);
    assert.equal(store.restored?.steps, 40 + 25 + 10 + 5);
    const after = [a, b, c].map((d) =>
      ledgerTotal(ledgerEntriesByFingerprint(store, d.fingerprint), DELTA),
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(after[i]?.steps, before[i]?.steps);
      assert.ok(Math.abs((after[i]?.epsilon ?? 0) - (before[i]?.epsilon ?? 0)) < 1e-9);
      assert.ok((after[i]?.epsilon ?? 0) > 0);
    }
    // The live data sets are back with their caps and public ids; the deleted one stays deleted.
    assert.deepEqual(
      listDatasets(store).map((d) => [d.name, d.budgetEpsilon, d.publicId]),
      [
        ['ward a', 20, a.publicId],
        ['ward b', null, b.publicId],
      ],
    );
    assert.equal(getDataset(store, 'ward a').fingerprint, a.fingerprint);
    // The cap keeps counting: spending on "ward a" continues from the restored total.
    const next = run(store, getDataset(store, 'ward a').id, 'dpsgd');
    const granted = spendWithinCap(store, {
      datasetId: getDataset(store, 'ward a').id,
      runId: next,
      noise: { mechanism: 'dpsgd', sampleRate: 0.05, sigma: 1.1 },
      fromStep: 1,
      toStep: 10,
      delta: DELTA,
    });
    assert.equal(granted, 10);
  } finally {
    closeStore(store);
  }
  // Opening again restores nothing twice.
  store = openStore({ path, home });
  assert.equal(store.restored, undefined);
  assert.equal(
    ledgerTotal(ledgerEntriesByFingerprint(store, a.fingerprint), DELTA).steps,
    50,
    'the restored 40 steps and the 10 after it',
  );
  closeStore(store);
  tmp.cleanup();
});

test('the app and the command line say what was restored', async () => {
  const tmp = tempDir();
  const home = tmp.path;
  const path = join(home, 'dp2.sqlite');
  const store = openStore({ path, home });
  const ds = await mnistDataset(store, 'ward', 30, { epsilon: null });
  recordSpend(store, {
    datasetId: ds.id,
    runId: run(store, ds.id, 'dpsgd'),
    spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma: 1 },
    fromStep: 1,
    toStep: 12,
  });
  closeStore(store);
  damage(path);

  const ctx = new ServiceContext(home);
  try {
    const info = await createServices(ctx)['app.info']({}, {});
    assert.equal(info.notices.length, 2, info.notices.join('\n'));
    assert.match(info.notices[0] ?? '', /is damaged.*kept, unchanged/);
    assert.match(info.notices[1] ?? '', /restored from the ledger journal: 12 steps of 1 run\(s\)/);
    assert.match(info.notices[1] ?? '', /“ward”/);
    const again = await createServices(ctx)['app.info']({}, {});
    assert.deepEqual(again.notices, [], 'said once');
  } finally {
    ctx.close();
  }
  const ledger = await dp2(['ledger', '--dataset', 'ward'], { env: { DP2_HOME: home } });
  assert.equal(ledger.status, 0, ledger.stderr);
  assert.match(ledger.stdout, /over 12 steps in 1 run/);
  tmp.cleanup();
});
