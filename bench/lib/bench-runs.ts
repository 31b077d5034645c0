/**
 * What the benches that train through the runner and judge the result with
 * the app's evaluation share: the clock and load figures they print, a data
 * set registered from given training and test images, and the evaluation of
 * a finished run's samples (drawn as the app draws them) on the real test split.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fingerprintImages, writeDatasetFiles } from '../../src-main/data';
import type { ClassifierKind, EvalImages, EvaluationResult } from '../../src-main/eval';
import { evalWorkerCount, evaluateInParallel } from '../../src-main/eval/parallel';
import { sampleRun } from '../../src-main/services/samples';
import { insertDataset, type Store } from '../../src-main/store';

/** The load averages (1, 5, 15 min), as the benches print them. */
export const load = (digits = 1): string =>
  loadavg()
    .map((l) => l.toFixed(digits))
    .join(' ');

/** Seconds since an arbitrary origin. */
export const now = (): number => performance.now() / 1000;

/** Labelled images of one split. */
export interface SplitImages {
  x: Uint8Array;
  y: Uint8Array;
  count: number;
}

/**
 * Registers `train` then `test` as data set `name` of the bench's store
 * (the test images as its held-out split) and returns the test split as
 * the evaluation reads it.
 */
export async function addSplitDataset(
  store: Store,
  home: string,
  name: string,
  d: {
    train: SplitImages;
    test: SplitImages;
    size: number;
    channels: 1 | 3;
    classes: string[];
  },
): Promise<EvalImages> {
  const { train, test, size, channels } = d;
  const images = {
    x: new Uint8Array([...train.x, ...test.x]),
    y: new Uint8Array([...train.y, ...test.y]),
    count: train.count + test.count,
    height: size,
    width: size,
    channels,
    classes: d.classes,
  };
  const all = Uint32Array.from({ length: images.count }, (_, i) => i);
  const dir = join(home, 'datasets', name);
  await writeDatasetFiles(dir, {
    images,
    split: { train: all.slice(0, train.count), test: all.slice(train.count) },
  });
  insertDataset(store, {
    name,
    fingerprint: fingerprintImages(images),
    format: 'npz',
    preprocessing: { size, channels },
    splitSeed: 0,
    trainCount: train.count,
    testCount: test.count,
    classNames: images.classes,
    filesDir: dir,
    budgetEpsilon: null,
    budgetDelta: 1e-5,
  });
  const { x, y, count } = test;
  return { x, y: Array.from(y), count, height: size, width: size, channels };
}

/**
 * Draws `perClass` images per class from a finished run as the app draws
 * them (a method may choose its images, e.g. mepf by its release), trains
 * the evaluation's classifiers on them and tests them on `realTest`.
 * Returns the result, its scores as printed ("CNN 81.20 %, LR …") and the
 * evaluation's seconds.
 */
export async function evaluateRun(
  store: Store,
  o: {
    runId: number;
    perClass: number;
    realTest: EvalImages;
    classifiers: ClassifierKind[];
    seeds: number[];
  },
): Promise<{ result: EvaluationResult; scores: string; seconds: number }> {
  const drawn = await sampleRun(store, { runId: o.runId, perClass: o.perClass, seed: 1 });
  const { height, width, channels } = o.realTest;
  const synthetic = {
    x: drawn.x,
    y: Array.from(drawn.y),
    count: drawn.count,
    height,
    width,
    channels,
  };
  const t0 = now();
  const result = await evaluateInParallel({
    synthetic,
    realTest: o.realTest,
    seeds: o.seeds,
    classifiers: o.classifiers,
    fidelity: false,
    workers: evalWorkerCount(),
  });
  const scores = o.classifiers
    .map((k) => `${k.toUpperCase()} ${result[k]?.mean.toFixed(2)} %`)
    .join(', ');
  return { result, scores, seconds: now() - t0 };
}
