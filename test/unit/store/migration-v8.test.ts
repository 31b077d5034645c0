/**
 * Schema v8 admits method `randp` (a private classifier) by replacing the
 * method triggers only; its model is the releasable kind 'classifier' v7
 * already admits. Rows are kept; unknown methods are still refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeStore, openStore } from '../../../src-main/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src-main/store/schema';
import { datasetInput, insertOldDataset, tempHome } from './helpers';

const RUN = `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at)
     VALUES (?, ?, '{}', '{}', 'completed', 1e-5, 'x')`;

test('v7 → v8: randp runs and their classifier admitted, rows kept, unknown methods still refused', (t) => {
  const path = join(tempHome(t), 'dp2.sqlite');
  const old = openStore({ path, migrations: MIGRATIONS.slice(0, 7) });
  const dataset = insertOldDataset(old, datasetInput(old));
  old.db.prepare(RUN).run(dataset.id, 'mepf');
  assert.throws(() => old.db.prepare(RUN).run(dataset.id, 'randp'), /unknown training method/);
  const before = old.db.prepare('SELECT * FROM runs ORDER BY id').all();
  closeStore(old);

  const store = openStore({ path });
  t.after(() => closeStore(store));
  const db = store.db;
  assert.ok(SCHEMA_VERSION >= 8);
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(db.prepare('SELECT * FROM runs ORDER BY id').all(), before);
  const run = Number(db.prepare(RUN).run(dataset.id, 'randp').lastInsertRowid);
  db.prepare(
    `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, bytes, created_at)
     VALUES (?, ?, 'classifier', 'releasable', '/h/runs/2/classifier', 10, 'x')`,
  ).run(dataset.id, run);
  assert.throws(() => db.prepare(RUN).run(dataset.id, 'gan'), /unknown training method/);
  assert.throws(
    () => db.prepare(`UPDATE runs SET method = 'gan' WHERE id = ?`).run(run),
    /unknown training method/,
  );
});
