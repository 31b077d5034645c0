/**
 * DP-RandP phase 3's clipped sum (methods/randp/finetune-clip.ts): the
 * per-record gradient norms and the clipped sum of the whole classifier
 * (convolutions and linear model) from one backward pass must equal an
 * exact loop of one backward pass per record; and the network's forward
 * pass must be the read-out the released graph computes.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  networkClippedSum,
  networkClippedSumLoop,
  networkForward,
  type NetworkParams,
  type NetworkReadout,
} from '../../../src-main/methods/randp/finetune-clip';
import { perRecordTransform } from '../../../src-main/methods/randp/normalise';
import type { FeatureNetSpec } from '../../../src-main/priors/network/architecture';
import {
  createTrainableNet,
  disposeNet,
  foldBatchNorm,
  readFeatures,
} from '../../../src-main/priors/network/feature-net';

function makeParams(
  spec: FeatureNetSpec,
  channels: number,
  dims: number,
  classes: number,
  seed: number,
): NetworkParams {
  const trainable = createTrainableNet(spec, seed);
  const calibration = tf.randomUniform([8, 28, 28, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const net = foldBatchNorm(trainable, calibration);
  tf.dispose([calibration, ...trainable.params]);
  const kernels = net.kernels.map((k, i) =>
    i === 0 && channels === 1 ? (tf.sum(k, 2, true) as tf.Tensor4D) : k,
  );
  if (channels === 1) net.kernels[0]?.dispose();
  const head = new Float32Array((dims + 1) * classes);
  SeededRng.fromSeed(seed, 9).fillNormal(head, 0.5);
  return {
    spec,
    kernels,
    biases: net.biases,
    head: tf.tensor2d(head, [dims + 1, classes]),
    biasFeature: 0.5,
  };
}

function batchOf(count: number, side: number, channels: number, classes: number, seed: number) {
  const rng = SeededRng.fromSeed(seed, 3);
  const x = new Float32Array(count * side * side * channels);
  for (let i = 0; i < x.length; i++) x[i] = rng.nextFloat();
  // One record far from the others (all pixels bright): its gradient is the largest.
  x.fill(1, 0, side * side * channels);
  const labels = Array.from({ length: count }, (_, i) => i % classes);
  return {
    x: tf.tensor4d(x, [count, side, side, channels]),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D,
  };
}

function compare(
  p: NetworkParams,
  how: NetworkReadout,
  batch: { x: tf.Tensor4D; y: tf.Tensor2D },
  clip: number,
  options: { head?: boolean; from?: number } = {},
): { clipped: number } {
  const fast = networkClippedSum(p, how, batch, clip, options);
  const slow = networkClippedSumLoop(p, how, batch, clip, options);
  try {
    for (let i = 0; i < slow.norms.length; i++) {
      const a = fast.norms[i] as number;
      const b = slow.norms[i] as number;
      assert.ok(Math.abs(a - b) <= 1e-3 * b + 1e-6, `record ${i}: norm ${a} against ${b}`);
    }
    assert.ok(Math.abs(fast.lossSum - slow.lossSum) < 1e-3 * Math.abs(slow.lossSum));
    fast.grads.forEach((g, j) => {
      const a = g.dataSync();
      const b = (slow.grads[j] as tf.Tensor).dataSync();
      assert.deepEqual(g.shape, (slow.grads[j] as tf.Tensor).shape);
      let scale = 0;
      for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
      for (let i = 0; i < b.length; i++) {
        assert.ok(
          Math.abs((a[i] as number) - (b[i] as number)) <= 2e-3 * scale + 1e-6,
          `parameter ${j}, entry ${i}: ${a[i]} against ${b[i]}`,
        );
      }
    });
    return { clipped: [...slow.norms].filter((n) => n > clip).length };
  } finally {
    tf.dispose([...fast.grads, ...slow.grads]);
  }
}

describe('randp phase 3: the clipped sum of the whole classifier', () => {
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
  });

  it('grey images, three stages on a 3×3 grid, power and per-stage standardisation: equal to the per-record loop', () => {
    const spec: FeatureNetSpec = { widths: [4, 6, 8, 10], stemStride: 1 };
    const groups = [6 * 9, 8 * 9, 10 * 9];
    const how: NetworkReadout = {
      readout: { layers: ['stage1', 'stage2', 'stage3'], grid: 3 },
      perRecord: { power: 0.5, groups },
    };
    const p = makeParams(spec, 1, 216, 3, 1);
    const batch = batchOf(7, 28, 1, 3, 2);
    try {
      const { clipped } = compare(p, how, batch, 1);
      // Both regimes are exercised: some records clipped, some not.
      assert.ok(clipped > 0 && clipped < 7, `${clipped} of 7 clipped`);
    } finally {
      tf.dispose([...p.kernels, ...p.biases, p.head, batch.x, batch.y]);
    }
  });

  it('colour images, a stride-2 stem, one layer read globally (the deeper stage gets no gradient): equal to the loop', () => {
    const spec: FeatureNetSpec = { widths: [4, 6, 8, 10], stemStride: 2 };
    const how: NetworkReadout = { readout: { layers: ['stage2'], grid: 1 }, perRecord: {} };
    const p = makeParams(spec, 3, 8, 4, 3);
    const batch = batchOf(5, 30, 3, 4, 4);
    try {
      compare(p, how, batch, 0.5);
    } finally {
      tf.dispose([...p.kernels, ...p.biases, p.head, batch.x, batch.y]);
    }
  });

  it('only the last stage trained (the linear model and earlier convolutions held): equal to the loop, zero elsewhere', () => {
    const spec: FeatureNetSpec = { widths: [4, 6, 8, 10], stemStride: 1 };
    const how: NetworkReadout = {
      readout: { layers: ['stage1', 'stage2', 'stage3'], grid: 2 },
      perRecord: { power: 0.5, groups: [6 * 4, 8 * 4, 10 * 4] },
    };
    const p = makeParams(spec, 1, 96, 3, 7);
    const batch = batchOf(6, 28, 1, 3, 8);
    try {
      compare(p, how, batch, 0.05, { head: false, from: 5 });
      const r = networkClippedSum(p, how, batch, 0.05, { head: false, from: 5 });
      const zero = (t: tf.Tensor) => t.dataSync().every((v) => v === 0);
      // Kernels 0–4 and their biases, and the head: exactly zero; kernels 5 and 6: not.
      assert.deepEqual(r.grads.map(zero), [
        true,
        true,
        true,
        true,
        true,
        false,
        false,
        true,
        true,
        true,
        true,
        true,
        false,
        false,
        true,
      ]);
      tf.dispose(r.grads);
    } finally {
      tf.dispose([...p.kernels, ...p.biases, p.head, batch.x, batch.y]);
    }
  });

  it('the forward pass reads the features the prior gives (readFeatures, then the per-record operations)', () => {
    const spec: FeatureNetSpec = { widths: [4, 6, 8, 10], stemStride: 1 };
    const trainable = createTrainableNet(spec, 5);
    const calibration = tf.randomUniform([8, 28, 28, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const net = foldBatchNorm(trainable, calibration);
    tf.dispose([calibration, ...trainable.params]);
    const readout = { layers: ['stage1', 'stage3'], grid: 2 };
    const perRecord = { power: 0.5, groups: [6 * 4, 10 * 4] };
    const dims = 64;
    const p: NetworkParams = {
      spec,
      kernels: net.kernels.map((k, i) => (i === 0 ? (tf.sum(k, 2, true) as tf.Tensor4D) : k)),
      biases: net.biases,
      head: tf.eye(dims + 1, dims + 1) as tf.Tensor2D,
      biasFeature: 1,
    };
    const { x } = batchOf(4, 28, 1, 2, 6);
    try {
      const want = perRecordTransform(
        readFeatures(net, x, readout).dataSync() as Float32Array,
        4,
        dims,
        perRecord,
      );
      const got = tf.tidy(() => networkForward(p, { readout, perRecord }, x).logits.dataSync());
      for (let i = 0; i < 4; i++) {
        for (let d = 0; d < dims; d++) {
          const a = got[i * (dims + 1) + d] as number;
          const b = want[i * dims + d] as number;
          assert.ok(Math.abs(a - b) < 1e-3, `image ${i}, feature ${d}: ${a} against ${b}`);
        }
      }
    } finally {
      disposeNet(net);
      tf.dispose([p.kernels[0] as tf.Tensor, p.head, x]);
    }
  });
});
