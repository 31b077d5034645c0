/**
 * Every method at the sizes a hospital has (issue #22): 32 px colour, 64 px
 * grey and 128 px colour images, two classes, a few dozen images, a couple
 * of steps through the real runner and worker process. Each generator run
 * releases a model of the images' own shape, draws a gallery at that size
 * (the training grid and the stored samples' grid.png) and is evaluated by
 * the app's evaluation at that size; the classifier (randp) is checked for
 * its input shape and its held-out accuracy.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import {
  fingerprintImages,
  readDatasetFiles,
  readNpz,
  writeDatasetFiles,
} from '../../../src-main/data';
import { UserError } from '../../../src-main/contract/errors';
import type { PreparedImages } from '../../../src-main/data';
import { readDecoderFile } from '../../../src-main/engine/decoder-file';
import { evaluateSynthetic } from '../../../src-main/eval';
import { startTraining, TEST_ACCURACY } from '../../../src-main/jobs/runner';
import type { MethodId } from '../../../src-main/methods/catalog';
import { MODEL_CARD, ModelCard } from '../../../src-main/methods/randp/classifier';
import { storeRunSamples } from '../../../src-main/services/samples';
import {
  getDataset,
  getMetrics,
  insertDataset,
  ledgerEntries,
  listArtifacts,
  type Store,
} from '../../../src-main/store';
import { recorder, tempHome, tinyPriorInstalled } from './helpers';

interface Shape {
  size: 32 | 64 | 128;
  channels: 1 | 3;
}
const SHAPES: readonly Shape[] = [
  { size: 64, channels: 1 },
  { size: 128, channels: 3 },
  { size: 32, channels: 3 },
];
const TRAIN = 24;
const TEST = 8;

/**
 * Two classes any size can hold: a disc (class 0) or a bar (class 1) of
 * random place and size, in a random colour on a dark background.
 */
function discsAndBars(count: number, size: number, channels: 1 | 3, seed: number): PreparedImages {
  let s = seed >>> 0 || 1;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const x = new Uint8Array(count * size * size * channels);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    y[i] = label;
    const cx = size * (0.35 + 0.3 * rand());
    const cy = size * (0.35 + 0.3 * rand());
    const r = size * (0.12 + 0.1 * rand());
    const colour = [150 + 100 * rand(), 150 + 100 * rand(), 150 + 100 * rand()];
    for (let v = 0; v < size; v++) {
      for (let u = 0; u < size; u++) {
        const inside =
          label === 0
            ? Math.hypot(u - cx, v - cy) < r
            : Math.abs(v - cy) < r / 3 && Math.abs(u - cx) < 1.5 * r;
        for (let c = 0; c < channels; c++) {
          x[((i * size + v) * size + u) * channels + c] = inside
            ? Math.round(colour[c] as number)
            : Math.round(20 * rand());
        }
      }
    }
  }
  return { x, y, count, height: size, width: size, channels, classes: ['disc', 'bar'] };
}

async function shapeDataset(store: Store, name: string, shape: Shape): Promise<void> {
  const images = discsAndBars(
    TRAIN + TEST,
    shape.size,
    shape.channels,
    shape.size + shape.channels,
  );
  const dir = join(store.home, 'datasets', name);
  const all = Uint32Array.from({ length: images.count }, (_, i) => i);
  await writeDatasetFiles(dir, {
    images,
    split: { train: all.slice(0, TRAIN), test: all.slice(TRAIN) },
  });
  insertDataset(store, {
    name,
    fingerprint: fingerprintImages(images),
    format: 'npz',
    preprocessing: { size: shape.size, channels: shape.channels },
    splitSeed: 0,
    trainCount: TRAIN,
    testCount: TEST,
    classNames: images.classes,
    filesDir: dir,
    budgetEpsilon: null,
    budgetDelta: 1e-5,
  });
}

/** A couple of steps of each method on 24 images (batch about 8); termwise is MLP-only (below). */
const SETTINGS: Record<Exclude<MethodId, 'termwise'>, Record<string, number | string>> = {
  dp2vae: { blocks: 2, steps: 2, pretrainEpochs: 1, batchSize: 6, seed: 5 },
  'dp2vae-per-record': { steps: 2, batchSize: 8, refineSteps: 1, seed: 5 },
  dpsgd: { steps: 2, batchSize: 8, seed: 5 },
  mepf: { generatorSteps: 2, generatorBatch: 8, seed: 5 },
  randp: { steps: 2, batchSize: 8, publicPerFamily: 10 },
};
const METHODS = Object.keys(SETTINGS) as (keyof typeof SETTINGS)[];

/** The (height, width) of a PNG file's image and its colour type's channel count. */
function pngShape(bytes: Uint8Array): { height: number; width: number; colour: boolean } {
  const png = PNG.sync.read(Buffer.from(bytes));
  return {
    height: png.height,
    width: png.width,
    colour: (png as { color?: boolean }).color === true,
  };
}

/** A tiny budget: the plumbing at each size is under test, not the classifiers' accuracy. */
const EVAL_BUDGET = { minSteps: 2, epochs: 1, batchSize: 16 };

