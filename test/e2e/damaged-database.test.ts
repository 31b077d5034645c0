// A damaged database, seen as the analyst sees it: the app opens, says in a
// banner that the database was replaced and what privacy spend it restored
// from the ledger journal, and the data set's ledger still counts every step.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { closeStore, createRun, openStore, recordSpend } from '../../src-main/store';
import { mnistDataset } from '../integration/jobs/helpers';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { tempDir } from '../support/temp';

let home: ReturnType<typeof tempDir>;
let harness: Harness | undefined;

before(async () => {
  home = tempDir();
  const path = join(home.path, 'dp2.sqlite');
  const store = openStore({ path, home: home.path });
  const ds = await mnistDataset(store, 'Ward 7', 40, { epsilon: 9 });
  const runId = createRun(store, {
    datasetId: ds.id,
    method: 'dpsgd',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  }).id;
  recordSpend(store, {
    datasetId: ds.id,
    runId,
    spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma: 1.2 },
    fromStep: 1,
    toStep: 75,
  });
  closeStore(store);
  // Damage: garbage over the header and every page.
  const size = readFileSync(path).length;
  const fd = openSync(path, 'r+');
  for (let at = 0; at < size; at += 4096) writeSync(fd, Buffer.alloc(256, 0xa5), 0, 256, at);
  closeSync(fd);
});

after(async () => {
  await harness?.close();
  home?.cleanup();
});

test('the app says the database was replaced and what spend it restored', async () => {
  harness = await startHarness({ dataHome: home.path });
  const { page } = harness;
  const notices = page.getByTestId('app-notice');
  await notices.first().waitFor();
  assert.equal(await notices.count(), 2);
  assert.match((await notices.nth(0).textContent()) ?? '', /is damaged.*kept, unchanged/s);
  assert.match(
    (await notices.nth(1).textContent()) ?? '',
    /restored from the ledger journal: 75 steps of 1 run\(s\) on 1 data set\(s\); back in the list: “Ward 7”/,
  );
  await harness.screenshot('damaged-database-notice');

  await page.getByRole('button', { name: 'Data sets' }).click();
  await page.getByRole('heading', { name: 'Data sets', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'View the privacy ledger of Ward 7' }).click();
  await page.getByTestId('ledger').waitFor();
  assert.match(
    (await page.getByTestId('ledger-total').textContent()) ?? '',
    /over 1\s+run and 75 training\s+steps.*Cap: ε 9/s,
  );
  assert.match(
    (await page.getByTestId('ledger-relation').textContent()) ?? '',
    /adding or removing one image/,
  );
  await harness.screenshot('damaged-database-ledger');
  // Dismissed, the banner goes; nothing else depends on it.
  await notices.first().getByRole('button', { name: 'Dismiss' }).click();
  assert.equal(await notices.count(), 1);
});
