/**
 * The evaluation's own WebAssembly kernels (wasm-kernels.ts) against plain
 * tfjs: one Adam step, and the transposed im2col matrix. Skipped where the
 * tests do not run on the WebAssembly backend.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import { geometryOf, im2colColumns } from '../../../src-main/eval/conv';
import { adamStepOnWasm, im2colColumnsOnWasm, onWasm } from '../../../src-main/eval/wasm-kernels';

before(async () => {
  await selectBackend();
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

test('one Adam step in one pass equals the tfjs formula', (t) => {
  if (!onWasm()) return t.skip('not on the WebAssembly backend');
  tf.tidy(() => {
    const w = tf.randomNormal([300, 7], 0, 1, 'float32', 1);
    const g = tf.randomNormal([300, 7], 0, 1, 'float32', 2);
    const m = tf.randomNormal([300, 7], 0, 0.1, 'float32', 3);
    const v = tf.abs(tf.randomNormal([300, 7], 0, 0.1, 'float32', 4));
    const [b1, b2, eps, lr, step] = [0.9, 0.999, 1e-8, 3e-3, 7];
    const c1 = 1 - b1 ** step;
    const c2 = 1 - b2 ** step;
    const [w2, m2, v2] = adamStepOnWasm(w, g, m, v, { lr, beta1: b1, beta2: b2, eps, c1, c2 });
    const mRef = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const vRef = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
    const wRef = tf.sub(
      w,
      tf.mul(tf.div(tf.div(mRef, c1), tf.add(tf.sqrt(tf.div(vRef, c2)), eps)), lr),
    );
    assert.ok(maxAbsDiff(m2, mRef) < 1e-6);
    assert.ok(maxAbsDiff(v2, vRef) < 1e-6);
    assert.ok(maxAbsDiff(w2, wRef) < 1e-6);
    assert.deepEqual(w2.shape, [300, 7]);
  });
});

test('the im2col kernel writes what im2colColumns computes', (t) => {
  if (!onWasm()) return t.skip('not on the WebAssembly backend');
  tf.tidy(() => {
    const x = tf.randomNormal([3, 10, 8, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
    const g = geometryOf(x.shape, 3, 2);
    const expected = new Float32Array(36 * 3 * g.outH * g.outW);
    im2colColumns(x.dataSync() as Float32Array, g, expected);
    const got = im2colColumnsOnWasm(x, g);
    assert.deepEqual(got.shape, [36, 3 * g.outH * g.outW]);
    assert.deepEqual(got.dataSync(), expected);
  });
});
