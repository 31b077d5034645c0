/**
 * Shared set-up for the training-job tests: a real data home with a real
 * SQLite store and a small MNIST subset stored with writeDatasetFiles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { selectBackend } from '../../../src-main/engine/backend';
import { DEFAULT_PRIOR, readPriorManifest } from '../../../src-main/priors/prior-file';
import { disposeNet } from '../../../src-main/priors/network/feature-net';
import { makeTinyPrior } from '../../support/tiny-prior';
import { fingerprintImages, loadBundledMnist, writeDatasetFiles } from '../../../src-main/data';
import type { PreparedImages } from '../../../src-main/data';
import type { RunEvent } from '../../../src-main/jobs/runner';
import {
  closeStore,
  insertDataset,
  openStore,
  type Dataset,
  type Store,
} from '../../../src-main/store';

/** A store in a fresh data home (closed and removed after the test). */
export function tempHome(t: TestContext): { store: Store; home: string } {
  const home = mkdtempSync(join(tmpdir(), 'dp2-jobs-'));
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  t.after(() => {
    closeStore(store);
    rmSync(home, { recursive: true, force: true });
  });
  return { store, home };
}

/** The first `n` MNIST training images as PreparedImages. */
export function mnistSubset(n: number, offset = 0): PreparedImages {
  const m = loadBundledMnist().train;
  return {
    x: m.x.slice(offset * 784, (offset + n) * 784),
    y: m.y.slice(offset, offset + n),
    count: n,
    height: 28,
    width: 28,
    channels: 1,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  };
}

/** Stores `n` MNIST images (all in the train split but 10) as a data set. */
export async function mnistDataset(
  store: Store,
  name: string,
  n: number,
  budget: { epsilon: number | null; delta?: number } = { epsilon: null },
  offset = 0,
): Promise<Dataset> {
  const images = mnistSubset(n, offset);
  const dir = join(store.home, 'datasets', name);
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  await writeDatasetFiles(dir, {
    images,
    split: { train: all.slice(0, n - 10), test: all.slice(n - 10) },
  });
  return insertDataset(store, {
    name,
    fingerprint: fingerprintImages(images),
    format: 'idx',
    preprocessing: { size: 28, channels: 1 },
    splitSeed: 0,
    trainCount: n - 10,
    testCount: 10,
    classNames: images.classes,
    filesDir: dir,
    budgetEpsilon: budget.epsilon,
    budgetDelta: budget.delta ?? 1e-5,
  });
}

/** Collects a run's events. */
export function recorder(): { events: RunEvent[]; onEvent: (e: RunEvent) => void } {
  const events: RunEvent[] = [];
  return { events, onEvent: (e) => void events.push(e) };
}

/** Small, fast settings for tests (K = 4, tens of steps). */
export const SMALL = {
  blocks: 4,
  steps: 40,
  pretrainEpochs: 2,
  batchSize: 32,
  lr: 1e-3,
  seed: 11,
} as const;

/** A schedule that exercises checkpoints, grids and chunked reservations in a short run. */
export const SMALL_SCHEDULE = {
  checkpointEvery: 10,
  gridEvery: 20,
  gridPerClass: 2,
  reserveChunk: 7,
  epsilonEvery: 5,
} as const;

/** Steps of the stage-2 trajectory seen in progress events. */
export function stage2Steps(events: readonly RunEvent[]): number[] {
  return events.flatMap((e) => (e.type === 'progress' && e.stage === 'stage2' ? [e.step] : []));
}

/**
 * The tiny prior as the installed one, for this process and the workers it
 * forks (DP2_PRIORS_DIR, restored after the test); its weights' SHA-256.
 */
export async function tinyPriorInstalled(t: TestContext): Promise<string> {
  const priors = mkdtempSync(join(tmpdir(), 'dp2-priors-'));
  const saved = process.env.DP2_PRIORS_DIR;
  process.env.DP2_PRIORS_DIR = priors;
  t.after(() => {
    if (saved === undefined) delete process.env.DP2_PRIORS_DIR;
    else process.env.DP2_PRIORS_DIR = saved;
    rmSync(priors, { recursive: true, force: true });
  });
  await selectBackend();
  disposeNet((await makeTinyPrior(priors, DEFAULT_PRIOR)).net);
  return readPriorManifest().weights.sha256;
}

/** The first `n` MNIST training images of digits 0 and 1, labelled 0 and 1. */
export function zerosAndOnes(n: number, from = 0): PreparedImages {
  const m = loadBundledMnist().train;
  const keep: number[] = [];
  for (let i = from; i < m.count && keep.length < n; i++) {
    if (m.y[i] === 0 || m.y[i] === 1) keep.push(i);
  }
  const x = new Uint8Array(keep.length * 784);
  keep.forEach((i, j) => x.set(m.x.subarray(i * 784, (i + 1) * 784), j * 784));
  return {
    x,
    y: Uint8Array.from(keep, (i) => m.y[i] as number),
    count: keep.length,
    height: 28,
    width: 28,
    channels: 1,
    classes: ['zero', 'one'],
  };
}

/** Those images as the data set “pair”, the last `test` of them held out. */
export async function twoClassDataset(store: Store, n: number, test: number) {
  const images = zerosAndOnes(n);
  const dir = join(store.home, 'datasets', 'pair');
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  await writeDatasetFiles(dir, {
    images,
    split: { train: all.slice(0, n - test), test: all.slice(n - test) },
  });
  return insertDataset(store, {
    name: 'pair',
    fingerprint: fingerprintImages(images),
    format: 'idx',
    preprocessing: { size: 28, channels: 1 },
    splitSeed: 0,
    trainCount: n - test,
    testCount: test,
    classNames: images.classes,
    filesDir: dir,
    budgetEpsilon: null,
    budgetDelta: 1e-5,
  });
}
