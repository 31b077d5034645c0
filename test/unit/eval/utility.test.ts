/**
 * The utility protocol on tiny made-up images (fast): classes that differ
 * in brightness are learnt by every classifier, any size and channel count
 * works, runs are reproducible from their seeds, and bad input is refused.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  createClassifier,
  evaluateUtility,
  meanStd,
  toEvalJson,
  type EvalImages,
} from '../../../src-main/eval';

before(async () => {
  await selectBackend();
});

/** Class c images: noise around brightness 40 + 80·c in one quadrant. */
function blobs(count: number, h: number, w: number, channels: number, seed: number): EvalImages {
  const rng = SeededRng.fromSeed(seed);
  const size = h * w * channels;
  const x = new Uint8Array(count * size);
  const y = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = rng.nextInt(3);
    y[i] = c;
    for (let j = 0; j < size; j++) {
      const row = Math.floor(j / (w * channels));
      const bright = row < h / 2 ? 40 + 80 * c : 100;
      x[i * size + j] = Math.max(
        0,
        Math.min(255, Math.round(bright + 60 * (rng.nextFloat() - 0.5))),
      );
    }
  }
  return { x, y, count, height: h, width: w, channels };
}

const fast = {
  lr: { epochs: 4, batchSize: 32 },
  mlp: { epochs: 4, batchSize: 32 },
  cnn: { epochs: 4, batchSize: 32 },
};

test('every classifier learns an easy 3-class task on 10×6×3 images', async () => {
  const result = await evaluateUtility({
    train: blobs(300, 10, 6, 3, 1),
    test: blobs(200, 10, 6, 3, 2),
    seeds: [0, 1],
    configs: fast,
  });
  for (const kind of ['lr', 'mlp', 'cnn'] as const) {
    const s = result[kind];
    assert.ok(s, kind);
    assert.equal(s.runs.length, 2);
    assert.ok(s.mean > 90, `${kind}: ${s.mean}`);
    assert.ok(s.std >= 0);
  }
  assert.equal(result.n_synthetic, 300);
  assert.equal(result.n_test, 200);
  assert.deepEqual(result.seeds, [0, 1]);
});

test('the same seeds give the same accuracies; progress reaches 1', async () => {
  const train = blobs(200, 8, 8, 1, 3);
  const test = blobs(100, 8, 8, 1, 4);
  const fractions: number[] = [];
  const run = () =>
    evaluateUtility({
      train,
      test,
      seeds: [5],
      classifiers: ['mlp', 'cnn'],
      configs: { mlp: { epochs: 1, batchSize: 50 }, cnn: { epochs: 1, batchSize: 50 } },
      onProgress: (p) => fractions.push(p.fraction),
    });
  const a = await run();
  const b = await run();
  assert.deepEqual(a.mlp?.runs, b.mlp?.runs);
  assert.deepEqual(a.cnn?.runs, b.cnn?.runs);
  assert.equal(a.lr, undefined);
  assert.ok(Math.abs((fractions[fractions.length - 1] as number) - 1) < 1e-12);
});

test('no tensors leak from training and testing', async () => {
  const before = tf.memory().numTensors;
  await evaluateUtility({
    train: blobs(64, 8, 8, 1, 5),
    test: blobs(32, 8, 8, 1, 6),
    seeds: [0],
    configs: { lr: { epochs: 1 }, mlp: { epochs: 1 }, cnn: { epochs: 1 } },
  });
  assert.equal(tf.memory().numTensors, before);
});

test('the CNN adapts to the image size: ⌈H/4⌉·⌈W/4⌉·64 inputs to its linear layer', () => {
  const m = createClassifier('cnn', { height: 30, width: 17, channels: 3 }, 4, 0);
  assert.deepEqual(m.variables[4]?.shape, [8 * 5 * 64, 4]);
  tf.tidy(() => {
    assert.deepEqual(m.logits(tf.zeros([2, 30, 17, 3]) as tf.Tensor4D).shape, [2, 4]);
    assert.deepEqual(m.features(tf.zeros([2, 30, 17, 3]) as tf.Tensor4D).shape, [2, 64]);
  });
  m.dispose();
});

test('bad input is refused in plain words; a cancelled evaluation stops', async () => {
  const train = blobs(50, 8, 8, 1, 7);
  await assert.rejects(
    evaluateUtility({ train, test: blobs(10, 8, 6, 1, 8) }),
    /synthetic images are 8×8×1 but the real test images are 8×6×1/,
  );
  await assert.rejects(
    evaluateUtility({ train: { ...train, count: 49 }, test: train }),
    /hold 3200 pixel values, but 49 images/,
  );
  await assert.rejects(evaluateUtility({ train, test: train, seeds: [] }), /at least one seed/);
  await assert.rejects(evaluateUtility({ train, test: train, classes: 2 }), /label .* class/);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    evaluateUtility({ train, test: train, signal: controller.signal }),
    (err: Error & { code?: string }) => err.code === 'CANCELLED',
  );
});

test('meanStd uses the sample standard deviation', () => {
  assert.deepEqual(meanStd([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, std: Math.sqrt(32 / 7) });
  assert.deepEqual(meanStd([3]), { mean: 3, std: 0 });
});

test('toEvalJson has exactly the shape of `dp2 eval --json`', () => {
  const score = {
    mean: 90,
    std: 1,
    runs: [89, 91],
    seconds: 1,
    config: { epochs: 1, batchSize: 1, learningRate: 1 },
  };
  const json = toEvalJson({
    lr: score,
    mlp: score,
    cnn: score,
    n_synthetic: 10,
    n_test: 5,
    seeds: [0, 1],
    fidelity: {
      fld: 3.5,
      feature: 'f',
      dims: 64,
      precision: 1,
      recall: 1,
      perClass: [],
      k: 3,
      n_real: 5,
      n_synthetic: 10,
    },
  });
  assert.deepEqual(json, {
    lr: { mean: 90, std: 1 },
    mlp: { mean: 90, std: 1 },
    cnn: { mean: 90, std: 1 },
    fld: 3.5,
    n_synthetic: 10,
    n_test: 5,
    seeds: [0, 1],
  });
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(json))), [
    'lr',
    'mlp',
    'cnn',
    'fld',
    'n_synthetic',
    'n_test',
    'seeds',
  ]);
  const partial = toEvalJson({ cnn: score, n_synthetic: 1, n_test: 1, seeds: [0] });
  assert.equal(partial.lr, null);
  assert.equal(partial.fld, null);
});
