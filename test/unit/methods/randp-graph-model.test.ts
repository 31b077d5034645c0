/**
 * The released classifier as a TensorFlow.js graph model (methods/randp/graph-model.ts):
 * it must compute what the app's own feature path computes (prior, read-out,
 * per-record operations, folded linear model), and load with TensorFlow.js
 * alone, as anyone who receives the folder would load it.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  CLASSIFIER_GRAPH,
  CLASSIFIER_WEIGHTS,
  MODEL_CARD,
  ModelCard,
  predictImages,
  readClassifier,
  writeClassifier,
} from '../../../src-main/methods/randp/classifier';
import { linearLogits, type LinearModel } from '../../../src-main/methods/randp/dp-linear';
import { classifierGraph, priorWeights } from '../../../src-main/methods/randp/graph-model';
import {
  perRecordTransform,
  readoutGroups,
  type PerRecordOptions,
} from '../../../src-main/methods/randp/normalise';
import {
  defaultReadout,
  extractFeatures,
  type ImageBytes,
} from '../../../src-main/priors/features';
import {
  createTrainableNet,
  disposeNet,
  foldBatchNorm,
  type FeatureReadout,
  type FoldedNet,
} from '../../../src-main/priors/network/feature-net';
import { loadPrior } from '../../../src-main/priors/prior-file';
import { tempDir } from '../../support/temp';

function randomModel(dims: number, classes: number, seed: number): LinearModel {
  const weights = new Float32Array((dims + 1) * classes);
  SeededRng.fromSeed(seed, 1).fillNormal(weights, 0.3);
  return { weights, dims, classes, biasFeature: 0.5 };
}

/** The app's own path: features, per-record operations, linear model, softmax. */
async function reference(
  net: FoldedNet,
  images: ImageBytes,
  readout: FeatureReadout,
  perRecord: PerRecordOptions,
  model: LinearModel,
): Promise<Float32Array> {
  const f = await extractFeatures(net, images, { readout });
  const x = perRecordTransform(f.features, images.count, f.dims, perRecord);
  const z = linearLogits(model, x, images.count);
  const k = model.classes;
  for (let i = 0; i < images.count; i++) {
    const row = z.subarray(i * k, (i + 1) * k);
    const m = Math.max(...row);
    let s = 0;
    for (let c = 0; c < k; c++) s += row[c] = Math.exp((row[c] as number) - m);
    for (let c = 0; c < k; c++) row[c] = (row[c] as number) / s;
  }
  return z;
}

