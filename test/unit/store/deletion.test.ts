import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import {
  appendMetrics,
  findDataset,
  getDataset,
  getMetrics,
  getRun,
  insertDataset,
  latestCheckpoint,
  listArtifacts,
  listDatasets,
  purgePendingRemovals,
  recordCheckpoint,
  recordSampleGrid,
  recordSpend,
  registerArtifact,
  sampleGridSteps,
  updateRunStatus,
  deleteDataset,
  ledgerEntries,
} from '../../../src-main/store';
import type { Store } from '../../../src-main/store';
import { datasetInput, seed, tempStore, writeFile } from './helpers';

function populate(store: Store) {
  const { dataset, run } = seed(store);
  const h = store.home;
  updateRunStatus(store, run.id, 'running');
  recordSpend(store, {
    datasetId: dataset.id,
    runId: run.id,
    spec: { mechanism: 'dp2vae', sigma: 1 },
    fromStep: 1,
    toStep: 30,
  });
  appendMetrics(store, run.id, [{ stage: 'stage2', step: 1, name: 'loss', value: 0.5 }]);
  const ckpt = writeFile(join(h, 'runs/1/private/ckpt-30.bin'), 'encoder state');
  recordCheckpoint(store, { runId: run.id, stage: 'stage2', step: 30, path: ckpt, bytes: 13 });
  const enc = writeFile(join(h, 'runs/1/private/encoders.bin'), 'encoders');
  registerArtifact(store, { kind: 'encoders', runId: run.id, path: enc });
  const thumbs = writeFile(join(h, 'thumbs/1/a.png'), 'thumb');
  registerArtifact(store, { kind: 'thumbnails', datasetId: dataset.id, path: join(h, 'thumbs/1') });
  const dec = writeFile(join(h, 'runs/1/release/decoder/model.json'), '{}');
  registerArtifact(store, {
    kind: 'decoder',
    runId: run.id,
    path: join(h, 'runs/1/release/decoder'),
  });
  const cert = writeFile(join(h, 'runs/1/release/certificate.json'), '{"epsilon":3}');
  registerArtifact(store, { kind: 'certificate', runId: run.id, path: cert });
  const samples = writeFile(join(h, 'runs/1/release/samples.npz'), 'npz');
  registerArtifact(store, { kind: 'samples', runId: run.id, path: samples });
  recordSampleGrid(store, {
    runId: run.id,
    step: 30,
    png: Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  });
  updateRunStatus(store, run.id, 'completed');
  return { dataset, run, ckpt, enc, thumbs, dec, cert, samples };
}

test('deleting a data set removes its private files and keeps releases and the ledger', (t) => {
  const { store } = tempStore(t);
  const p = populate(store);
  const other = insertDataset(store, datasetInput(store, 'Other'));
  const result = deleteDataset(store, 'chest x-rays');

  for (const gone of [p.dataset.filesDir, p.ckpt, p.enc, p.thumbs])
    assert.ok(!existsSync(gone), gone);
  for (const kept of [p.dec, p.cert, p.samples, other.filesDir]) assert.ok(existsSync(kept), kept);
  assert.deepEqual(result.notRemoved, []);
  assert.ok(result.removed.includes(p.dataset.filesDir));
  assert.deepEqual(result.keptArtifacts.map((a) => a.kind).sort(), [
    'certificate',
    'decoder',
    'samples',
  ]);
  assert.ok(result.dataset.deletedAt);

  assert.equal(findDataset(store, 'Chest X-rays'), undefined);
  assert.equal(getDataset(store, p.dataset.id, { includeDeleted: true }).name, 'Chest X-rays');
  assert.deepEqual(
    listDatasets(store).map((d) => d.name),
    ['Other'],
  );
  assert.equal(ledgerEntries(store, p.dataset.id).length, 1);
  assert.equal(getRun(store, p.run.id).status, 'completed');
  assert.equal(latestCheckpoint(store, p.run.id), undefined);
  assert.deepEqual(getMetrics(store, p.run.id), []);
  assert.deepEqual(sampleGridSteps(store, p.run.id), [30]);
  assert.deepEqual(listArtifacts(store, { datasetId: p.dataset.id, visibility: 'private' }), []);
  assert.equal(
    listArtifacts(store, { datasetId: p.dataset.id, visibility: 'private', includeDeleted: true })
      .length,
    2,
  );
  // The name is free again.
  insertDataset(store, datasetInput(store, 'Chest X-rays'));
});

test('deletion is refused while a run is active, and cancels interrupted runs', (t) => {
  const { store } = tempStore(t);
  const { dataset, run } = seed(store);
  assert.throws(
    () => deleteDataset(store, dataset.id),
    (e) => e instanceof UserError && /Cancel it/.test(e.message),
  );
  updateRunStatus(store, run.id, 'running');
  updateRunStatus(store, run.id, 'interrupted');
  assert.deepEqual(deleteDataset(store, dataset.id).cancelledRuns, [run.id]);
  assert.equal(getRun(store, run.id).status, 'cancelled');
  assert.throws(
    () => deleteDataset(store, dataset.id),
    (e) => e instanceof UserError && e.code === 'NOT_FOUND',
  );
});

test('a failure in the middle of a deletion writes nothing and removes no file', (t) => {
  const { store } = tempStore(t);
  const p = populate(store);
  // Sabotage the last statement of the transaction (the tombstone).
  store.db.exec(
    `CREATE TRIGGER sabotage BEFORE UPDATE OF deleted_at ON datasets BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`,
  );
  assert.throws(() => deleteDataset(store, p.dataset.id), /disk on fire/);
  assert.equal(getDataset(store, p.dataset.id).deletedAt, null);
  assert.equal(listArtifacts(store, { visibility: 'private' }).length, 2);
  assert.ok(latestCheckpoint(store, p.run.id));
  assert.equal(getMetrics(store, p.run.id).length, 1);
  assert.equal(store.db.prepare('SELECT count(*) FROM pending_removals').pluck().get(), 0);
  for (const f of [p.dataset.filesDir, p.ckpt, p.enc, p.thumbs]) assert.ok(existsSync(f), f);
});

test('removals that could not happen stay queued and are retried', (t) => {
  const { store } = tempStore(t);
  const p = populate(store);
  // A releasable file wrongly placed inside the data set folder (bypassing the API) blocks its removal.
  const stray = join(p.dataset.filesDir, 'stray-samples.npz');
  writeFile(stray, 'x');
  store.db
    .prepare(
      `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, created_at) VALUES (?, ?, 'samples', 'releasable', ?, 'now')`,
    )
    .run(p.dataset.id, p.run.id, 'datasets/Chest_X_rays/stray-samples.npz');
  const result = deleteDataset(store, p.dataset.id);
  assert.equal(result.notRemoved.length, 1);
  assert.match(result.notRemoved[0]?.reason ?? '', /releasable samples/);
  assert.ok(existsSync(stray));
  store.db.prepare(`UPDATE artifacts SET deleted_at = 'now' WHERE path LIKE '%stray%'`).run();
  const retry = purgePendingRemovals(store);
  assert.deepEqual(retry.removed, [p.dataset.filesDir]);
  assert.ok(!existsSync(p.dataset.filesDir));
  assert.deepEqual(purgePendingRemovals(store), { removed: [], notRemoved: [] });
  mkdirSync(p.dataset.filesDir, { recursive: true }); // keep helpers' cleanup simple
});
