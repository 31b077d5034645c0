/**
 * A process killed between creating a run and starting its worker leaves the
 * run 'queued'; the next start-up must not keep it queued forever (it would
 * block deleting its data set, and nothing could cancel it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceContext } from '../../../src-main/services/context';
import { closeStore, createRun, getRun, insertDataset, openStore } from '../../../src-main/store';
import { tempDir } from '../../support/temp';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

test('a run left queued by a process that died fails at the next start-up', (t) => {
  const tmp = tempDir('dp2-queued-');
  t.after(tmp.cleanup);
  const home = tmp.path;
  const path = join(home, 'dp2.sqlite');
  const store = openStore({ path, home });
  const ds = insertDataset(store, {
    name: 'Queued',
    fingerprint: 'sha256:queued',
    format: 'npz',
    preprocessing: {},
    splitSeed: 1,
    trainCount: 10,
    testCount: 2,
    classNames: ['a'],
    filesDir: 'datasets/queued',
  });
  const live = createRun(store, {
    datasetId: ds.id,
    method: 'dp2vae',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  // Another process creates a run and dies before its worker starts.
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import { openStore, createRun } from './src-main/store/index.ts';
       const s = openStore({ path: ${JSON.stringify(path)}, home: ${JSON.stringify(home)} });
       createRun(s, { datasetId: ${ds.id}, method: 'dp2vae', hyperparameters: {}, architecture: {}, delta: 1e-5 });
       process.kill(process.pid, 'SIGKILL');`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const dead = live.id + 1;
  assert.equal(getRun(store, dead).status, 'queued');

  const ctx = new ServiceContext(home);
  t.after(() => {
    ctx.close();
    closeStore(store);
  });
  const reopened = ctx.store;
  const run = getRun(reopened, dead);
  assert.equal(run.status, 'failed');
  assert.match(run.errorMessage ?? '', /stopped before this run began training/);
  // The first connection's run goes too: start-up treats an earlier connection of the same
  // process as gone, as it does for running runs.
  assert.equal(getRun(reopened, live.id).status, 'failed');
});
