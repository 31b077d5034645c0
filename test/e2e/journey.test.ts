// The whole desktop journey in Chromium over the real services: import a
// folder with a damaged file, plan a run with its privacy consequence, train
// it (real worker process, real tfjs), watch progress, ε and the gallery,
// pause and resume, export, and check the exported folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dp2Api } from '../../src-main/contract';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { tempDir } from '../support/temp';
import { writeDigitFolder } from '../support/digits';

declare global {
  interface Window {
    dp2: Dp2Api;
  }
}

const NAME = 'Digits clinic';
const PER_CLASS = 24;
/** The Quick preset shrunk for a test: seconds, not minutes. */
const SHRUNK = { blocks: '4', steps: '500', pretrainEpochs: '1', batchSize: '16' };

let harness: Harness;
let home: ReturnType<typeof tempDir>;
let images: ReturnType<typeof tempDir>;
let exported: ReturnType<typeof tempDir>;

before(async () => {
  home = tempDir();
  images = tempDir('dp2-e2e-digits-');
  exported = tempDir('dp2-e2e-export-');
  writeDigitFolder(images.path, PER_CLASS);
  writeFileSync(join(images.path, '3', 'scanner-glitch.png'), 'not an image at all');
  harness = await startHarness({
    dataHome: home.path,
    schedule: { checkpointEvery: 25, gridEvery: 25, gridPerClass: 3, epsilonEvery: 5 },
  });
});

after(async () => {
  await harness?.close();
  home?.cleanup();
  images?.cleanup();
  exported?.cleanup();
});

test('import: the preview reports the damaged file, and the import skips it', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'Data sets' }).click();
  await page.getByLabel('Folder or file to import').fill(images.path);
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByTestId('preview').waitFor();
  const problems = await page.getByTestId('problem-errors').textContent();
  assert.match(problems ?? '', /scanner-glitch\.png/);
  await harness.screenshot('journey-1-preview');
  await page.getByLabel('Skip unreadable files').check();
  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator(`[data-testid="dataset-row"][data-row="${NAME}"]`).waitFor();
});

test('new run: the plan shows σ, ε, the ledger and the time, consistent with the accountant', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'New run' }).click();
  await page.getByRole('heading', { name: 'New run', level: 1 }).waitFor();
  // The method that measures best comes first and is preselected; each shows what it measures.
  const methods = page.getByRole('radio', { name: /DP-SGD|DP²-VAE/ });
  await methods.first().waitFor();
  const methodList = page.locator('fieldset', { hasText: 'Method' });
  assert.match((await methodList.textContent()) ?? '', /DP-SGD.*DP²-VAE/s);
  assert.ok(await page.getByRole('radio', { name: /^DP²-VAE, per-record/ }).isChecked());
  assert.match(
    (await page.getByTestId('method-measured-dp2vae-per-record').textContent()) ?? '',
    /CNN 82–84 % at ε = 10/,
  );
  assert.match(
    (await page.getByTestId('method-measured-dpsgd').textContent()) ?? '',
    /CNN 81–83 % at ε = 10/,
  );
  assert.match(
    (await page.getByTestId('method-measured-dp2vae').textContent()) ?? '',
    /CNN ≈ 26 % at ε = 10/,
  );
  // This journey trains the two-stage method on purpose (its stages and blocks are shown).
  await page.getByRole('radio', { name: /^DP²-VAE — / }).check();
  await page.getByLabel('Quick look', { exact: false }).check();
  await page.getByRole('button', { name: /Standard · ε 10/ }).click();
  await page.getByText('Advanced settings').click();
  await page.getByLabel('Blocks (K)').fill(SHRUNK.blocks);
  await page.getByLabel('Private steps (T)').fill(SHRUNK.steps);
  await page.getByLabel('Encoder passes').fill(SHRUNK.pretrainEpochs);
  await page.getByLabel('Batch size').fill(SHRUNK.batchSize);
  await page.waitForFunction(
    () => document.querySelector('[data-testid="plan-steps"]')?.textContent?.trim() === '500',
  );
  const sigma = Number(await page.getByTestId('plan-sigma').textContent());
  const epsilon = Number(
    ((await page.getByTestId('plan-epsilon').textContent()) ?? '').split(' ')[0],
  );
  assert.ok(sigma > 0);
  assert.ok(epsilon <= 10 && epsilon > 9.5, `plan ε ${epsilon}`);
  // The same σ through the accountant's own channel gives the same ε.
  const check = await page.evaluate(
    (s) =>
      window.dp2.privacy.account({
        spec: { mechanism: 'dp2vae', blocks: 4, sigma: s, steps: 500 },
        delta: 1e-5, // the data set's default δ
      }),
    sigma,
  );
  assert.ok(check.ok);
  assert.ok(Math.abs(check.value.epsilon - epsilon) < 0.01, `${check.value.epsilon} vs ${epsilon}`);
  assert.match((await page.getByTestId('plan-ledger').textContent()) ?? '', /ε 0 → (9\.\d+|10)\b/);
  assert.match((await page.getByTestId('plan-duration').textContent()) ?? '', /about .*\d/);
  assert.match(
    (await page.getByTestId('plan-memory').textContent()) ?? '',
    /about [\d,]+ MB at its peak \(runtime \d+ MB/,
  );
  assert.equal(await page.getByTestId('start-refusal').count(), 0);
  await harness.screenshot('journey-2-new-run');
});

