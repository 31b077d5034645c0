/**
 * Two processes on one data folder: a start-up's clean-up removes only the
 * imports whose process is gone, and the data-set folders no row owns (an
 * import killed between its rename and its row). Real child processes hold
 * imports half-way; `kill -9` makes them abandoned.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { dispatch } from '../../../src-main/contract/dispatch';
import { ServiceContext } from '../../../src-main/services/context';
import { createServices } from '../../../src-main/services/create-services';
import { closeStore, insertDataset, listDatasets, openStore } from '../../../src-main/store';
import { datasetInput, tempHome, writeFile } from '../../unit/store/helpers';
import { classFolderFiles, writeTree } from '../../unit/data/helpers';

const HOLDER = join(import.meta.dirname, 'import-holder.ts');

/** Starts a process that holds an import at `stage`; resolves with it and the import's id. */
async function holdImport(
  t: TestContext,
  home: string,
  stage: 'staging' | 'renamed',
): Promise<{ child: ChildProcess; id: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, home, stage], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const id = /^ready (\S+)$/.exec(line)?.[1];
  assert.ok(id, `the holder said ${line}`);
  return { child, id };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Opens the data folder the way the app and `dp2` do (with the start-up clean-up). */
function startUp(home: string): void {
  const ctx = new ServiceContext(home);
  void ctx.store;
  ctx.close();
}

function datasetsFolder(home: string): string[] {
  return readdirSync(join(home, 'datasets')).sort();
}

test('a second start-up leaves the imports of a live process alone', async (t) => {
  const home = tempHome(t);
  startUp(home);
  const writing = await holdImport(t, home, 'staging');
  const recording = await holdImport(t, home, 'renamed');

  startUp(home);

  const left = datasetsFolder(home);
  assert.ok(left.includes(`.importing-${writing.id}`), `the import being written stays: ${left}`);
  assert.ok(left.includes(recording.id), 'the renamed folder of a live import stays');
  assert.equal(left.filter((n) => n.includes('.owner_')).length, 2, 'their claims stay');

  // Once their processes are gone, the next start-up removes all of it.
  await kill(writing.child);
  await kill(recording.child);
  startUp(home);
  assert.deepEqual(datasetsFolder(home), []);
});

test('an import killed between its rename and its row leaves nothing after the next start-up', async (t) => {
  const home = tempHome(t);
  startUp(home);
  const store = openStore({ path: join(home, 'dp2.sqlite') });
  const ownedId = randomUUID();
  const ownedDir = join(home, 'datasets', ownedId);
  insertDataset(store, datasetInput(store, 'Recorded', { filesDir: ownedDir }));
  writeFile(join(ownedDir, 'train_x.npy'), 'recorded pixels');
  closeStore(store);
  const crashed = await holdImport(t, home, 'renamed');
  await kill(crashed.child);
  assert.ok(datasetsFolder(home).includes(crashed.id));

  startUp(home);

  // 'Recorded' is a folder datasetInput made: not a name imports give, so never touched.
  assert.deepEqual(datasetsFolder(home), [ownedId, 'Recorded'].sort());
  assert.ok(existsSync(join(ownedDir, 'train_x.npy')), 'a folder owned by a row stays whole');
});

test('a real import leaves its folder, owned by its row, and no claim', async (t) => {
  const home = tempHome(t);
  const images = join(home, 'images');
  await writeTree(images, classFolderFiles(['normal', 'effusion'], 6));
  const ctx = new ServiceContext(home);
  t.after(() => ctx.close());
  const handlers = createServices(ctx);
  const reply = await dispatch(handlers, 'datasets.import', { path: images, name: 'Ward' });
  assert.ok(reply.ok, JSON.stringify(reply));
  const [dataset] = listDatasets(ctx.store);
  assert.ok(dataset && existsSync(dataset.filesDir));
  assert.deepEqual(datasetsFolder(home), [dataset.filesDir.split(/[\\/]/).pop()]);
  startUp(home);
  assert.ok(existsSync(join(dataset.filesDir, 'dataset.json')), 'a start-up keeps it');
});
