/** Shared set-up for the store tests: real SQLite files in fresh temporary folders. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import { closeStore, createRun, insertDataset, openStore } from '../../../src-main/store';
import type { Dataset, NewDataset, Run, Store } from '../../../src-main/store';

/** A fresh data home, removed after the test. */
export function tempHome(t: TestContext): string {
  const home = mkdtempSync(join(tmpdir(), 'dp2-store-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** A store in a fresh data home, closed after the test. */
export function tempStore(t: TestContext, clock?: () => Date): { store: Store; home: string } {
  const home = tempHome(t);
  const store = openStore({ path: join(home, 'dp2.sqlite'), ...(clock ? { clock } : {}) });
  t.after(() => closeStore(store));
  return { store, home };
}

/** A valid data set description whose files folder exists (with one array file). */
export function datasetInput(
  store: Store,
  name = 'Chest X-rays',
  extra: Partial<NewDataset> = {},
): NewDataset {
  const filesDir = join(store.home, 'datasets', name.replace(/\W/g, '_'));
  mkdirSync(filesDir, { recursive: true });
  writeFileSync(join(filesDir, 'train.bin'), 'private pixels');
  return {
    name,
    fingerprint: `sha256:${name}`,
    format: 'image-folder',
    preprocessing: { size: [28, 28], grayscale: true },
    splitSeed: 42,
    trainCount: 900,
    testCount: 100,
    classNames: ['normal', 'pneumonia'],
    filesDir,
    budgetEpsilon: 8,
    budgetDelta: 1e-5,
    ...extra,
  };
}

/** One data set with one dp2vae run. */
export function seed(store: Store, name = 'Chest X-rays'): { dataset: Dataset; run: Run } {
  const dataset = insertDataset(store, datasetInput(store, name));
  const run = createRun(store, {
    datasetId: dataset.id,
    method: 'dp2vae',
    hyperparameters: { blocks: 10, sigma: 1.2, clip: 1, steps: 2000 },
    architecture: { latent: 8, hidden: [512, 256] },
    backend: 'cpu',
    targetEpsilon: 3,
    delta: 1e-5,
    accountant: { name: 'rdp', version: '1.0.0' },
  });
  return { dataset, run };
}

/** Writes a file (creating its folder) and returns its path. */
export function writeFile(path: string, content: string | Uint8Array): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/**
 * Inserts a data set row with the columns of schema v1 only, as an older
 * version wrote it (today's `insertDataset` writes columns added since).
 */
export function insertOldDataset(store: Store, input: NewDataset): { id: number } {
  const info = store.db
    .prepare(
      `INSERT INTO datasets (name, name_key, fingerprint, format, preprocessing, split_seed, train_count, test_count,
         class_names, files_dir, budget_epsilon, budget_delta, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      input.name,
      input.name.toLowerCase(),
      input.fingerprint,
      input.format,
      JSON.stringify(input.preprocessing),
      input.splitSeed,
      input.trainCount,
      input.testCount,
      JSON.stringify(input.classNames),
      relative(store.home, input.filesDir),
      input.budgetEpsilon ?? null,
      input.budgetDelta ?? 1e-5,
      new Date().toISOString(),
    );
  return { id: Number(info.lastInsertRowid) };
}
