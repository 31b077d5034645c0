// Closing the app during training and opening it again: the run is listed as
// interrupted, resumes from its last checkpoint when asked, and its privacy
// ledger keeps every step paid before the close.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dp2Api } from '../../src-main/contract';
import { dispatch } from '../../src-main/contract/dispatch';
import { ServiceContext } from '../../src-main/services/context';
import { createServices } from '../../src-main/services/create-services';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { tempDir } from '../support/temp';
import { writeDigitFolder } from '../support/digits';

declare global {
  interface Window {
    dp2: Dp2Api;
  }
}

const SCHEDULE = { checkpointEvery: 25, gridEvery: 50, gridPerClass: 2, epsilonEvery: 5 };
let home: ReturnType<typeof tempDir>;
let images: ReturnType<typeof tempDir>;
let harness: Harness | undefined;

before(() => {
  home = tempDir();
  images = tempDir('dp2-e2e-restart-');
  writeDigitFolder(images.path, 15);
});

after(async () => {
  await harness?.close();
  home?.cleanup();
  images?.cleanup();
});

test('a run closed mid-training is listed as interrupted and resumes with its ledger intact', async () => {
  harness = await startHarness({ dataHome: home.path, schedule: SCHEDULE });
  const started = await harness.page.evaluate(async (path) => {
    const imported = await window.dp2.datasets.import({ path, name: 'Restart ward' });
    if (!imported.ok) return imported;
    return window.dp2.runs.start({
      dataset: 'Restart ward',
      method: 'dp2vae',
      preset: 'quick',
      epsilon: 8,
      overrides: { blocks: 3, steps: 600, pretrainEpochs: 1, batchSize: 16, seed: 5 },
    });
  }, images.path);
  assert.ok(started.ok, JSON.stringify(started));
  const runId = started.value.runId;

  // Let it get well into the private stage, past a checkpoint.
  let paidBefore = 0;
  for (let i = 0; i < 600 && paidBefore < 80; i++) {
    await harness.page.waitForTimeout(200);
    const shown = await harness.page.evaluate((id) => window.dp2.runs.show({ runId: id }), runId);
    if (shown.ok) paidBefore = shown.value.stepsPaid;
  }
  assert.ok(paidBefore >= 80, `paid ${paidBefore} steps before the close`);
  await harness.close();
  harness = undefined;
  // The ledger as the closed app left it, read without the app's start-up housekeeping.
  const reader = new ServiceContext(home.path, { housekeeping: false });
  const ledgerBefore = await dispatch(createServices(reader), 'datasets.ledger', {
    name: 'Restart ward',
  });
  reader.close();
  assert.ok(ledgerBefore.ok);
  assert.ok(ledgerBefore.value.total.steps >= paidBefore);

  // Open the app again on the same data folder.
  harness = await startHarness({ dataHome: home.path, schedule: SCHEDULE });
  const { page } = harness;
  await page.getByRole('button', { name: 'Runs', exact: true }).click();
  const row = page.getByTestId(`run-row-${runId}`);
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /interrupted/);
  const ledgerAfterOpen = await page.evaluate(() =>
    window.dp2.datasets.ledger({ name: 'Restart ward' }),
  );
  assert.ok(ledgerAfterOpen.ok);
  assert.deepEqual(
    ledgerAfterOpen.value,
    ledgerBefore.value,
    'opening the app changes no ledger row',
  );
  await row.getByRole('button', { name: 'Open' }).click();
  await page.getByText('Interrupted — can be resumed').waitFor();
  await harness.screenshot('restart-1-interrupted');
  await page.getByRole('button', { name: 'Resume training' }).click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-status"]')?.textContent === 'Finished',
    undefined,
    { timeout: 180_000 },
  );
  const done = await page.evaluate((id) => window.dp2.runs.show({ runId: id }), runId);
  assert.ok(done.ok);
  assert.equal(done.value.status, 'completed');
  assert.ok(done.value.stepsPaid >= paidBefore, 'no paid step is forgotten');
  // Steps replayed after the crash are paid twice (over-counted, never under-counted),
  // so the ledger may pass the target; the released decoder's own ε may not.
  const ledgerEnd = await page.evaluate(() => window.dp2.datasets.ledger({ name: 'Restart ward' }));
  assert.ok(ledgerEnd.ok);
  assert.ok(ledgerEnd.value.total.steps >= ledgerBefore.value.total.steps);
  assert.ok(ledgerEnd.value.total.epsilon >= ledgerBefore.value.total.epsilon);
  const endRows: { fromStep: number; toStep: number }[] = ledgerEnd.value.entries;
  for (const [i, row] of ledgerBefore.value.entries.entries()) {
    const kept = endRows[i];
    assert.equal(kept?.fromStep, row.fromStep, 'rows paid before the close are kept');
    assert.ok((kept?.toStep ?? -1) >= row.toStep);
  }
  const cert = await page.evaluate((id) => window.dp2.runs.certificate({ runId: id }), runId);
  assert.ok(cert.ok);
  assert.ok(Number(cert.value.certificate.epsilon) <= 8 + 1e-9);
  assert.deepEqual(harness.consoleErrors, []);
  await harness.screenshot('restart-2-finished');
});