test('train: progress, ε and the gallery update; pause holds the step; resume goes on', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.getByRole('heading', { name: /Run \d+ · Digits clinic/ }).waitFor();
  const status = page.getByTestId('run-status');
  await page.getByTestId('grid').waitFor({ timeout: 120_000 });
  const firstGrid = await page.getByTestId('grid-step').textContent();
  await page.waitForFunction(
    (first) => document.querySelector('[data-testid="grid-step"]')?.textContent !== first,
    firstGrid,
    { timeout: 60_000 },
  );
  const eps = Number(
    ((await page.getByTestId('run-epsilon').textContent()) ?? '').replace(/[^\d.]/g, ''),
  );
  assert.ok(eps > 0 && eps <= 10, `ε shown ${eps}`);
  assert.notEqual(await page.getByTestId('run-backend').textContent(), 'not started yet');
  await harness.screenshot('journey-3-training');

  await page.getByRole('button', { name: 'Pause' }).click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-status"]')?.textContent === 'Paused',
  );
  const held = await page.locator('[data-testid="stage-steps"]').last().textContent();
  await page.waitForTimeout(2000);
  assert.equal(await page.locator('[data-testid="stage-steps"]').last().textContent(), held);
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-status"]')?.textContent !== 'Paused',
  );
  await page.waitForFunction(
    () => document.querySelector('[data-testid="run-status"]')?.textContent === 'Finished',
    undefined,
    { timeout: 180_000 },
  );
  assert.equal(await status.textContent(), 'Finished');
  await harness.screenshot('journey-4-finished');
});

test('evaluate: the Table-1 layout with the published rows, fidelity and the audit, app still responsive', async () => {
  const { page } = harness;
  await page.getByLabel('Images per class').fill('30');
  await page.getByLabel('Seeds').fill('1');
  await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
  // Evaluation runs in a helper process: the services answer while it works.
  const info = await page.evaluate(() => window.dp2.app.info({}));
  assert.ok(info.ok);
  assert.equal(await page.getByRole('button', { name: 'Evaluating…' }).count(), 1);
  // Protocol v3 trains every classifier for a step count that does not shrink with the set.
  await page.getByTestId('utility-table').waitFor({ timeout: 420_000 });
  const ours = (await page.getByTestId('utility-ours').textContent()) ?? '';
  assert.match(ours, /This run.*\d+\.\d ± \d+\.\d/s);
  assert.match(
    (await page.getByTestId('majority-rate').textContent()) ?? '',
    /commonest class would score \d+\.\d %/,
  );
  assert.match((await page.getByTestId('fld-real').textContent()) ?? '', /\d/);
  assert.match((await page.getByTestId('audit').textContent()) ?? '', /AUC \d\.\d{3}/);
  await harness.screenshot('journey-4b-evaluated');
});

