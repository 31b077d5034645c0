/**
 * A worker that cannot train reports why in plain words; the run fails with
 * that message and nothing is released or paid for.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTraining } from '../../../src-main/jobs/runner';
import { getRun, listArtifacts, stepsSpent } from '../../../src-main/store';
import { mnistDataset, recorder, SMALL, tempHome } from './helpers';

test('damaged data set files: the run fails with the worker’s plain message', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'damaged', 110);
  await writeFile(join(ds.filesDir, 'train_x.npy'), 'not an array');
  const { events, onEvent } = recorder();
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'damaged',
    method: 'dp2vae',
    targetEpsilon: 5,
    preset: 'quick',
    overrides: SMALL,
    onEvent,
  });
  const outcome = await handle.done;
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.error?.code, 'CORRUPT_DATA');
  assert.match(outcome.error!.message, /train_x\.npy/);
  const run = getRun(store, handle.runId);
  assert.equal(run.status, 'failed');
  assert.equal(run.errorMessage, outcome.error!.message);
  assert.equal(stepsSpent(store, run.id), 0);
  assert.equal(listArtifacts(store, { runId: run.id, visibility: 'releasable' }).length, 0);
  assert.ok(events.some((e) => e.type === 'error'));
});
