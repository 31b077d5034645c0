import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import { createClassifier } from '../../../src-main/eval/classifiers';
import {
  conv2dSame,
  dropoutMask,
  filterGradient,
  geometryOf,
  im2colColumns,
  samePadding,
} from '../../../src-main/eval/conv';

before(async () => {
  await selectBackend();
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

test("samePadding matches TensorFlow's 'same' rule", () => {
  assert.deepEqual(samePadding(28, 3, 2), { out: 14, before: 0 });
  assert.deepEqual(samePadding(14, 3, 2), { out: 7, before: 0 });
  assert.deepEqual(samePadding(8, 5, 2), { out: 4, before: 1 });
  assert.deepEqual(samePadding(7, 3, 1), { out: 7, before: 1 });
});

test('conv2dSame gives the value and both gradients of tf.conv2d(…, "same")', () => {
  // [batch, H, W, C, kernel, stride, filters]: the sub-pixel path and the fallbacks.
  const cases = [
    [2, 14, 14, 3, 3, 2, 4],
    [2, 8, 6, 2, 5, 2, 3],
    [1, 9, 9, 2, 3, 3, 2],
    [2, 6, 6, 2, 3, 1, 2],
    [1, 8, 8, 1, 4, 2, 2],
    [1, 7, 7, 1, 3, 2, 2], // odd size: falls back to tfjs's gradient
  ];
  for (const [b, h, w, c, k, s, f] of cases as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ][]) {
    tf.tidy(() => {
      const x = tf.randomNormal([b, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
      const filter = tf.randomNormal([k, k, c, f], 0, 1, 'float32', 2) as tf.Tensor4D;
      const oh = Math.ceil(h / s);
      const ow = Math.ceil(w / s);
      const weight = tf.randomNormal([b, oh, ow, f], 0, 1, 'float32', 3);
      const loss =
        (conv: (a: tf.Tensor4D, z: tf.Tensor4D) => tf.Tensor4D) =>
        (a: tf.Tensor, z: tf.Tensor): tf.Tensor =>
          tf.sum(tf.mul(conv(a as tf.Tensor4D, z as tf.Tensor4D), weight));
      const ref = tf.grads(loss((a, z) => tf.conv2d(a, z, s, 'same')))([x, filter]);
      const ours = tf.grads(loss((a, z) => conv2dSame(a, z, s)))([x, filter]);
      const label = `case ${[b, h, w, c, k, s, f].join(',')}`;
      assert.ok(
        maxAbsDiff(tf.conv2d(x, filter, s, 'same'), conv2dSame(x, filter, s)) < 1e-4,
        label,
      );
      assert.ok(maxAbsDiff(ref[0] as tf.Tensor, ours[0] as tf.Tensor) < 1e-4, `${label} dx`);
      assert.ok(maxAbsDiff(ref[1] as tf.Tensor, ours[1] as tf.Tensor) < 1e-3, `${label} dw`);
    });
  }
});

test('dropout masks: values 0 or 1/(1 − rate), about the right share of zeros, seeded', () => {
  for (const rate of [0.5, 0.2]) {
    const m = dropoutMask(SeededRng.fromSeed(1), 100_001, rate);
    const keep = 1 / (1 - rate);
    let zeros = 0;
    for (const v of m) {
      assert.ok(v === 0 || Math.abs(v - keep) < 1e-6);
      if (v === 0) zeros++;
    }
    assert.ok(Math.abs(zeros / m.length - rate) < 0.01, `rate ${rate}: ${zeros / m.length}`);
    assert.deepEqual(dropoutMask(SeededRng.fromSeed(1), 100_001, rate), m);
  }
});

test('im2colColumns lays out the taps of conv2d(…, "same") one output position per column', () => {
  for (const [shape, k, s] of [
    [[2, 6, 5, 2], 3, 2],
    [[1, 7, 7, 1], 3, 2],
    [[2, 8, 8, 3], 5, 2],
  ] as const) {
    tf.tidy(() => {
      const c = shape[3];
      const x = tf.randomNormal([...shape], 0, 1, 'float32', 6) as tf.Tensor4D;
      const filter = tf.randomNormal([k, k, c, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
      const g = geometryOf(x.shape, k, s);
      const positions = g.batch * g.outH * g.outW;
      const taps = k * k * c;
      const cols = new Float32Array(taps * positions).fill(7);
      im2colColumns(x.dataSync() as Float32Array, g, cols);
      // conv = colsᵀ × w: [positions, taps] × [taps, 4]
      const viaCols = tf.matMul(
        tf.tensor2d(cols, [taps, positions]),
        tf.reshape(filter, [taps, 4]),
        true,
      );
      const ref = tf.reshape(tf.conv2d(x, filter, s, 'same'), [positions, 4]);
      assert.ok(maxAbsDiff(viaCols, ref) < 1e-4, `${shape} k ${k}`);
    });
  }
});

test('filterGradient equals tfjs’s Conv2DBackpropFilter', () => {
  // [batch, H, W, C, kernel, stride, filters]
  const cases = [
    [3, 14, 14, 4, 3, 2, 5],
    [40, 14, 14, 3, 3, 2, 2], // several blocks of images
    [2, 8, 6, 2, 5, 2, 3],
    [1, 9, 9, 2, 3, 3, 2],
    [2, 6, 6, 2, 3, 1, 2],
    [1, 7, 7, 1, 3, 2, 2],
  ];
  for (const [b, h, w, c, k, s, f] of cases as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ][]) {
    tf.tidy(() => {
      const x = tf.randomNormal([b, h, w, c], 0, 1, 'float32', 4) as tf.Tensor4D;
      const g = geometryOf(x.shape, k, s);
      const dy = tf.randomNormal([b, g.outH, g.outW, f], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ref = tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: s, pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, c, f] },
        ) as tf.Tensor;
      const ours = filterGradient(x, dy, g);
      assert.deepEqual(ours.shape, ref.shape);
      assert.ok(maxAbsDiff(ref, ours) < 1e-3, `case ${[b, h, w, c, k, s, f]}`);
    });
  }
});

test('hand-written gradients equal tfjs’s tape (CNN: on the same dropout masks)', () => {
  for (const [kind, h, w, c] of [
    ['lr', 28, 28, 1],
    ['mlp', 28, 28, 1],
    ['mlp', 6, 5, 3],
    ['cnn', 28, 28, 1],
    ['cnn', 12, 10, 3],
    ['cnn', 14, 14, 1], // 7×7 after the first layer: tfjs's input gradient for the second
  ] as const) {
    const model = createClassifier(kind, { height: h, width: w, channels: c }, 10, 3);
    tf.tidy(() => {
      const x = tf.randomUniform([5, h, w, c], 0, 1, 'float32', 8) as tf.Tensor4D;
      const y = tf.oneHot(tf.tensor1d([0, 3, 9, 3, 1], 'int32'), 10) as tf.Tensor2D;
      const ours = model.gradients?.(x, x.dataSync() as Float32Array, y, SeededRng.fromSeed(9));
      assert.ok(ours, `${kind} has hand-written gradients`);
      const { grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.logits(x, SeededRng.fromSeed(9))) as tf.Scalar,
        model.variables,
      );
      model.variables.forEach((v, i) => {
        const ref = grads[v.name] as tf.Tensor;
        const scale = Math.max(1e-3, tf.max(tf.abs(ref)).dataSync()[0] as number);
        const label = `${kind} ${h}×${w}×${c} ${v.name}`;
        assert.deepEqual(ours[i]?.shape, ref.shape, label);
        assert.ok(maxAbsDiff(ours[i] as tf.Tensor, ref) < 1e-4 * scale + 1e-6, label);
      });
    });
    model.dispose();
  }
});
