import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  DEFAULT_FEATURE_NET,
  MAX_PRIOR_PARAMETERS,
  checkFeatureNetSpec,
  featureLayers,
  parameterCount,
  type FeatureNetSpec,
} from '../../../src-main/priors/network/architecture';
import {
  createTrainableNet,
  disposeNet,
  featureCount,
  foldBatchNorm,
  foldedStages,
  poolLayer,
  readFeatures,
  trainStages,
} from '../../../src-main/priors/network/feature-net';
import { ntXent } from '../../../src-main/priors/pretrain/contrastive';
import { learningRateAt } from '../../../src-main/priors/pretrain/pretrain';
import { DEFAULT_PRETRAIN } from '../../../src-main/priors/pretrain/pretrain';

const small: FeatureNetSpec = { widths: [4, 6, 8], stemStride: 1 };

describe('random-process prior: feature network', () => {
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
  });

  it('the shipped network has at most 3 M parameters, and oversized ones are refused', () => {
    assert.ok(parameterCount(DEFAULT_FEATURE_NET) <= MAX_PRIOR_PARAMETERS);
    checkFeatureNetSpec(DEFAULT_FEATURE_NET);
    assert.throws(
      () => checkFeatureNetSpec({ widths: [512, 512, 512, 512, 512], stemStride: 1 }),
      /at most 3000000/,
    );
    assert.throws(() => checkFeatureNetSpec({ widths: [8], stemStride: 1 }), /2 to 5 widths/);
  });

  it('folding batch normalisation gives the training-mode outputs on the calibration batch', () => {
    const net = createTrainableNet(small, 3);
    const x = tf.randomUniform([12, 28, 28, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const folded = foldBatchNorm(net, x);
    const trained = tf.tidy(() => trainStages(small, net.params, x));
    const inferred = foldedStages(folded, x);
    trained.forEach((t, k) => {
      const diff = tf.max(tf.abs(tf.sub(t, inferred[k] as tf.Tensor))).dataSync()[0] as number;
      assert.ok(diff < 1e-3, `stage ${k + 1}: max difference ${diff}`);
    });
    tf.dispose([x, ...trained, ...inferred]);
    disposeNet(net);
    disposeNet(folded);
  });

  it('is fully convolutional: one set of weights serves 28 to 128 pixels, grey and colour', () => {
    const net = createTrainableNet(small, 1);
    const folded = foldBatchNorm(net, tf.randomUniform([8, 32, 32, 3]) as tf.Tensor4D);
    const readout = { layers: featureLayers(small), grid: 2 };
    for (const [size, channels] of [
      [28, 1],
      [32, 3],
      [64, 1],
      [128, 3],
    ] as const) {
      const f = readFeatures(
        folded,
        tf.randomUniform([2, size, size, channels]) as tf.Tensor4D,
        readout,
      );
      assert.deepEqual(f.shape, [2, featureCount(small, readout)]);
      f.dispose();
    }
    // A grey image and its three-channel copy have the same features.
    const grey = tf.randomUniform([1, 28, 28, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const a = readFeatures(folded, grey, readout).dataSync();
    const b = readFeatures(folded, tf.tile(grey, [1, 1, 1, 3]) as tf.Tensor4D, readout).dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    disposeNet(net);
    disposeNet(folded);
  });

  it('grid pooling averages the right regions', () => {
    // One channel, 3×3 map of 0..8; a 2×2 adaptive grid takes rows/cols {0,1} and {1,2}.
    const maps = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 3, 3, 1]);
    assert.deepEqual(Array.from(poolLayer(maps, 2).dataSync()), [2, 3, 5, 6]);
    assert.deepEqual(Array.from(poolLayer(maps, 1).dataSync()), [4]);
  });

  it('NT-Xent: partners that agree give a lower loss than unrelated embeddings, and matches eq. 1 on a small case', () => {
    const z = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 0],
      [0, 1],
    ]);
    // Row 0: partner row 2 has cosine 1; the others (rows 1, 3) 0. τ = 1: −log(e / (e + 2)).
    const expected = -Math.log(Math.E / (Math.E + 2));
    assert.ok(Math.abs((ntXent(z, 1).dataSync()[0] as number) - expected) < 1e-5);
    const mismatched = tf.tensor2d([
      [1, 0],
      [0, 1],
      [0, 1],
      [1, 0],
    ]);
    assert.ok(
      (ntXent(mismatched, 0.2).dataSync()[0] as number) > (ntXent(z, 0.2).dataSync()[0] as number),
    );
  });

  it('the step size warms up linearly, then falls along a half cosine to zero', () => {
    const o = {
      ...DEFAULT_PRETRAIN,
      spec: small,
      seed: 1,
      families: ['spectral' as const],
      steps: 100,
      warmupSteps: 10,
    };
    assert.ok(Math.abs(learningRateAt(0, o) - o.learningRate / 10) < 1e-12);
    assert.ok(Math.abs(learningRateAt(9, o) - o.learningRate) < 1e-12);
    assert.ok(learningRateAt(55, o) < o.learningRate && learningRateAt(55, o) > 0);
    assert.ok(learningRateAt(99, o) < o.learningRate * 0.01);
  });
});
