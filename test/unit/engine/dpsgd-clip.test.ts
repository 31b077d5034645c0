/**
 * DP-SGD per-example clipping: the norm trick (no per-example gradient
 * materialised) equals a microbatch-of-1 loop of tf.grads, norms and clipped
 * sums, to ~1e-4 relative; every record's contribution is at most C.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  convArchitecture,
  defaultArchitecture,
  type ConvCvaeArchitecture,
  type MlpCvaeArchitecture,
} from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  clipFactor,
  clippedSumConvTrick,
  clippedSumLoop,
  clippedSumTrick,
  CLIP_MARGIN,
  type FlatBatch,
} from '../../../src-main/engine/dpsgd-clip';
import { initParams } from '../../../src-main/engine/params';
import { SeededRng } from '../../../src-main/engine/rng';
import { loadBundledMnist } from '../../../src-main/data/mnist';

before(async () => {
  await selectBackend();
});

function mnistBatch(arch: MlpCvaeArchitecture, n: number, seed: number): FlatBatch {
  const m = loadBundledMnist().train;
  const x = new Float32Array(n * 784);
  const y = new Float32Array(n * arch.classes);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 784; j++) x[i * 784 + j] = (m.x[(i + 100) * 784 + j] as number) / 255;
    y[i * arch.classes + (m.y[i + 100] as number)] = 1;
  }
  const eps = new Float32Array(n * arch.latent);
  SeededRng.fromSeed(seed).fillNormal(eps);
  return {
    x: tf.tensor2d(x, [n, 784]),
    y: tf.tensor2d(y, [n, arch.classes]),
    eps: tf.tensor2d(eps, [n, arch.latent]),
  };
}

function relErr(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d += ((a[i] as number) - (b[i] as number)) ** 2;
    s += (b[i] as number) ** 2;
  }
  return Math.sqrt(d / Math.max(s, 1e-30));
}

for (const [label, arch] of [
  ['small model', { ...defaultArchitecture(), encoderHidden: [64, 32], decoderHidden: [48] }],
  ['the paper model', defaultArchitecture()],
] as const) {
  test(`norm trick = microbatch loop (${label}): norms and clipped sum`, () => {
    const a = arch as MlpCvaeArchitecture;
    const enc = initParams(a, 'encoder', [5]).tensors;
    const dec = initParams(a, 'decoder', [6]).tensors;
    const batch = mnistBatch(a, 12, 9);
    // C between the smallest and largest norm, so some records are clipped and some not.
    const probe = clippedSumLoop(a, { encoder: enc, decoder: dec }, batch, 1e9);
    const sorted = [...probe.norms].sort((x, y) => x - y);
    const clip = sorted[6] as number;
    for (const g of probe.grads) g.dispose();
    const ref = clippedSumLoop(a, { encoder: enc, decoder: dec }, batch, clip);
    const fast = clippedSumTrick(a, { encoder: enc, decoder: dec }, batch, clip);
    assert.ok(relErr(fast.norms, ref.norms) < 1e-4, `norms ${relErr(fast.norms, ref.norms)}`);
    assert.ok(Math.abs(fast.reconSum - ref.reconSum) < 1e-3 * Math.abs(ref.reconSum));
    assert.ok(Math.abs(fast.klSum - ref.klSum) < 1e-3 * Math.abs(ref.klSum) + 1e-3);
    assert.equal(fast.grads.length, ref.grads.length);
    fast.grads.forEach((g, i) => {
      assert.deepEqual(g.shape, ref.grads[i]!.shape);
    });
    const flat = (ts: tf.Tensor[]) =>
      Float32Array.from(ts.flatMap((t) => Array.from(t.dataSync() as Float32Array)));
    const e = relErr(flat(fast.grads), flat(ref.grads));
    assert.ok(e < 1e-4, `clipped sum relative error ${e}`);
    // Each record contributes at most C: the sum has norm ≤ B·C.
    const total = Math.sqrt(flat(fast.grads).reduce((s, v) => s + v * v, 0));
    assert.ok(total <= 12 * clip);
    for (const t of [...enc, ...dec, ...fast.grads, ...ref.grads, batch.x, batch.y, batch.eps])
      t.dispose();
  });
}

test('conv variant: the probes-and-patches trick = microbatch loop (28×28 and 32×32×3)', () => {
  for (const [image, n] of [
    [{ height: 28, width: 28, channels: 1 }, 6],
    [{ height: 32, width: 32, channels: 3 }, 4],
  ] as const) {
    const a: ConvCvaeArchitecture = {
      ...convArchitecture(image),
      convChannels: [8, 16],
      hidden: 32,
    };
    const d = image.height * image.width * image.channels;
    const rng = SeededRng.fromSeed(21);
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = rng.nextFloat();
    const y = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
    const eps = new Float32Array(n * a.latent);
    rng.fillNormal(eps);
    const batch: FlatBatch = {
      x: tf.tensor2d(x, [n, d]),
      y: tf.tensor2d(y, [n, 10]),
      eps: tf.tensor2d(eps, [n, a.latent]),
    };
    const enc = initParams(a, 'encoder', [7]).tensors;
    const dec = initParams(a, 'decoder', [8]).tensors;
    const probe = clippedSumLoop(a, { encoder: enc, decoder: dec }, batch, 1e9);
    const clip = [...probe.norms].sort((p, q) => p - q)[Math.floor(n / 2)] as number;
    for (const g of probe.grads) g.dispose();
    const ref = clippedSumLoop(a, { encoder: enc, decoder: dec }, batch, clip);
    const fast = clippedSumConvTrick(a, { encoder: enc, decoder: dec }, batch, clip);
    assert.ok(relErr(fast.norms, ref.norms) < 1e-4, `norms ${relErr(fast.norms, ref.norms)}`);
    assert.equal(fast.grads.length, ref.grads.length);
    fast.grads.forEach((g, i) => assert.deepEqual(g.shape, ref.grads[i]!.shape, `param ${i}`));
    const flat = (ts: tf.Tensor[]) =>
      Float32Array.from(ts.flatMap((t) => Array.from(t.dataSync() as Float32Array)));
    const e = relErr(flat(fast.grads), flat(ref.grads));
    assert.ok(e < 1e-4, `clipped sum relative error ${e}`);
    for (const t of [...enc, ...dec, ...fast.grads, ...ref.grads, batch.x, batch.y, batch.eps])
      t.dispose();
  }
});

test('clip factor: min(1, C/‖g‖) with a margin, refuses non-finite norms', () => {
  assert.equal(clipFactor(0, 1), 1);
  assert.equal(clipFactor(0.5, 1), 1);
  assert.ok(Math.abs(clipFactor(10, 1) * 10 - (1 - CLIP_MARGIN)) < 1e-12);
  assert.ok(clipFactor(10, 1) * 10 < 1);
  assert.throws(() => clipFactor(Number.NaN, 1), /diverged/);
  assert.throws(() => clipFactor(Infinity, 1), /diverged/);
});
