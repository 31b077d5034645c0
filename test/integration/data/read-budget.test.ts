/**
 * A scan of a folder (or zip) of large images keeps the bytes of files held
 * in memory at once within its read budget — a bound per operation, not per
 * file — and still imports every image.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { zipSync } from 'fflate';
import { importSource, previewImport } from '../../../src-main/data';
import { encodeBmp } from '../../../src-main/data/decode-bmp';
import { ReadBudget } from '../../../src-main/data/read-budget';
import type { Preprocessing } from '../../../src-main/data/types';

const PRE: Preprocessing = { size: 28, channels: 1, testFraction: 0.1, splitSeed: 1 };
const MiB = 1024 * 1024;

/** Two class folders of `perClass` RGB noise BMPs of about 1 MiB each; their total bytes. */
async function largeImages(
  t: TestContext,
  perClass: number,
): Promise<{ root: string; total: number }> {
  const root = await mkdtemp(join(tmpdir(), 'dp2-budget-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  let total = 0;
  for (const cls of ['a', 'b']) {
    await mkdir(join(root, cls));
    for (let i = 0; i < perClass; i++) {
      const bmp = encodeBmp({
        width: 590,
        height: 590,
        channels: 3,
        data: randomBytes(590 * 590 * 3),
      });
      total += bmp.length;
      await writeFile(join(root, cls, `${i}.bmp`), bmp);
    }
  }
  return { root, total };
}

test('a folder scan holds no more file bytes at once than its budget', async (t) => {
  const { root, total } = await largeImages(t, 12);
  const budget = new ReadBudget(3.5 * MiB);
  const result = await importSource({ path: root, preprocessing: PRE, readBudget: budget });
  assert.equal(result.images.count, 24);
  assert.ok(budget.peak > 2 * MiB, `peak ${budget.peak}: the budget was used`);
  assert.ok(budget.peak <= budget.limit, `peak ${budget.peak} > budget ${budget.limit}`);
  // Without a tight budget the same scan holds every file at once (one batch of 24).
  const loose = new ReadBudget(1024 * MiB);
  await previewImport({ path: root, preprocessing: PRE, readBudget: loose });
  assert.equal(loose.peak, total);
});

test('a zip scan inflates no more at once than its budget', async (t) => {
  const { root } = await largeImages(t, 6);
  const files: Record<string, Uint8Array> = {};
  for (const cls of ['a', 'b'])
    for (let i = 0; i < 6; i++)
      files[`${cls}/${i}.bmp`] = await readFile(join(root, cls, `${i}.bmp`));
  const zip = join(root, 'images.zip');
  await writeFile(zip, zipSync(files, { level: 1 }));
  const budget = new ReadBudget(2.5 * MiB);
  const preview = await previewImport({ path: zip, preprocessing: PRE, readBudget: budget });
  assert.equal(preview.total, 12);
  assert.ok(budget.peak > MiB && budget.peak <= budget.limit, `peak ${budget.peak}`);
});

test('a file larger than the whole budget is still read, alone', async (t) => {
  const { root } = await largeImages(t, 2);
  const budget = new ReadBudget(64 * 1024);
  const preview = await previewImport({ path: root, preprocessing: PRE, readBudget: budget });
  assert.equal(preview.total, 4);
  assert.ok(budget.peak > budget.limit && budget.peak < 1.1 * MiB, `peak ${budget.peak}`);
});
