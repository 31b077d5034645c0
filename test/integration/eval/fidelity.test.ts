/**
 * Fidelity in the feature space of a CNN trained on a small real MNIST
 * training subset: held-out real images are close to the real test split
 * (small Fréchet distance, high precision/recall); noise is far from it.
 * Also the whole `evaluateSynthetic` → `toEvalJson` path.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  evaluateFidelity,
  evaluateSynthetic,
  toEvalJson,
  trainFeatureExtractor,
  type EvalImages,
  type FeatureExtractor,
} from '../../../src-main/eval';

let realTrain: EvalImages;
let realTest: EvalImages;
let heldOut: EvalImages;
let noise: EvalImages;
let extractor: FeatureExtractor;

function slice(set: EvalImages, from: number, to: number): EvalImages {
  const size = set.height * set.width;
  return {
    ...set,
    x: set.x.subarray(from * size, to * size),
    y: Array.from(set.y).slice(from, to),
    count: to - from,
  };
}

before(async () => {
  await selectBackend();
  const mnist = loadBundledMnist();
  realTrain = slice(mnist.train, 0, 3000);
  heldOut = slice(mnist.train, 3000, 4000);
  realTest = slice(mnist.test, 0, 1000);
  const rng = SeededRng.fromSeed(3);
  const x = new Uint8Array(1000 * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.nextInt(256);
  noise = {
    x,
    y: Array.from({ length: 1000 }, (_, i) => i % 10),
    count: 1000,
    height: 28,
    width: 28,
  };
  extractor = await trainFeatureExtractor({
    realTrain,
    realTest,
    config: { epochs: 3, batchSize: 64, minSteps: 0 },
  });
});

after(() => extractor.dispose());

test('Fréchet distance: real vs real is small, noise vs real is more than 10× larger', () => {
  assert.ok(
    (extractor.realTestAccuracy ?? 0) > 85,
    `extractor accuracy ${extractor.realTestAccuracy}`,
  );
  const real = evaluateFidelity({ extractor, realTest, synthetic: heldOut });
  const fake = evaluateFidelity({ extractor, realTest, synthetic: noise });
  console.log(
    `FLD real ${real.fld.toFixed(4)} noise ${fake.fld.toFixed(4)}; ` +
      `P/R real ${real.precision?.toFixed(3)}/${real.recall?.toFixed(3)} noise ${fake.precision?.toFixed(3)}/${fake.recall?.toFixed(3)}`,
  );
  assert.ok(fake.fld > 10 * real.fld, `real ${real.fld}, noise ${fake.fld}`);
  assert.ok((real.precision ?? 0) > 0.6 && (real.recall ?? 0) > 0.6);
  assert.ok((fake.precision ?? 1) < 0.1);
  assert.equal(real.perClass.length, 10);
  assert.equal(real.dims, 64);
});

test('beside each figure, its real-vs-real value: real images read near it, noise far from it', () => {
  const real = evaluateFidelity({ extractor, realTest, synthetic: heldOut, realTrain });
  const fake = evaluateFidelity({ extractor, realTest, synthetic: noise, realTrain });
  const ref = real.reference;
  assert.ok(ref, 'the reference is computed when the real training split is given');
  assert.equal(ref.n_real_train, 1000, 'as many real training images as synthetic ones');
  assert.deepEqual(fake.reference, ref, 'the reference depends on the real data only');
  console.log(
    `FLD real ${real.fld.toFixed(4)} noise ${fake.fld.toFixed(4)} real-vs-real ${ref.fld.toFixed(4)}`,
  );
  assert.ok(real.fld < 3 * ref.fld, `held-out real ${real.fld}, real vs real ${ref.fld}`);
  assert.ok(fake.fld > 50 * ref.fld, `noise ${fake.fld}, real vs real ${ref.fld}`);
  assert.ok((ref.precision ?? 0) > 0.6 && (ref.recall ?? 0) > 0.6);
  assert.equal(evaluateFidelity({ extractor, realTest, synthetic: noise }).reference, undefined);
});

test('the real test split against itself: d² ≈ 0, precision = recall = 1', () => {
  const self = evaluateFidelity({ extractor, realTest, synthetic: realTest });
  assert.ok(Math.abs(self.fld) < 1e-6, `${self.fld}`);
  assert.equal(self.precision, 1);
  assert.equal(self.recall, 1);
});

test('evaluateSynthetic gives the `dp2 eval --json` document', async () => {
  const result = await evaluateSynthetic({
    synthetic: heldOut,
    realTest,
    extractor,
    seeds: [0, 1],
    classifiers: ['lr'],
  });
  const json = toEvalJson(result);
  assert.equal(json.mlp, null);
  assert.equal(json.cnn, null);
  assert.ok(json.lr && json.lr.mean > 70);
  assert.equal(typeof json.fld, 'number');
  // Beside the accuracy, what answering the commonest test class scores (MNIST: ≈ 11 %).
  assert.ok(json.majority_rate > 9 && json.majority_rate < 15, `${json.majority_rate}`);
  assert.equal(json.imbalanced, false);
  assert.ok(
    json.balanced_accuracy.lr && Math.abs(json.balanced_accuracy.lr.mean - json.lr.mean) < 3,
  );
  assert.deepEqual(
    { n: json.n_synthetic, t: json.n_test, s: json.seeds },
    { n: 1000, t: 1000, s: [0, 1] },
  );
});
