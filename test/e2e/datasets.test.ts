// The Data sets screen against the real services: preview a class-per-folder
// data set with a damaged file, import it skipping that file, set a cap, read
// the ledger, delete it; import the bundled MNIST.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dp2Api } from '../../src-main/contract';
import { encodePng } from '../../src-main/data';
import { ensureWriterCodecs, writeDicom } from '../helpers/dicom-writer';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { tempDir } from '../support/temp';

declare global {
  interface Window {
    dp2: Dp2Api;
  }
}

let harness: Harness;
let home: ReturnType<typeof tempDir>;
let images: ReturnType<typeof tempDir>;

const CLASSES = ['benign', 'malignant', 'normal'];
const PER_CLASS = 10;
const NAME = 'Ward 7 scans';

/** A distinct 20×20 gray pattern per class and image (no duplicates). */
function pattern(cls: number, i: number): Uint8Array {
  const side = 20;
  const data = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      data[y * side + x] = (x * (cls + 2) * 11 + y * (i + 3) * 7 + cls * 83 + i * 29) & 255;
    }
  }
  return encodePng({ width: side, height: side, channels: 1, data });
}

before(async () => {
  home = tempDir();
  images = tempDir('dp2-e2e-images-');
  CLASSES.forEach((cls, c) => {
    mkdirSync(join(images.path, cls));
    for (let i = 0; i < PER_CLASS; i++) {
      writeFileSync(join(images.path, cls, `scan-${i}.png`), pattern(c, i));
    }
  });
  writeFileSync(join(images.path, 'normal', 'broken.png'), 'this is not a PNG image');
  harness = await startHarness({ dataHome: home.path });
  await harness.page.getByRole('button', { name: 'Data sets' }).click();
  await harness.page.getByRole('heading', { name: 'Data sets', level: 1 }).waitFor();
});

after(async () => {
  await harness?.close();
  home?.cleanup();
  images?.cleanup();
});

const digits = (text: string | null) => (text ?? '').replace(/[^\d+]/g, '');
const row = (name: string) =>
  harness.page.locator(`[data-testid="dataset-row"][data-row="${name}"]`);

test('starts empty, and explains a path that does not exist', async () => {
  const { page } = harness;
  await page.getByTestId('datasets-empty').waitFor();
  await page.getByLabel('Folder or file to import').fill(join(images.path, 'no-such-folder'));
  await page.getByRole('button', { name: 'Preview' }).click();
  const alert = page.getByTestId('import-error');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.match((await alert.textContent()) ?? '', /does not exist/);
});

test('a dropped item without a readable path asks for the path to be typed', async () => {
  const { page } = harness;
  await page.getByTestId('drop-zone').evaluate((zone) => {
    const data = new DataTransfer();
    data.items.add(new File(['x'], 'xrays.zip'));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
  });
  assert.match(
    (await page.getByTestId('drop-zone').textContent()) ?? '',
    /cannot see where “xrays\.zip” is stored.*Type or paste its full path/,
  );
});

test('without the desktop shell, “Choose folder…” says to type the path', async () => {
  const { page } = harness;
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await page.getByTestId('import-error').waitFor();
  assert.match((await page.getByTestId('import-error').textContent()) ?? '', /type the path/);
});

test('the preview shows the counts per class and reports the damaged file as an error', async () => {
  const { page } = harness;
  await page.getByLabel('Folder or file to import').fill(images.path);
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByTestId('preview').waitFor();

  const counts = await page.getByTestId('class-count').allTextContents();
  assert.deepEqual(
    counts.map((t) => t.replace(/\s+/g, ' ').trim()),
    CLASSES.map((c) => `${c} ${PER_CLASS}`),
  );
  assert.equal(digits(await page.getByTestId('preview-total').textContent()), '30');
  assert.equal((await page.getByTestId('thumbnails').locator('img').count()) > 0, true);
  assert.match((await page.getByTestId('thumbnails-private').textContent()) ?? '', /never\s+leave/);
  assert.match((await page.getByTestId('preview-duplicates').textContent()) ?? '', /No exact/);

  const errors = page.getByTestId('problem-errors').getByTestId('problem');
  assert.equal(await errors.count(), 1);
  const error = (await errors.first().textContent()) ?? '';
  assert.match(error, /Error/);
  assert.match(error, /normal\/broken\.png/);
  assert.match(error, /not a PNG, JPEG, BMP or DICOM/);
  assert.match(error, /What to do:/);

  assert.equal(await page.getByTestId('import-button').getAttribute('aria-disabled'), 'true');
  assert.match((await page.getByTestId('import-blocked').textContent()) ?? '', /Skip unreadable/);
  assert.equal(
    await page.getByLabel('Name', { exact: true }).inputValue(),
    images.path.split('/').at(-1),
  );
  await harness.screenshot('datasets-preview-problem');
});