function graphProbabilities(
  json: unknown,
  weights: Uint8Array,
  images: ImageBytes,
): { prob: Float32Array; classes: unknown } {
  const model = tf.loadGraphModelSync([json as tf.io.ModelJSON, weights.slice().buffer]);
  try {
    const x = tf.tensor4d(Float32Array.from(images.x), [
      images.count,
      images.height,
      images.width,
      images.channels,
    ]);
    const y = model.predict(x) as tf.Tensor;
    const prob = y.dataSync() as Float32Array;
    tf.dispose([x, y]);
    return { prob, classes: (model.metadata as { classes?: unknown }).classes };
  } finally {
    model.dispose();
  }
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('randp: the classifier as a TensorFlow.js graph model', () => {
  let dir: { path: string; cleanup: () => void };
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-graph-');
  });
  after(() => dir.cleanup());

  it('computes what the app computes: the shipped prior on grey digits, 3×3 grid, power and per-stage standardisation', async () => {
    const prior = loadPrior();
    try {
      const mnist = loadBundledMnist();
      const count = 40;
      const images: ImageBytes = {
        x: mnist.test.x.slice(0, count * 784),
        count,
        height: 28,
        width: 28,
        channels: 1,
      };
      const readout = defaultReadout(prior.net);
      const perRecord = { power: 0.5, groups: readoutGroups(prior.net, readout) };
      const model = randomModel(2016, 10, 3);
      const classes = [...'0123456789'];
      const { json, weights } = classifierGraph(
        {
          prior: priorWeights(prior.net),
          readout,
          perRecord,
          model,
          image: images,
          classes,
          software: 'test',
        },
        CLASSIFIER_WEIGHTS,
      );
      const want = await reference(prior.net, images, readout, perRecord, model);
      const got = graphProbabilities(json, weights, images);
      assert.deepEqual(got.classes, classes);
      const diff = maxDifference(got.prob, want);
      assert.ok(diff < 1e-4, `largest difference in a probability: ${diff}`);
      // Not a constant output: the probabilities vary between images.
      assert.ok(maxDifference(want.subarray(0, 10), want.subarray(10, 20)) > 1e-3);
    } finally {
      disposeNet(prior.net);
    }
  });

  it('computes what the app computes: colour images resized into the prior’s range, a stride-2 stem, global pooling', async () => {
    const trainable = createTrainableNet({ widths: [4, 6, 8, 10], stemStride: 2 }, 11);
    const calibration = tf.randomUniform([16, 28, 28, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const net = foldBatchNorm(trainable, calibration);
    tf.dispose([calibration, ...trainable.params]);
    try {
      const count = 12;
      const side = 20; // below the prior's 28: extractFeatures resizes, and so must the graph
      const x = new Uint8Array(count * side * side * 3);
      const rng = SeededRng.fromSeed(8, 2);
      for (let i = 0; i < x.length; i++) x[i] = rng.nextInt(256);
      const images: ImageBytes = { x, count, height: side, width: side, channels: 3 };
      const readout: FeatureReadout = { layers: ['stage2', 'stage3'], grid: 1 };
      const model = randomModel(18, 3, 4);
      const { json, weights } = classifierGraph(
        {
          prior: priorWeights(net),
          readout,
          perRecord: {},
          model,
          image: images,
          classes: ['a', 'b', 'c'],
          software: 'test',
        },
        CLASSIFIER_WEIGHTS,
      );
      const want = await reference(net, images, readout, {}, model);
      const diff = maxDifference(graphProbabilities(json, weights, images).prob, want);
      assert.ok(diff < 1e-4, `largest difference in a probability: ${diff}`);
    } finally {
      disposeNet(net);
    }
  });

  it('a written folder loads with TensorFlow.js alone and predicts as dp2 predict does; an altered model.json is refused', async () => {
    const prior = loadPrior();
    const folder = join(dir.path, 'classifier');
    try {
      const readout = defaultReadout(prior.net);
      const perRecord = { power: 0.5, groups: readoutGroups(prior.net, readout) };
      const model = randomModel(2016, 2, 6);
      await writeClassifier(folder, {
        model,
        net: prior.net,
        classes: ['normal', 'pneumonia'],
        image: { height: 28, width: 28, channels: 1 },
        prior: { name: 'prior', weights_sha256: prior.manifest.weights.sha256, statement: 's' },
        readout,
        perRecord,
        whitening: 'test',
        privacy: {
          epsilon: 1,
          delta: 1e-5,
          sigma: 4,
          sampleRate: 0.05,
          steps: 10,
          clip: 1,
          accountant: 'rdp',
          mechanism: 'dpsgd',
          adjacency: 'add-remove',
        },
        software: 'test',
      });
      const card = ModelCard.parse(JSON.parse(await readFile(join(folder, MODEL_CARD), 'utf8')));
      assert.deepEqual(card.model.input.shape, [null, 28, 28, 1]);
      const mnist = loadBundledMnist();
      const images: ImageBytes = {
        x: mnist.test.x.slice(0, 30 * 784),
        count: 30,
        height: 28,
        width: 28,
        channels: 1,
      };
      // Anyone's way: the two files and TensorFlow.js.
      const json: unknown = JSON.parse(await readFile(join(folder, CLASSIFIER_GRAPH), 'utf8'));
      const bytes = new Uint8Array(await readFile(join(folder, CLASSIFIER_WEIGHTS)));
      const theirs = graphProbabilities(json, bytes, images);
      assert.deepEqual(theirs.classes, ['normal', 'pneumonia']);
      // The app's way (dp2 predict, the test accuracy after a run).
      const loaded = await readClassifier(folder);
      try {
        const ours = await predictImages(loaded, images);
        assert.deepEqual(ours.prob, theirs.prob);
        for (let i = 0; i < images.count; i++) {
          const p = ours.prob.subarray(2 * i, 2 * i + 2);
          assert.equal(ours.pred[i], (p[1] as number) > (p[0] as number) ? 1 : 0);
        }
      } finally {
        loaded.model.dispose();
      }
      // One changed byte of the graph: refused, in words.
      const text = await readFile(join(folder, CLASSIFIER_GRAPH), 'utf8');
      await writeFile(join(folder, CLASSIFIER_GRAPH), text.replace('"Softmax"', '"Sigmoid"'));
      await assert.rejects(readClassifier(folder), /model\.json differs/);
    } finally {
      disposeNet(prior.net);
    }
  });
});