for (const method of METHODS) {
  test(`${method} trains, draws and is evaluated at 64 px grey, 128 px colour and 32 px colour`, async (t) => {
    await tinyPriorInstalled(t);
    const { store, home } = tempHome(t);
    for (const shape of SHAPES) {
      const name = `shapes-${shape.size}-${shape.channels}`;
      const what = `${method} ${shape.size}×${shape.size}×${shape.channels}`;
      await shapeDataset(store, name, shape);
      const { events, onEvent } = recorder();
      const handle = await startTraining({
        store,
        dataHome: home,
        datasetName: name,
        method,
        targetEpsilon: 10,
        preset: 'quick',
        overrides: SETTINGS[method],
        confirmed: true,
        schedule: {
          checkpointEvery: 100,
          gridEvery: 1,
          gridPerClass: 2,
          reserveChunk: 4,
          epsilonEvery: 1,
        },
        onEvent,
      });
      const t0 = performance.now();
      const outcome = await handle.done;
      assert.equal(outcome.status, 'completed', `${what}: ${JSON.stringify(outcome.error)}`);
      const t1 = performance.now();
      const runId = handle.runId;

      if (method === 'randp') {
        const [classifier] = listArtifacts(store, { runId, kind: 'classifier' });
        assert.ok(classifier, what);
        const card = ModelCard.parse(
          JSON.parse(await readFile(join(classifier.path, MODEL_CARD), 'utf8')),
        );
        assert.deepEqual(
          [card.input.height, card.input.width, card.input.channels],
          [shape.size, shape.size, shape.channels],
          what,
        );
        const [accuracy] = getMetrics(store, runId, { name: TEST_ACCURACY });
        assert.ok(accuracy && accuracy.value !== null, what);
        continue;
      }

      // The released generator makes images of the data set's shape.
      const [decoder] = listArtifacts(store, { runId, kind: 'decoder', visibility: 'releasable' });
      assert.ok(decoder, what);
      const { arch } = await readDecoderFile(decoder.path);
      assert.deepEqual(arch.image, {
        height: shape.size,
        width: shape.size,
        channels: shape.channels,
      });
      assert.equal(arch.kind, 'conv-cvae', what);
      if (arch.kind === 'conv-cvae') {
        assert.equal(shape.size / 2 ** arch.convChannels.length, 8, `${what}: an 8×8 bottleneck`);
      }

      // The gallery: the training grid and the stored grid, at the real size.
      const grids = events.filter((e) => e.type === 'grid');
      assert.ok(grids.length >= 1, `${what}: a grid during training`);
      const last = grids[grids.length - 1] as { png: string; perClass: number };
      const live = pngShape(Buffer.from(last.png, 'base64'));
      assert.deepEqual(
        [live.height, live.width, live.colour],
        [2 * shape.size, 2 * shape.size, shape.channels === 3],
        what,
      );
      await storeRunSamples(store, { runId, perClass: 10, seed: 1 });
      const [gridFile] = listArtifacts(store, { runId, kind: 'grid' });
      assert.ok(gridFile, what);
      const stored = pngShape(await readFile(gridFile.path));
      assert.deepEqual([stored.height, stored.width], [2 * shape.size, 10 * shape.size], what);

      // The app's evaluation at that size (of the stored samples): utility on the real test split and fidelity.
      const npz = listArtifacts(store, { runId, kind: 'samples' }).find((a) =>
        a.path.endsWith('.npz'),
      );
      assert.ok(npz, what);
      const samples = readNpz(await readFile(npz.path), npz.path);
      const { x, y } = samples;
      assert.ok(x && y, what);
      // Grey images are stored (N, H, W), as MNIST's .npz files are.
      const side = [20, shape.size, shape.size];
      assert.deepEqual(x.shape, shape.channels === 1 ? side : [...side, 3], what);
      const synthetic = {
        x: x.data as Uint8Array,
        y: Array.from(y.data as ArrayLike<number | bigint>, Number),
        count: 20,
        height: shape.size,
        width: shape.size,
        channels: shape.channels,
      };
      const t2 = performance.now();
      const real = await readDatasetFiles(join(home, 'datasets', name));
      const result = await evaluateSynthetic({
        synthetic,
        realTest: real.test,
        realTrain: real.train,
        seeds: [0],
        classifiers: ['lr', 'cnn'],
        configs: { lr: EVAL_BUDGET, cnn: EVAL_BUDGET },
        extractorConfig: EVAL_BUDGET,
      });
      for (const k of ['lr', 'cnn'] as const) {
        const mean = result[k]?.mean;
        assert.ok(mean !== undefined && mean >= 0 && mean <= 100, `${what} ${k}: ${mean}`);
      }
      assert.ok(Number.isFinite(result.fidelity?.fld), `${what}: fidelity`);
      t.diagnostic(
        `${what}: run ${((t1 - t0) / 1000).toFixed(1)} s, gallery ${((t2 - t1) / 1000).toFixed(1)} s, evaluation ${((performance.now() - t2) / 1000).toFixed(1)} s`,
      );
    }
  });
}

test('termwise (MLP only in this version) refuses every other size plainly, before anything is spent', async (t) => {
  const { store, home } = tempHome(t);
  for (const shape of SHAPES) {
    const name = `termwise-${shape.size}-${shape.channels}`;
    await shapeDataset(store, name, shape);
    await assert.rejects(
      startTraining({
        store,
        dataHome: home,
        datasetName: name,
        method: 'termwise',
        targetEpsilon: 10,
        preset: 'quick',
      }),
      (e: unknown) =>
        e instanceof UserError &&
        e.code === 'UNSUPPORTED' &&
        e.message.includes(`${shape.size}×${shape.size}×${shape.channels}`) &&
        e.message.includes('Choose DP-SGD'),
    );
    const ds = getDataset(store, name);
    assert.deepEqual(ledgerEntries(store, ds.id), [], 'nothing spent');
  }
});
