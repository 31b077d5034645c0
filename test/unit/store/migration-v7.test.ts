/**
 * Schema v7 admits method `mepf` and its releasable `release` artifacts: the
 * artifacts table is rebuilt (its CHECKs list the kinds) keeping every row,
 * index and the trigger that keeps private artifacts private.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeStore, openStore } from '../../../src-main/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src-main/store/schema';
import { datasetInput, insertOldDataset, tempHome } from './helpers';

test('v6 → v7: artifacts kept with their indexes and trigger; mepf runs and release artifacts admitted', (t) => {
  const path = join(tempHome(t), 'dp2.sqlite');
  const old = openStore({ path, migrations: MIGRATIONS.slice(0, 6) });
  const dataset = insertOldDataset(old, datasetInput(old));
  const insertRun = old.db.prepare(
    `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at)
     VALUES (?, ?, '{}', '{}', 'completed', 1e-5, 'x')`,
  );
  const run = Number(insertRun.run(dataset.id, 'dpsgd').lastInsertRowid);
  const insertArtifact = old.db.prepare(
    `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, bytes, created_at)
     VALUES (?, ?, ?, ?, ?, 10, 'x')`,
  );
  insertArtifact.run(dataset.id, run, 'decoder', 'releasable', '/h/runs/1/decoder');
  insertArtifact.run(dataset.id, run, 'checkpoint', 'private', '/h/runs/1/checkpoints');
  assert.throws(() => insertRun.run(dataset.id, 'mepf'), /unknown training method/);
  assert.throws(
    () => insertArtifact.run(dataset.id, run, 'release', 'releasable', '/h/runs/1/release'),
    /CHECK constraint/,
    'schema 6 cannot store a release',
  );
  const before = old.db.prepare('SELECT * FROM artifacts ORDER BY id').all();
  closeStore(old);

  const store = openStore({ path });
  t.after(() => closeStore(store));
  const db = store.db;
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(db.prepare('SELECT * FROM artifacts ORDER BY id').all(), before);
  assert.deepEqual(db.pragma('foreign_key_check'), []);
  assert.deepEqual(
    db
      .prepare(
        `SELECT name FROM sqlite_schema WHERE tbl_name = 'artifacts' AND type IN ('index', 'trigger') ORDER BY name`,
      )
      .pluck()
      .all(),
    [
      'artifacts_dataset',
      'artifacts_live_path',
      'artifacts_private_stays_private',
      'artifacts_run',
    ],
  );
  const mepfRun = Number(
    db
      .prepare(
        `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at)
         VALUES (?, 'mepf', '{}', '{}', 'queued', 1e-5, 'x')`,
      )
      .run(dataset.id).lastInsertRowid,
  );
  const add = db.prepare(
    `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, bytes, created_at)
     VALUES (?, ?, ?, ?, ?, 10, 'x')`,
  );
  add.run(dataset.id, mepfRun, 'release', 'releasable', '/h/runs/2/release/release.json');
  assert.throws(() => add.run(dataset.id, mepfRun, 'gan', 'private', '/h/x'), /CHECK constraint/);
  assert.throws(
    () =>
      db.prepare(`UPDATE artifacts SET visibility = 'releasable' WHERE kind = 'checkpoint'`).run(),
    /can never become releasable/,
  );
  assert.throws(
    () => add.run(dataset.id, mepfRun, 'checkpoint', 'releasable', '/h/runs/2/c'),
    /CHECK constraint/,
  );
});