test('runs: the history lists the run, and two runs compare side by side', async () => {
  const { page } = harness;
  // A second, shorter run with other settings, started through the contract.
  const second = await page.evaluate(() =>
    window.dp2.runs.start({
      dataset: 'Digits clinic',
      method: 'dp2vae',
      preset: 'quick',
      epsilon: 5,
      overrides: { blocks: 3, steps: 60, pretrainEpochs: 1, batchSize: 16 },
      wait: true,
    }),
  );
  assert.ok(second.ok && second.value.outcome?.status === 'completed', JSON.stringify(second));
  await page.getByRole('button', { name: 'Runs', exact: true }).click();
  const rows = page.locator('[data-testid^="run-row-"]');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  for (const text of await rows.allTextContents()) assert.match(text, /completed/);
  await page.getByLabel('Compare run 1').check();
  await page.getByLabel(`Compare run ${second.value.runId}`).check();
  await page.getByRole('button', { name: /Compare 2 runs/ }).click();
  const table = page.getByTestId('compare-table');
  await table.waitFor();
  const blocks = await table.locator('tr', { hasText: 'blocks' }).textContent();
  assert.match(blocks ?? '', /4.*3|3.*4/s);
  assert.equal(await page.locator('.galleries img').count(), 2);
  await harness.screenshot('journey-5-runs-compare');
});

test('export: the certificate in words; the folder holds samples and certificate, nothing private', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'Export', exact: true }).first().click();
  await page.getByRole('heading', { name: 'Export', level: 1 }).waitFor();
  await page.getByLabel('Run', { exact: true }).selectOption('1');
  const words = page.getByTestId('certificate-words');
  await words.waitFor();
  await page.waitForFunction(() =>
    document
      .querySelector('[data-testid="certificate-words"]')
      ?.textContent?.includes('500 training steps'),
  );
  assert.match((await words.textContent()) ?? '', /ε = (9\.\d+|10)\b/);
  // Private artifacts are not even offered.
  const offered = (await page.locator('fieldset').textContent()) ?? '';
  assert.doesNotMatch(offered, /encoder|checkpoint/i);
  await page.getByLabel('Images per class').fill('5');
  const out = join(exported.path, 'release');
  await page.getByLabel('Export to folder').fill(out);
  await harness.screenshot('journey-6-export');
  await page.getByRole('button', { name: 'Export', exact: true }).last().click();
  await page.getByTestId('export-done').waitFor({ timeout: 60_000 });

  const names = readdirSync(out, { recursive: true }).map(String);
  assert.ok(names.includes('certificate.json'), names.join(', '));
  assert.ok(
    names.some((n) => n.endsWith('.npz')),
    names.join(', '),
  );
  assert.ok(!names.some((n) => /encoder|checkpoint|stage1|dataset/i.test(n)), names.join(', '));
  const cert = JSON.parse(readFileSync(join(out, 'certificate.json'), 'utf8')) as {
    epsilon: number;
    steps: number;
  };
  assert.ok(cert.epsilon <= 10 && cert.epsilon > 0);
  assert.ok(existsSync(join(out, 'certificate.json')));
});

test('new run offers DP-SGD with its own settings, and PLD as the accountant', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'New run' }).click();
  await page.getByRole('radio', { name: /^DP-SGD/ }).check();
  await page.getByText('Advanced settings').click();
  await page.getByLabel('Expected batch size').waitFor();
  assert.equal(await page.getByLabel('Blocks (K)').count(), 0);
  await page.getByLabel('Private steps (T)').fill('200');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="plan-steps"]')?.textContent?.trim() === '200',
  );
  const rdpSigma = Number(await page.getByTestId('plan-sigma').textContent());
  await page.getByLabel('Privacy accountant').selectOption('pld');
  await page.waitForFunction(
    (before) => Number(document.querySelector('[data-testid="plan-sigma"]')?.textContent) < before,
    rdpSigma,
    { timeout: 30_000 },
  );
  // The data set already holds DP²-VAE runs: the total composes both methods.
  const ledger = (await page.getByTestId('plan-ledger').textContent()) ?? '';
  const [before = 0, after = 0] = (ledger.match(/[\d.]+/g) ?? []).map(Number);
  assert.ok(before >= 10 && after > before, ledger);
  assert.equal(await page.getByTestId('start-refusal').count(), 0);
  await harness.screenshot('journey-8-new-run-dpsgd');
});

test('the app stayed offline and quiet, and reads well in dark mode at 125 % zoom', async () => {
  const { page } = harness;
  assert.deepEqual(harness.blockedRequests, []);
  assert.deepEqual(harness.consoleErrors, []);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.evaluate(() => {
    document.documentElement.style.zoom = '1.25';
  });
  await page.getByRole('button', { name: 'Runs', exact: true }).click();
  await page
    .locator('[data-testid^="run-row-"]')
    .first()
    .getByRole('button', { name: 'Open' })
    .click();
  await page.getByTestId('grid').waitFor();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(246, 247, 249)', 'dark theme follows the system');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px at 125 %`);
  await harness.screenshot('journey-7-dark-125');
});