test('skipping unreadable files re-previews; the import lists the data set with nothing spent', async () => {
  const { page } = harness;
  await page.getByLabel('Skip unreadable files').check();
  await page.getByTestId('problem-errors').waitFor({ state: 'detached' });
  const warning = page
    .getByTestId('problem-warnings')
    .getByTestId('problem')
    .filter({ hasText: 'broken.png' });
  assert.match((await warning.textContent()) ?? '', /Warning.*skipped/s);
  assert.equal(await page.getByTestId('import-button').getAttribute('aria-disabled'), 'false');

  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await row(NAME).waitFor();
  assert.match((await page.getByTestId('datasets-note').textContent()) ?? '', /Imported/);
  assert.equal(
    await page.evaluate(() => document.activeElement?.id),
    'datasets-list-title',
    'the focus moves to the list',
  );
  await page.getByTestId('preview').waitFor({ state: 'detached' });

  assert.equal(digits(await row(NAME).getByTestId('dataset-images').textContent()), '27+3');
  assert.equal(await row(NAME).getByTestId('dataset-classes').textContent(), '3');
  assert.match(
    (await row(NAME).getByTestId('privacy-spent').textContent()) ?? '',
    /ε 0\s+spent\s+no cap/,
  );
  await harness.screenshot('datasets-list');
});

test('a budget cap is set from the keyboard, and refused in plain words when invalid', async () => {
  const { page } = harness;
  await row(NAME)
    .getByRole('button', { name: `Set the budget cap of ${NAME}` })
    .focus();
  await page.keyboard.press('Enter');
  const input = page.getByLabel(`Budget cap ε for “${NAME}”`);
  await input.waitFor();
  assert.equal(await input.evaluate((el) => el === document.activeElement), true);

  await page.keyboard.type('-2');
  await page.keyboard.press('Enter');
  assert.match((await page.getByTestId('row-error').textContent()) ?? '', /above 0/);

  await input.fill('5');
  await page.keyboard.press('Enter');
  await page.getByTestId('cap-form').waitFor({ state: 'detached' });
  assert.match((await row(NAME).getByTestId('privacy-spent').textContent()) ?? '', /ε 0\s+of 5/);
  const shown = await page.evaluate((name) => window.dp2.datasets.show({ name }), NAME);
  assert.ok(shown.ok);
  assert.equal(shown.value.budget.epsilon, 5);
});

test('the ledger shows no entries and a total of zero', async () => {
  const { page } = harness;
  await row(NAME)
    .getByRole('button', { name: `View the privacy ledger of ${NAME}` })
    .click();
  await page.getByTestId('ledger').waitFor();
  assert.match((await page.getByTestId('ledger-empty').textContent()) ?? '', /Nothing spent yet/);
  assert.match(
    (await page.getByTestId('ledger-total').textContent()) ?? '',
    /Total spent: ε 0.*0\s+runs.*Cap: ε 5/s,
  );
  await harness.screenshot('datasets-ledger');
  await page.getByRole('button', { name: 'Close' }).click();
  await page.getByTestId('ledger').waitFor({ state: 'detached' });
});

test('deleting asks first, says what goes and what stays, and removes the data set', async () => {
  const { page } = harness;
  const deleteButton = row(NAME).getByRole('button', { name: `Delete ${NAME}` });
  const dialog = page.getByTestId('delete-dialog');

  // Escape cancels and returns the focus to the Delete button.
  await deleteButton.click();
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await deleteButton.evaluate((el) => el === document.activeElement), true);
  assert.equal(await row(NAME).count(), 1);

  await deleteButton.click();
  await dialog.waitFor();
  assert.equal(await page.getByRole('dialog', { name: `Delete “${NAME}”?` }).count(), 1);
  const removes = (await page.getByTestId('delete-removes').textContent()) ?? '';
  assert.match(removes, /private copy of its 30 images/);
  assert.match(removes, /encoders and checkpoints/);
  const keeps = (await page.getByTestId('delete-keeps').textContent()) ?? '';
  assert.match(keeps, /released generators and their privacy certificates/);
  assert.match(keeps, /privacy ledger/);
  await harness.screenshot('datasets-delete-dialog');

  await dialog.getByRole('button', { name: 'Delete data set' }).click();
  await row(NAME).waitFor({ state: 'detached' });
  await page.getByTestId('datasets-empty').waitFor();
  assert.match((await page.getByTestId('datasets-note').textContent()) ?? '', /Deleted “Ward 7/);
  const listed = await page.evaluate(() => window.dp2.datasets.list({}));
  assert.ok(listed.ok);
  assert.deepEqual(listed.value, []);
});

