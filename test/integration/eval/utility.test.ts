/**
 * The downstream-utility protocol (DP²-VAE Appendix B.4) on small MNIST
 * subsets (5 000 training, 1 000 test images) with a small training budget: real images as "synthetic" data give
 * high accuracy on the real test split; noise, or real images with shuffled
 * labels, give chance (≈ 10 %).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import { evaluateUtility, type EvalImages } from '../../../src-main/eval';

const N_TRAIN = 5000;
const N_TEST = 1000;
let train: EvalImages;
let test_: EvalImages;

function head(set: EvalImages, n: number): EvalImages {
  const size = set.height * set.width;
  return { ...set, x: set.x.subarray(0, n * size), y: Array.from(set.y).slice(0, n), count: n };
}

before(async () => {
  await selectBackend();
  const mnist = loadBundledMnist();
  train = head(mnist.train, N_TRAIN);
  test_ = head(mnist.test, N_TEST);
});

test('real MNIST as synthetic data: LR > 85 %, MLP > 90 %, CNN > 90 %', async () => {
  const r = await evaluateUtility({
    train,
    test: test_,
    seeds: [0],
    configs: {
      lr: { epochs: 8, batchSize: 32, minSteps: 0 },
      mlp: { epochs: 8, batchSize: 32, minSteps: 0 },
      cnn: { epochs: 3, batchSize: 64, minSteps: 0 },
    },
  });
  console.log(`real 5k: LR ${r.lr?.mean} %, MLP ${r.mlp?.mean} %, CNN ${r.cnn?.mean} %`);
  assert.ok((r.lr?.mean ?? 0) > 85, `LR ${r.lr?.mean}`);
  assert.ok((r.mlp?.mean ?? 0) > 90, `MLP ${r.mlp?.mean}`);
  assert.ok((r.cnn?.mean ?? 0) > 90, `CNN ${r.cnn?.mean}`);
});

test('random noise images with random labels score near chance (< 20 %)', async () => {
  const rng = SeededRng.fromSeed(11);
  const n = 1000;
  const x = new Uint8Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.nextInt(256);
  const y = Array.from({ length: n }, () => rng.nextInt(10));
  const r = await evaluateUtility({
    train: { x, y, count: n, height: 28, width: 28 },
    test: test_,
    seeds: [0],
    // The protocol's step floor, shortened: many passes over a small set of noise.
    configs: { lr: { minSteps: 300 }, mlp: { minSteps: 300 }, cnn: { minSteps: 300 } },
  });
  console.log(`noise: LR ${r.lr?.mean} %, MLP ${r.mlp?.mean} %, CNN ${r.cnn?.mean} %`);
  for (const k of ['lr', 'mlp', 'cnn'] as const)
    assert.ok((r[k]?.mean ?? 100) < 20, `${k} ${r[k]?.mean}`);
});

test('real images with shuffled labels score near chance (< 20 %)', async () => {
  const y = Array.from(train.y);
  SeededRng.fromSeed(12).shuffle(y);
  const r = await evaluateUtility({
    train: { ...head(train, 1500), y: y.slice(0, 1500) },
    test: test_,
    seeds: [0],
    // The protocol's step floor, shortened: many passes over a small set of noise.
    configs: { lr: { minSteps: 300 }, mlp: { minSteps: 300 }, cnn: { minSteps: 300 } },
  });
  console.log(`shuffled: LR ${r.lr?.mean} %, MLP ${r.mlp?.mean} %, CNN ${r.cnn?.mean} %`);
  for (const k of ['lr', 'mlp', 'cnn'] as const)
    assert.ok((r[k]?.mean ?? 100) < 20, `${k} ${r[k]?.mean}`);
});
