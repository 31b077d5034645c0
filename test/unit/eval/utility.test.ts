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
import { EvalRequest } from '../../../src-main/contract/runs';
import {
  DEFAULT_SEEDS,
  DEFAULT_TRAIN_CONFIGS,
  accuracy,
  createClassifier,
  evaluateUtility,
  fitClassifier,
  holdOutSplit,
  meanStd,
  plannedSteps,
  protocolNote,
  toEvalJson,
  type EvalImages,
} from '../../../src-main/eval';
import { pickImages } from '../../../src-main/eval/images';

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

// minSteps: 0 keeps these checks short (the protocol's step floor is tested below).
const fast = {
  lr: { epochs: 4, batchSize: 32, minSteps: 0 },
  mlp: { epochs: 4, batchSize: 32, minSteps: 0 },
  cnn: { epochs: 4, batchSize: 32, minSteps: 0 },
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
      configs: {
        mlp: { epochs: 1, batchSize: 50, minSteps: 0 },
        cnn: { epochs: 1, batchSize: 50, minSteps: 0 },
      },
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
    configs: {
      lr: { epochs: 1, minSteps: 0 },
      mlp: { epochs: 1, minSteps: 0 },
      cnn: { epochs: 1, minSteps: 0 },
    },
  });
  assert.equal(tf.memory().numTensors, before);
});

test('the CNN adapts to the image size: ⌈H/4⌉·⌈W/4⌉·64 inputs to its linear layer', () => {
  const m = createClassifier('cnn', { height: 30, width: 17, channels: 3 }, 4, 0);
  // conv 1, conv 2, the hidden dense layer (protocol v3), the output layer, each weights and bias.
  assert.deepEqual(m.variables[4]?.shape, [8 * 5 * 64, 128]);
  assert.deepEqual(m.variables[6]?.shape, [128, 4]);
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

test('toEvalJson has the keys of `dp2 eval --json`, and beside them the baselines and the real-vs-real fidelity', () => {
  const score = {
    mean: 90,
    std: 1,
    runs: [89, 91],
    balanced: { mean: 80, std: 2, runs: [78, 82] },
    steps: [10, 10],
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
    majority: { label: 1, rate: 60 },
    imbalanced: true,
    featureNetwork: 'net',
    fidelity: {
      fld: 3.5,
      reference: { fld: 0.5, precision: 0.7, recall: 0.8, n_real_train: 10 },
      feature: 'f',
      dims: 64,
      precision: 1,
      recall: 0.9,
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
    majority_rate: 60,
    imbalanced: true,
    balanced_accuracy: {
      lr: { mean: 80, std: 2 },
      mlp: { mean: 80, std: 2 },
      cnn: { mean: 80, std: 2 },
    },
    fld_real: 0.5,
    precision: 1,
    recall: 0.9,
    precision_real: 0.7,
    recall_real: 0.8,
    feature_network: 'net',
  });
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(json))).slice(0, 7), [
    'lr',
    'mlp',
    'cnn',
    'fld',
    'n_synthetic',
    'n_test',
    'seeds',
  ]);
  const partial = toEvalJson({
    cnn: score,
    n_synthetic: 1,
    n_test: 1,
    seeds: [0],
    majority: { label: 0, rate: 100 },
    imbalanced: false,
  });
  assert.equal(partial.lr, null);
  assert.equal(partial.fld, null);
  assert.equal(partial.fld_real, null);
  assert.equal(partial.feature_network, null);
});

test('three seeds by default, in the evaluation and in the request', async () => {
  assert.deepEqual(DEFAULT_SEEDS, [0, 1, 2]);
  assert.equal(EvalRequest.parse({ synthetic: 'x.npz' }).seeds, 3);
  const result = await evaluateUtility({
    train: blobs(60, 8, 8, 1, 9),
    test: blobs(30, 8, 8, 1, 10),
    classifiers: ['lr'],
    configs: { lr: { epochs: 1, minSteps: 0 } },
  });
  assert.deepEqual(result.seeds, [0, 1, 2]);
  assert.equal(result.lr?.runs.length, 3);
  assert.equal(result.lr?.balanced.runs.length, 3);
});

test('the number of steps does not shrink with the set: small sets are passed over more often', () => {
  for (const kind of ['lr', 'mlp', 'cnn'] as const) {
    const config = DEFAULT_TRAIN_CONFIGS[kind];
    const sizes = [500, 1000, 5000, 20_000, 60_000];
    const steps = sizes.map((n) => plannedSteps(n, config));
    for (let i = 1; i < steps.length; i++)
      assert.ok((steps[i] as number) >= (steps[i - 1] as number), `${kind}: ${steps.join(', ')}`);
    // 1 000 images get as many steps as 20 000 (the floor), i.e. many more epochs.
    assert.equal(plannedSteps(1000, config), plannedSteps(20_000, config), kind);
    assert.ok(plannedSteps(1000, config) >= 1000, kind);
  }
});

test('early stopping holds out synthetic images only, keeps the best weights, and stops', async () => {
  const split = holdOutSplit(
    1000,
    { epochs: 1, batchSize: 1, learningRate: 1, validationShare: 0.1, maxValidation: 60 },
    3,
  );
  assert.equal(split.heldOut.length, 60, 'the cap applies');
  assert.equal(split.train.length, 940);
  const all = new Set([...split.train, ...split.heldOut]);
  assert.equal(all.size, 1000, 'disjoint, and every image is in one part');
  assert.equal(
    holdOutSplit(10, { epochs: 1, batchSize: 1, learningRate: 1, validationShare: 0.5 }, 0).heldOut
      .length,
    0,
  );

  // Labels that are pure noise: nothing generalises, so the held-out accuracy stops improving.
  const noisy = blobs(400, 8, 8, 1, 11);
  const rng = SeededRng.fromSeed(12);
  const y = Uint8Array.from({ length: noisy.count }, () => rng.nextInt(3));
  const train = { ...noisy, y };
  const config = {
    epochs: 60,
    batchSize: 32,
    learningRate: 3e-3,
    validationShare: 0.25,
    checks: 20,
    patience: 2,
  };
  const { model, summary } = await fitClassifier({
    kind: 'mlp',
    train,
    classes: 3,
    seed: 0,
    config,
  });
  try {
    assert.equal(summary.heldOut, 100);
    assert.equal(summary.trained, 300);
    assert.ok(summary.stoppedEarly, JSON.stringify(summary));
    assert.ok(summary.stepsTaken < summary.steps, JSON.stringify(summary));
    // The weights kept are those of the best check: their held-out accuracy is the one reported.
    const heldOut = pickImages(train, holdOutSplit(train.count, config, 0).heldOut);
    assert.equal(accuracy(model, heldOut), summary.validationAccuracy);
  } finally {
    model.dispose();
  }
});

test('results of older protocol versions are labelled as reading low; current ones are not', () => {
  assert.equal(protocolNote(3), '');
  assert.match(
    protocolNote(2),
    /older protocol \(version 2: .*small sets got few steps\).*read low/,
  );
  assert.match(protocolNote(1), /version 1: its CNN trained one epoch/);
});
