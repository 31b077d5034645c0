import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { runDp2 } from '../support/cli';
import { tempDir } from '../support/temp';

let harness: Harness;
let home: ReturnType<typeof tempDir>;

before(async () => {
  home = tempDir();
  harness = await startHarness({ dataHome: home.path });
});

after(async () => {
  await harness?.close();
  home?.cleanup();
});

const number = (text: string | null) => Number((text ?? '').replace(/,/g, ''));

async function readFigures(h: Harness) {
  const { page } = h;
  return {
    sigma: number(await page.getByTestId('sigma').textContent()),
    epsilon: number(await page.getByTestId('epsilon-at-steps').textContent()),
    target: number(await page.getByTestId('epsilon-value').textContent()),
    path: await page.getByTestId('epsilon-curve-path').getAttribute('d'),
  };
}

test('opens with the paper’s MNIST plan, a default δ with its reason, and a reading of ε', async () => {
  const { page } = harness;
  await page.getByTestId('sigma').waitFor();
  assert.equal(await page.getByTestId('delta-value').textContent(), '1e-5');
  assert.match((await page.getByTestId('delta-reason').textContent()) ?? '', /below 1\/N/);
  assert.match((await page.getByTestId('reading-tpr').textContent()) ?? '', /at most \d+(\.\d)? %/);
  const figures = await readFigures(harness);
  assert.equal(figures.target, 10);
  assert.ok(figures.epsilon <= 10 && figures.epsilon > 9.9, `ε at the plan ${figures.epsilon}`);
  await harness.screenshot('budget-explorer-default');
});

test('dragging the ε slider moves σ and the curve, consistently with `dp2 calibrate`', async () => {
  const { page } = harness;
  const before = await readFigures(harness);
  const slider = page.locator('#epsilon');
  const box = await slider.boundingBox();
  assert.ok(box, 'the ε slider is visible');
  // Drag with the mouse from the middle towards the low end, in small moves.
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.6, y);
  await page.mouse.down();
  const seen = new Set<string>();
  for (let i = 1; i <= 12; i++) {
    await page.mouse.move(box.x + box.width * (0.6 - i * 0.03), y);
    seen.add((await page.getByTestId('sigma').textContent()) ?? '');
  }
  await page.mouse.up();
  // Let the last reply land, then read a settled state.
  await page.waitForFunction(
    (target) => {
      const shown = document.querySelector('[data-testid="epsilon-at-steps"]')?.textContent ?? '';
      return Math.abs(Number(shown.replace(/,/g, '')) - target) / target < 0.01;
    },
    number(await page.getByTestId('epsilon-value').textContent()),
  );
  const afterDrag = await readFigures(harness);
  assert.ok(
    afterDrag.target < before.target,
    `the target fell (${before.target} → ${afterDrag.target})`,
  );
  assert.ok(
    afterDrag.sigma > before.sigma,
    `σ rose as ε fell (${before.sigma} → ${afterDrag.sigma})`,
  );
  assert.notEqual(afterDrag.path, before.path, 'the curve was redrawn');
  assert.ok(seen.size > 1, 'σ updated while dragging');

  const cli = runDp2(
    [
      'calibrate',
      '--mechanism',
      'dp2vae',
      '--blocks',
      '2500',
      '--steps',
      '10000',
      '--epsilon',
      String(afterDrag.target),
      '--delta',
      '1e-5',
      '--json',
    ],
    { env: { DP2_HOME: home.path } },
  );
  assert.equal(cli.status, 0, cli.stderr);
  const expected = JSON.parse(cli.stdout) as { sigma: number; epsilon: number };
  assert.equal(
    afterDrag.sigma,
    Number(expected.sigma.toPrecision(4)),
    'the screen shows the CLI’s σ',
  );
  assert.ok(afterDrag.epsilon <= afterDrag.target, 'ε at the plan never exceeds the target');
  await harness.screenshot('budget-explorer-after-drag');
});

test('choosing the noise instead shows the ε that `dp2 account` reports', async () => {
  const { page } = harness;
  await page.getByLabel('noise σ').check();
  await page.getByLabel('DP-SGD').check();
  await page.locator('#batch').fill('600');
  await page.locator('#steps').fill('3000');
  const slider = page.locator('#sigma');
  await slider.focus();
  for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowRight');
  const shownSigma = number(await page.getByTestId('sigma-value').textContent());
  await page.waitForFunction(
    (s) =>
      document.querySelector('[data-testid="sigma"]')?.textContent?.replace(/,/g, '') === String(s),
    shownSigma,
  );
  const cliArgs = [
    'account',
    '--mechanism',
    'dpsgd',
    '--q',
    String(600 / 60000),
    '--sigma',
    String(shownSigma),
    '--steps',
    '3000',
    '--delta',
    '1e-5',
    '--json',
  ];
  const cli = runDp2(cliArgs, { env: { DP2_HOME: home.path } });
  assert.equal(cli.status, 0, cli.stderr);
  const expected = JSON.parse(cli.stdout) as { epsilon: number };
  const shown = number(await page.getByTestId('epsilon-at-steps').textContent());
  assert.equal(shown, Number(expected.epsilon.toPrecision(4)));
  // Beside it, the same plan under the tighter PLD accountant, as `dp2 account --accountant pld` says.
  const pld = runDp2([...cliArgs, '--accountant', 'pld'], { env: { DP2_HOME: home.path } });
  assert.equal(pld.status, 0, pld.stderr);
  const pldExpected = JSON.parse(pld.stdout) as { epsilon: number };
  await page.waitForFunction(
    (want) =>
      document.querySelector('[data-testid="epsilon-pld"]')?.textContent?.replace(/[^\d.]/g, '') ===
      want,
    String(Number(pldExpected.epsilon.toPrecision(4))),
  );
  assert.ok(pldExpected.epsilon <= expected.epsilon);
  await harness.screenshot('budget-explorer-dpsgd-noise');
});

test('bad input is explained in plain words, and recovers', async () => {
  const { page } = harness;
  await page.locator('#dataset-size').fill('300');
  await page.locator('#batch').fill('600');
  await page.getByTestId('explorer-error').waitFor();
  assert.match(
    (await page.getByTestId('explorer-error').textContent()) ?? '',
    /batch cannot be larger than the data set/,
  );
  await page.locator('#batch').fill('30');
  await page.getByTestId('explorer-error').waitFor({ state: 'detached' });
});

test('picking an imported data set plans with its size and δ', async () => {
  const { page } = harness;
  const imported = runDp2(['import', 'mnist', '--name', 'Clinic MNIST'], {
    env: { DP2_HOME: home.path },
  });
  assert.equal(imported.status, 0, imported.stderr);
  await page.reload();
  await page.getByLabel('Data set', { exact: true }).selectOption('Clinic MNIST');
  assert.equal(await page.locator('#dataset-size').inputValue(), '60000');
  assert.match((await page.getByTestId('delta-reason').textContent()) ?? '', /1\/60,000/);
  await page.getByTestId('sigma').waitFor();
  await harness.screenshot('budget-explorer-dataset');
});

test('the app made no network request and broke no content-security rule', () => {
  assert.deepEqual(harness.blockedRequests, []);
  assert.deepEqual(harness.consoleErrors, []);
});
