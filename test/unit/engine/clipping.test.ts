import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import { clipByGroupNorm } from '../../../src-main/engine/optim';
import {
  clipInPlace,
  l2Norm,
  privatizeInPlace,
  type NoiseSource,
} from '../../../src-main/engine/privatize';
import { SeededRng } from '../../../src-main/engine/rng';
import { SecureGaussian } from '../../../src-main/engine/secure-noise';

before(async () => {
  await selectBackend();
});

function randomVector(n: number, scale: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  SeededRng.fromSeed(seed).fillNormal(v, scale);
  return v;
}

/** Test-only noise source with σ = 0 behaviour (the public stage-2 API refuses σ = 0). */
const noNoise: NoiseSource = { fill: (out) => out.fill(0) };

test('clipping bounds the norm of the privatised vector by C, never above', () => {
  for (const [n, scale, clip] of [
    [538_640, 10, 1],
    [538_640, 1e-3, 1],
    [1000, 1e6, 0.5],
    [7, 3, 1e-3],
  ] as const) {
    for (let seed = 0; seed < 3; seed++) {
      const v = randomVector(n, scale, seed);
      const before = l2Norm(v);
      const { norm, scale: s } = clipInPlace(v, clip);
      assert.ok(Math.abs(norm - before) <= 1e-9 * before);
      const after = l2Norm(v);
      assert.ok(after <= clip, `norm ${after} > C = ${clip}`);
      if (before <= clip) assert.equal(s, 1, 'a gradient inside the ball is not changed');
      else assert.ok(after > clip * (1 - 1e-5), 'a large gradient is scaled to the sphere');
    }
  }
});

test('with zero noise the mechanism is exactly clipping (test-only σ = 0 check)', () => {
  const v = randomVector(10_000, 5, 9);
  const expected = Float32Array.from(v);
  clipInPlace(expected, 2);
  privatizeInPlace(v, 2, 0, noNoise);
  assert.deepEqual(v, expected);
});

test('the noise added has std σ·C around the clipped gradient', () => {
  const n = 200_000;
  const clip = 0.5;
  const sigma = 4;
  const v = randomVector(n, 1, 3);
  const clipped = Float32Array.from(v);
  clipInPlace(clipped, clip);
  privatizeInPlace(v, clip, sigma, new SecureGaussian());
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const d = (v[i] as number) - (clipped[i] as number);
    s += d;
    s2 += d * d;
  }
  const std = sigma * clip;
  assert.ok(Math.abs(s / n) < (7 * std) / Math.sqrt(n));
  assert.ok(Math.abs(s2 / n - std * std) < 7 * std * std * Math.sqrt(2 / n));
});

test('non-finite gradients and invalid clipping norms are refused', () => {
  assert.throws(() => clipInPlace(Float32Array.of(1, Number.NaN), 1), RangeError);
  assert.throws(() => clipInPlace(Float32Array.of(1), 0), RangeError);
  assert.throws(() => privatizeInPlace(Float32Array.of(1), 1, -1, noNoise), RangeError);
});

test('per-model clipping of stacked gradients bounds every model separately', () => {
  const g = 3;
  const a = tf.tensor(randomVector(g * 50 * 20, 1, 1), [g, 50, 20]);
  // Model 0 large, model 1 tiny, model 2 large.
  const scales = tf.tensor([100, 1e-4, 10], [g, 1, 1]);
  const b = tf.tensor(randomVector(g * 20, 1, 2), [g, 20]);
  const grads = [tf.mul(a, scales), tf.mul(b, tf.reshape(scales, [g, 1]))];
  const { grads: clipped, norms } = clipByGroupNorm(grads, 1.5);
  const flat = (ts: tf.Tensor[], m: number): number => {
    let s = 0;
    for (const t of ts) {
      const per = t.size / g;
      const d = t.dataSync().subarray(m * per, (m + 1) * per);
      for (const x of d) s += x * x;
    }
    return Math.sqrt(s);
  };
  for (let m = 0; m < g; m++) {
    const before = flat(grads, m);
    const after = flat(clipped, m);
    assert.ok(Math.abs((norms[m] as number) - before) < 1e-4 * before);
    assert.ok(after <= 1.5 * (1 + 1e-5), `model ${m}: ${after}`);
    if (before < 1.5) assert.ok(Math.abs(after - before) < 1e-6 * before + 1e-12);
  }
  tf.dispose([a, b, scales, ...grads, ...clipped]);
});