test('the bundled MNIST imports with its own 60 000 + 10 000 split', async () => {
  const { page } = harness;
  await page.getByLabel('Folder or file to import').fill('mnist');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByTestId('preview').waitFor();
  assert.equal(digits(await page.getByTestId('preview-split').textContent()), '60000+10000');
  assert.equal(await page.getByTestId('class-count').count(), 10);
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'MNIST');
  await harness.screenshot('datasets-preview-mnist');

  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await row('MNIST').waitFor({ timeout: 120_000 });
  assert.equal(
    digits(await row('MNIST').getByTestId('dataset-images').textContent()),
    '60000+10000',
  );
  assert.equal(await row('MNIST').getByTestId('dataset-classes').textContent(), '10');
});

test('a DICOMDIR export with a labels CSV: patient fields dropped, the DICOM window offered, imported', async () => {
  const { page } = harness;
  await ensureWriterCodecs();
  const root = join(images.path, '..', `${images.path.split('/').at(-1)}-dicom`);
  const lines = ['file,finding'];
  for (let i = 0; i < 8; i++) {
    const dir = join(root, 'DICOM', 'PA0', 'ST0', `SE${i % 2}`);
    mkdirSync(dir, { recursive: true });
    const px = new Uint16Array(32 * 32).map(
      (_, p) => ((p % 32) * (60 + i * 9) + (p >> 5) * (7 + 5 * i)) % 4096,
    );
    writeFileSync(
      join(dir, `IM${i}`),
      writeDicom({
        rows: 32,
        columns: 32,
        frames: [px],
        transferSyntax: i % 2 ? 'jpeg-ls' : 'explicit-le',
        bitsStored: 12,
        modality: 'DX',
        patient: { name: 'QUIMBY^HORTENSE', id: 'MRN-83620417' },
      }),
    );
    lines.push(`DICOM/PA0/ST0/SE${i % 2}/IM${i},${i % 2 ? 'effusion' : 'clear'}`);
  }
  const csv = join(root, 'labels.csv');
  writeFileSync(csv, lines.join('\n'));
  try {
    await page.getByLabel('Folder or file to import').fill(root);
    await page.getByLabel('From a CSV file').check();
    await page.getByLabel('Labels CSV file').fill(csv);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByTestId('preview-dicom').waitFor();
    const counts = await page.getByTestId('class-count').allTextContents();
    assert.deepEqual(
      counts.map((t) => t.replace(/\s+/g, ' ').trim()),
      ['clear 4', 'effusion 4'],
    );
    assert.match(
      (await page.getByTestId('preview-patient-fields').textContent()) ?? '',
      /8 of 8 files carried patient .* dropped/s,
    );
    assert.match((await page.getByTestId('preview-dicom').textContent()) ?? '', /DX \(8\)/);
    assert.match((await page.getByTestId('preview-duplicates').textContent()) ?? '', /No exact/);
    // The grey-level choice appears once DICOM files were found; changing it asks for a new preview.
    await page.getByTestId('dicom-window').getByLabel('Full range').check();
    await page.getByText('You changed the settings since this preview.').waitFor();
    await page.getByTestId('preview-button').click();
    await page
      .getByText('You changed the settings since this preview.')
      .waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes('QUIMBY'), 'no patient value on screen');
    await harness.screenshot('datasets-preview-dicom');
    await page.getByLabel('Name', { exact: true }).fill('Chest DX');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await row('Chest DX').waitFor({ timeout: 60_000 });
    assert.equal(await row('Chest DX').getByTestId('dataset-classes').textContent(), '2');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('readable at 125 % zoom: nothing spills sideways', async () => {
  const { page } = harness;
  // 1280 × 900 at 125 % lays out like 1024 × 720.
  await page.setViewportSize({ width: 1024, height: 720 });
  await row('MNIST').getByRole('button', { name: 'View the privacy ledger of MNIST' }).click();
  await page.getByTestId('ledger').waitFor();
  await harness.screenshot('datasets-list-zoom-125');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.equal(overflow, 0, 'no horizontal scrolling');
  const tableOverflow = await page.getByTestId('datasets-table').evaluate((table) => {
    const wrap = table.parentElement as HTMLElement;
    return wrap.scrollWidth - wrap.clientWidth;
  });
  assert.ok(tableOverflow <= 0, `the table fits (${tableOverflow}px too wide)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await harness.screenshot('datasets-list-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('the app made no network request and broke no content-security rule', () => {
  assert.deepEqual(harness.blockedRequests, []);
  assert.deepEqual(harness.consoleErrors, []);
});
