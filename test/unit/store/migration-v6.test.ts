/**
 * Schema v6 rebuilds the runs table (a CHECK constraint on the method cannot
 * be altered) so that per-record DP²-VAE runs can be stored: every row and
 * every reference to it survives, foreign keys are enforced again after,
 * and the method is still refused when unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeStore, openStore } from '../../../src-main/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src-main/store/schema';
import { datasetInput, insertOldDataset, tempHome } from './helpers';

test('v5 → v6: runs and the rows that reference them are kept; unknown methods still refused', (t) => {
  const path = join(tempHome(t), 'dp2.sqlite');
  const old = openStore({ path, migrations: MIGRATIONS.slice(0, 5) });
  const dataset = insertOldDataset(old, datasetInput(old));
  const insertRun = old.db.prepare(
    `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at, owner, duration_ms)
     VALUES (?, ?, '{"blocks":10}', '{}', 'completed', 1e-5, '2026-01-01T00:00:00.000Z', 'me', 1234)`,
  );
  const runA = Number(insertRun.run(dataset.id, 'dp2vae').lastInsertRowid);
  const runB = Number(insertRun.run(dataset.id, 'dpsgd').lastInsertRowid);
  old.db
    .prepare(
      `INSERT INTO ledger (dataset_id, run_id, spec, from_step, to_step, delta, recorded_at, updated_at)
       VALUES (?, ?, '{"mechanism":"dpsgd","sampleRate":0.1,"sigma":1,"steps":5}', 1, 5, 1e-5, 'x', 'x')`,
    )
    .run(dataset.id, runB);
  assert.throws(
    () => insertRun.run(dataset.id, 'dp2vae-per-record'),
    /CHECK constraint/,
    'schema 5 cannot store the new method',
  );
  const before = old.db.prepare('SELECT * FROM runs ORDER BY id').all();
  closeStore(old);

  const store = openStore({ path });
  t.after(() => closeStore(store));
  const db = store.db;
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(
    db.prepare('SELECT * FROM runs ORDER BY id').all(),
    before,
    'every run row as it was',
  );
  assert.deepEqual(db.pragma('foreign_key_check'), []);
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys enforced again');
  const ledger = db.prepare('SELECT run_id FROM ledger').pluck().all();
  assert.deepEqual(ledger, [runB]);
  const indexes = db
    .prepare(
      `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name`,
    )
    .pluck()
    .all();
  assert.deepEqual(indexes, ['runs_dataset', 'runs_status']);

  const insert = db.prepare(
    `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at)
     VALUES (?, ?, '{}', '{}', 'queued', 1e-5, 'x')`,
  );
  assert.ok(Number(insert.run(dataset.id, 'dp2vae-per-record').lastInsertRowid) > runB);
  assert.throws(() => insert.run(dataset.id, 'gan'), /unknown training method/);
  assert.throws(
    () => db.prepare(`UPDATE runs SET method = 'gan' WHERE id = ?`).run(runA),
    /unknown training method/,
  );
  assert.throws(() => insert.run(999, 'dpsgd'), /FOREIGN KEY/, 'references still checked');
  assert.throws(
    () => db.prepare('DELETE FROM runs WHERE id = ?').run(runB),
    /FOREIGN KEY/,
    'a run with ledger rows cannot vanish',
  );
});
