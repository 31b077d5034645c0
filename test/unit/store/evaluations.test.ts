/**
 * Evaluations stored with their run in a real SQLite file: round trip, whole
 * or absent, newest first, refused when malformed, gone with the data set, and
 * the forward migration from schema 2 (before evaluations existed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import {
  SCHEMA_VERSION,
  closeStore,
  createRun,
  deleteDataset,
  getEvaluation,
  getRun,
  latestEvaluation,
  listEvaluations,
  openStore,
  saveEvaluation,
  updateRunStatus,
  type NewEvaluation,
} from '../../../src-main/store';
import { MIGRATIONS } from '../../../src-main/store/schema';
import { datasetInput, insertOldDataset, seed, tempHome, tempStore } from './helpers';

function evaluation(runId: number, extra: Partial<NewEvaluation> = {}): NewEvaluation {
  return {
    runId,
    protocol: 'dp2vae-table1',
    protocolVersion: 1,
    realTest: 'Chest X-rays',
    nSynthetic: 60_000,
    nTest: 10_000,
    seeds: [0, 1, 2],
    trainConfigs: { lr: { epochs: 3, batchSize: 128 } },
    lr: { mean: 78.4, std: 0.2, runs: [78.2, 78.4, 78.6] },
    mlp: null,
    cnn: { mean: 81.2, std: 0.5, runs: [81.7, 80.7, 81.2] },
    fidelity: {
      fld: 12.5,
      featureSpace: 'CNN trained on the real training split',
      featureDims: 64,
      extractorAccuracy: 97.3,
      precision: 0.6,
      recall: null,
      k: 3,
      perClass: [
        { label: 0, real: 1000, synthetic: 1000, precision: 0.7, recall: 0.5 },
        { label: 1, real: 3, synthetic: 1000, precision: 0.5, recall: null },
      ],
    },
    audit: {
      scorer: 'log p(x | y) under the decoder',
      members: 1000,
      nonMembers: 1000,
      auc: 0.503,
      fpr: 0.01,
      tprAtFpr: 0.012,
      achievedFpr: 0.01,
      bound: { epsilon: 9.87, delta: 1e-5, tprAtFpr: 1, auc: 0.9999 },
      exceedsBound: false,
    },
    backend: 'wasm',
    durationMs: 123_456,
    ...extra,
  };
}

function isUserError(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

const count = (store: ReturnType<typeof tempStore>['store'], table: string): number =>
  store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

test('an evaluation round-trips through the database file, per seed and per class', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const clock = () => new Date('2025-01-02T03:04:05.000Z');
  let store = openStore({ path, clock });
  const { run } = seed(store);
  const input = evaluation(run.id);
  const saved = saveEvaluation(store, input);
  closeStore(store);

  store = openStore({ path });
  t.after(() => closeStore(store));
  const back = getEvaluation(store, saved.id);
  assert.deepEqual(back, { ...input, id: saved.id, createdAt: '2025-01-02T03:04:05.000Z' });
  assert.deepEqual(saved, back);
  assert.equal(count(store, 'evaluation_accuracies'), 6, 'one row per classifier and seed');
  assert.equal(count(store, 'evaluation_classes'), 2);
  // Seeds come back in the evaluation's order, not sorted.
  const shuffled = saveEvaluation(
    store,
    evaluation(run.id, { seeds: [4, 0], lr: { mean: 50, std: 1, runs: [51, 49] }, cnn: null }),
  );
  assert.deepEqual(getEvaluation(store, shuffled.id)?.lr?.runs, [51, 49]);
  assert.deepEqual(getEvaluation(store, shuffled.id)?.seeds, [4, 0]);
});

test('protocol v3: the majority rate, balanced accuracies and real-vs-real fidelity round-trip; older rows read without them', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const details = {
    majorityLabel: 1,
    majorityRate: 11.35,
    imbalanced: false,
    balanced: { lr: { mean: 91.9, std: 0.1, runs: [91.8, 91.9, 92] } },
    reference: { fld: 0.02, precision: 0.8, recall: 0.79, nRealTrain: 60_000 },
    featureNetwork: 'protocol CNN trained on the real training split',
  };
  const v3 = saveEvaluation(store, evaluation(run.id, { protocolVersion: 3, details }));
  const back = getEvaluation(store, v3.id);
  assert.deepEqual(back?.details, details);
  assert.deepEqual(back?.trainConfigs, { lr: { epochs: 3, batchSize: 128 } });
  const v1 = saveEvaluation(store, evaluation(run.id));
  assert.equal(getEvaluation(store, v1.id)?.details, undefined);
  assert.deepEqual(getEvaluation(store, v1.id)?.trainConfigs, {
    lr: { epochs: 3, batchSize: 128 },
  });
  assert.throws(
    () =>
      saveEvaluation(
        store,
        evaluation(run.id, { protocolVersion: 3, details: { ...details, majorityRate: 120 } }),
      ),
    isUserError('INVALID_INPUT', /majority-class rate/),
  );
  assert.throws(
    () =>
      saveEvaluation(
        store,
        evaluation(run.id, {
          protocolVersion: 3,
          details: { ...details, balanced: { lr: { mean: 90, std: 0, runs: [90] } } },
        }),
      ),
    isUserError('INVALID_INPUT', /one value per seed/),
  );
  assert.equal(listEvaluations(store, run.id).length, 2, 'nothing half-written');
});

test('no fidelity and no audit are stored as absent, not as zeros', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const saved = saveEvaluation(store, evaluation(run.id, { fidelity: null, audit: null }));
  assert.equal(saved.fidelity, null);
  assert.equal(saved.audit, null);
  assert.equal(count(store, 'evaluation_classes'), 0);
});

test('latest and list: per run, newest first; none is undefined / empty', (t) => {
  const { store } = tempStore(t);
  const { run, dataset } = seed(store);
  const other = createRun(store, {
    datasetId: dataset.id,
    method: 'dp2vae',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  assert.equal(latestEvaluation(store, run.id), undefined);
  assert.deepEqual(listEvaluations(store, run.id), []);
  const first = saveEvaluation(store, evaluation(run.id));
  const second = saveEvaluation(store, evaluation(run.id, { nSynthetic: 100 }));
  saveEvaluation(store, evaluation(other.id, { nSynthetic: 7 }));
  assert.equal(latestEvaluation(store, run.id)?.id, second.id);
  assert.deepEqual(
    listEvaluations(store, run.id).map((e) => e.id),
    [second.id, first.id],
  );
  assert.equal(latestEvaluation(store, other.id)?.nSynthetic, 7);
  assert.throws(() => latestEvaluation(store, 999), isUserError('NOT_FOUND', /no run 999/));
});

test('whole or absent: a malformed evaluation writes nothing', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const bad: [Partial<NewEvaluation>, RegExp][] = [
    [{ lr: { mean: 78, std: 1, runs: [78] } }, /one value per seed/],
    [{ cnn: { mean: 101, std: 1, runs: [1, 2, 3] } }, /CNN accuracy \(mean\)/],
    [{ seeds: [] }, /at least one seed/],
    [{ seeds: [1, 1, 2] }, /must be different/],
    [{ fidelity: { ...evaluation(run.id).fidelity!, fld: Number.NaN } }, /Fréchet/],
    [{ audit: { ...evaluation(run.id).audit!, auc: 1.5 } }, /AUC/],
    [{ backend: '' }, /backend/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => saveEvaluation(store, evaluation(run.id, change)),
      isUserError('INVALID_INPUT', message),
    );
  }
  assert.throws(() => saveEvaluation(store, evaluation(999)), isUserError('NOT_FOUND'));
  // A failure inside the transaction (a duplicated class, caught by the primary key) rolls back
  // the evaluation row and its accuracies too.
  const duplicated = evaluation(run.id);
  const rows = duplicated.fidelity!.perClass;
  duplicated.fidelity!.perClass = [rows[0]!, { ...rows[0]!, label: 2 }, { ...rows[0]!, label: 2 }];
  assert.throws(() => saveEvaluation(store, duplicated), isUserError('INVALID_INPUT', /twice/));
  const trigger = `CREATE TEMP TRIGGER fail_classes BEFORE INSERT ON evaluation_classes
    BEGIN SELECT RAISE(ABORT, 'disk full'); END`;
  store.db.exec(trigger);
  assert.throws(() => saveEvaluation(store, evaluation(run.id)), /disk full/);
  store.db.exec('DROP TRIGGER fail_classes');
  for (const table of ['evaluations', 'evaluation_accuracies', 'evaluation_classes'])
    assert.equal(count(store, table), 0, `${table} untouched`);
});

test('the schema refuses half an audit or half a fidelity group', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  const id = saveEvaluation(store, evaluation(run.id)).id;
  assert.throws(
    () => store.db.prepare('UPDATE evaluations SET audit_tpr = NULL WHERE id = ?').run(id),
    /CHECK constraint failed/,
  );
  assert.throws(
    () => store.db.prepare('UPDATE evaluations SET feature_space = NULL WHERE id = ?').run(id),
    /CHECK constraint failed/,
  );
  assert.throws(
    () => store.db.prepare('UPDATE evaluations SET lr_std = NULL WHERE id = ?').run(id),
    /CHECK constraint failed/,
  );
});

test('deleting a data set deletes the evaluations of its runs (private figures)', (t) => {
  const { store } = tempStore(t);
  const { run, dataset } = seed(store);
  const keep = seed(store, 'Other images');
  saveEvaluation(store, evaluation(run.id));
  saveEvaluation(store, evaluation(keep.run.id));
  updateRunStatus(store, run.id, 'cancelled');
  deleteDataset(store, dataset.id);
  assert.deepEqual(listEvaluations(store, run.id), []);
  assert.equal(listEvaluations(store, keep.run.id).length, 1);
  assert.equal(count(store, 'evaluation_accuracies'), 6, 'only the kept evaluation’s rows');
  assert.equal(count(store, 'evaluation_classes'), 2);
});

test('migration from schema 2: data kept, evaluations table added, version bumped', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  assert.ok(SCHEMA_VERSION >= 8);
  const old = openStore({ path, migrations: MIGRATIONS.slice(0, 2) });
  const dataset = insertOldDataset(old, datasetInput(old));
  // A run row as schema 2 had it (createRun writes today's columns).
  const run = {
    id: Number(
      old.db
        .prepare(
          `INSERT INTO runs (dataset_id, method, hyperparameters, architecture, status, delta, created_at)
           VALUES (?, 'dp2vae', '{"blocks":10}', '{}', 'queued', 1e-5, '2026-01-01T00:00:00.000Z')`,
        )
        .run(dataset.id).lastInsertRowid,
    ),
  };
  assert.equal(old.db.pragma('user_version', { simple: true }), 2);
  const before = old.db
    .prepare(`SELECT name FROM sqlite_schema WHERE name LIKE 'evaluation%'`)
    .pluck()
    .all();
  assert.deepEqual(before, []);
  closeStore(old);

  const store = openStore({ path });
  t.after(() => closeStore(store));
  assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(getRun(store, run.id).hyperparameters, { blocks: 10 });
  const saved = saveEvaluation(store, evaluation(run.id));
  assert.equal(latestEvaluation(store, run.id)?.id, saved.id);
  const strict = store.db
    .prepare(`SELECT sql FROM sqlite_schema WHERE name = 'evaluations'`)
    .pluck()
    .get() as string;
  assert.match(strict, /\) STRICT$/);
});
