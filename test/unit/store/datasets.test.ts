import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import {
  getDataset,
  insertDataset,
  listDatasets,
  setBudgetCap,
  findDataset,
} from '../../../src-main/store';
import { datasetInput, tempStore } from './helpers';

const code = (c: string) => (err: unknown) => err instanceof UserError && err.code === c;

test('a data set is stored and found by id or by name in any case', (t) => {
  const { store } = tempStore(t, () => new Date('2024-05-01T10:00:00Z'));
  const ds = insertDataset(store, datasetInput(store));
  assert.equal(ds.name, 'Chest X-rays');
  assert.deepEqual(ds.preprocessing, { size: [28, 28], grayscale: true });
  assert.deepEqual(ds.classNames, ['normal', 'pneumonia']);
  assert.equal(ds.createdAt, '2024-05-01T10:00:00.000Z');
  assert.equal(ds.filesDir, join(store.home, 'datasets', 'Chest_X_rays'));
  assert.equal(
    store.db.prepare('SELECT files_dir FROM datasets').pluck().get(),
    'datasets/Chest_X_rays',
  );
  assert.equal(getDataset(store, ds.id).id, ds.id);
  assert.equal(getDataset(store, String(ds.id)).id, ds.id);
  assert.equal(getDataset(store, 'CHEST x-RAYS').id, ds.id);
  assert.equal(findDataset(store, 'nothing'), undefined);
  assert.throws(() => getDataset(store, 'nothing'), code('NOT_FOUND'));
  assert.deepEqual(
    listDatasets(store).map((d) => d.id),
    [ds.id],
  );
});

test('names are unique ignoring case, Unicode case and surrounding spaces', (t) => {
  const { store } = tempStore(t);
  insertDataset(store, datasetInput(store, 'Éclairs'));
  assert.throws(
    () => insertDataset(store, { ...datasetInput(store, 'éCLAIRS'), filesDir: 'other' }),
    code('ALREADY_EXISTS'),
  );
  assert.throws(
    () =>
      insertDataset(store, { ...datasetInput(store, 'x'), name: '  ÉCLAIRS ', filesDir: 'other2' }),
    code('ALREADY_EXISTS'),
  );
  assert.equal(listDatasets(store).length, 1);
});

test('bad data set inputs are refused with plain messages', (t) => {
  const { store } = tempStore(t);
  const ok = datasetInput(store, 'Good');
  assert.throws(() => insertDataset(store, { ...ok, name: '' }), code('INVALID_INPUT'));
  assert.throws(() => insertDataset(store, { ...ok, name: '123' }), /only digits/);
  assert.throws(() => insertDataset(store, { ...ok, trainCount: -1 }), code('INVALID_INPUT'));
  assert.throws(() => insertDataset(store, { ...ok, budgetDelta: 2 }), code('INVALID_INPUT'));
  assert.throws(() => insertDataset(store, { ...ok, budgetEpsilon: 0 }), code('INVALID_INPUT'));
  assert.throws(
    () => insertDataset(store, { ...ok, preprocessing: { scale: Number.NaN } }),
    code('INVALID_INPUT'),
  );
  assert.throws(
    () => insertDataset(store, { ...ok, filesDir: '/etc' }),
    /not inside the data folder/,
  );
  assert.throws(
    () => insertDataset(store, { ...ok, filesDir: '../outside' }),
    /not inside the data folder/,
  );
  assert.throws(() => insertDataset(store, { ...ok, filesDir: store.home }), code('INVALID_INPUT'));
  insertDataset(store, ok);
  assert.throws(
    () =>
      insertDataset(store, {
        ...datasetInput(store, 'Nested'),
        filesDir: join(ok.filesDir, 'inner'),
      }),
    /overlaps the folder/,
  );
  assert.equal(listDatasets(store).length, 1);
});

test('the budget cap can be set and removed', (t) => {
  const { store } = tempStore(t);
  const ds = insertDataset(store, datasetInput(store));
  assert.equal(setBudgetCap(store, ds.id, { epsilon: 3, delta: 1e-6 }).budgetEpsilon, 3);
  assert.equal(getDataset(store, ds.id).budgetDelta, 1e-6);
  assert.equal(setBudgetCap(store, 'chest x-rays', { epsilon: null }).budgetEpsilon, null);
  assert.equal(getDataset(store, ds.id).budgetDelta, 1e-6);
  assert.throws(() => setBudgetCap(store, ds.id, { epsilon: -1 }), code('INVALID_INPUT'));
  assert.throws(() => setBudgetCap(store, 'missing', { epsilon: 1 }), code('NOT_FOUND'));
});
