import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../src-main/contract/errors';
import {
  convArchitecture,
  defaultArchitecture,
  imageSize,
  type Architecture,
} from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import { elboGradients, type CvaeBatch } from '../../../src-main/engine/cvae';
import { initOptimizer, optimizerStep } from '../../../src-main/engine/optim';
import { initParams } from '../../../src-main/engine/params';
import { SeededRng } from '../../../src-main/engine/rng';

function batchOf(arch: Architecture, g: number, b: number, seed: number): CvaeBatch {
  const rng = SeededRng.fromSeed(seed);
  const d = imageSize(arch);
  const x = Float32Array.from({ length: g * b * d }, () => rng.nextFloat());
  const y = new Float32Array(g * b * arch.classes);
  for (let i = 0; i < g * b; i++) y[i * arch.classes + rng.nextInt(arch.classes)] = 1;
  const eps = new Float32Array(g * b * arch.latent);
  rng.fillNormal(eps);
  return {
    x: tf.tensor3d(x, [g, b, d]),
    y: tf.tensor3d(y, [g, b, arch.classes]),
    mask: tf.ones([g, b]) as tf.Tensor2D,
    eps: tf.tensor3d(eps, [g, b, arch.latent]),
  };
}

/** Loss terms and every gradient of G models, as plain arrays, on the active backend. */
function gradientsHere(arch: Architecture, g: number): { loss: number[]; grads: Float32Array[] } {
  const enc = initParams(
    arch,
    'encoder',
    Array.from({ length: g }, (_, i) => i + 1),
  ).tensors;
  const dec = initParams(
    arch,
    'decoder',
    Array.from({ length: g }, (_, i) => i + 101),
  ).tensors;
  const batch = batchOf(arch, g, 4, 9);
  const r = elboGradients(arch, enc, dec, batch, { encoder: true, decoder: true });
  const grads = [...r.encoder!, ...r.decoder!].map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([
    ...enc,
    ...dec,
    ...r.encoder!,
    ...r.decoder!,
    batch.x,
    batch.y,
    batch.mask,
    batch.eps,
  ]);
  return { loss: [...r.recon, ...r.kl], grads };
}

function assertClose(
  a: { loss: number[]; grads: Float32Array[] },
  b: typeof a,
  what: string,
): void {
  a.loss.forEach((v, i) =>
    assert.ok(Math.abs(v - b.loss[i]!) <= 1e-4 * Math.abs(v) + 1e-4, `${what}: loss ${i}`),
  );
  a.grads.forEach((g, i) => {
    let scale = 0;
    let diff = 0;
    for (let j = 0; j < g.length; j++) {
      scale = Math.max(scale, Math.abs(g[j]!));
      diff = Math.max(diff, Math.abs(g[j]! - b.grads[i]![j]!));
    }
    assert.ok(
      diff <= 1e-3 * scale + 1e-6,
      `${what}: gradient ${i} differs by ${diff} (scale ${scale})`,
    );
  });
}

test('selection reports what it tried and why, one line each', async () => {
  const sel = await selectBackend({ env: {} });
  assert.equal(tf.getBackend(), sel.name === 'tensorflow-gpu' ? 'tensorflow' : sel.name);
  const order = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  assert.deepEqual(
    sel.tried.map((t) => t.name),
    order.slice(0, order.indexOf(sel.name)),
  );
  for (const t of sel.tried) assert.ok(t.reason.length > 0 && !t.reason.includes('\n'), t.reason);
  console.log(`backend: ${sel.name}; tried: ${JSON.stringify(sel.tried)}`);
});

test('DP2_BACKEND forces a backend, and an unknown or unloadable one fails in plain words', async () => {
  assert.equal((await selectBackend({ env: { DP2_BACKEND: 'cpu' } })).name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  await assert.rejects(selectBackend({ env: { DP2_BACKEND: 'gpu-please' } }), UserError);
  const sel = await selectBackend({ env: {} });
  if (sel.name !== 'tensorflow' && sel.name !== 'tensorflow-gpu') {
    await assert.rejects(
      selectBackend({ env: { DP2_BACKEND: 'tensorflow' } }),
      (e: unknown) =>
        e instanceof UserError && e.code === 'UNSUPPORTED' && /tensorflow/.test(e.message),
    );
  }
  assert.equal((await selectBackend({ prefer: 'cpu', env: {} })).name, 'cpu');
});

test('the wasm backend trains the default model for one step', async () => {
  assert.equal((await selectBackend({ env: { DP2_BACKEND: 'wasm' } })).name, 'wasm');
  const arch = defaultArchitecture();
  const enc = initParams(arch, 'encoder', [1]).tensors;
  const dec = initParams(arch, 'decoder', [2]).tensors;
  const before = dec.map((t) => Float32Array.from(t.dataSync()));
  const batch = batchOf(arch, 1, 16, 3);
  const r = elboGradients(arch, enc, dec, batch, { encoder: true, decoder: true });
  assert.ok(Number.isFinite(r.recon[0]!) && Number.isFinite(r.kl[0]!));
  const all = [...enc, ...dec];
  const step = optimizerStep(all, [...r.encoder!, ...r.decoder!], initOptimizer('adam', all), {
    kind: 'adam',
    lr: 1e-3,
  });
  const after = step.params.slice(enc.length).map((t) => t.dataSync());
  assert.ok(
    after.every((a, i) => a.some((v, j) => v !== before[i]![j])),
    'every decoder tensor moved',
  );
  tf.dispose([...step.params, ...step.state.m, ...step.state.v, ...r.encoder!, ...r.decoder!]);
  tf.dispose([batch.x, batch.y, batch.mask, batch.eps]);
});

test('our wasm kernels (batched/transposed matmul, conv filter and input gradients) agree with the cpu backend', async () => {
  const mlp = defaultArchitecture();
  const conv = convArchitecture({ height: 8, width: 8, channels: 3 }, 4);
  await selectBackend({ env: { DP2_BACKEND: 'cpu' } });
  const mlpCpu = gradientsHere(mlp, 2);
  const convCpu = gradientsHere(conv, 2);
  const a = tf.randomNormal([3, 5, 7], 0, 1, 'float32', 1);
  const b = tf.randomNormal([3, 6, 7], 0, 1, 'float32', 2);
  const c = tf.randomNormal([1, 5, 6], 0, 1, 'float32', 3);
  const d = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 4);
  const e = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 5);
  const img = tf.randomNormal([2, 5, 5, 6], 0, 1, 'float32', 6) as tf.Tensor4D;
  const filter = tf.randomNormal([4, 4, 3, 6], 0, 1, 'float32', 7) as tf.Tensor4D;
  const kernel3 = tf.randomNormal([3, 3, 3, 5], 0, 1, 'float32', 9) as tf.Tensor4D;
  const cases = (): Float32Array[] =>
    [
      tf.matMul(a, b, false, true),
      tf.matMul(a, d, true, false),
      tf.matMul(a, e, true, true),
      tf.matMul(b, a, false, true),
      tf.matMul(c, b),
      tf.matMul(a.reshape([15, 7]), b.reshape([18, 7]), false, true),
      // Conv2DBackpropInput: transposed convolutions and conv2d's input gradient.
      tf.conv2dTranspose(img, filter, [2, 10, 10, 3], 2, 'same'),
      tf.conv2dTranspose(img, filter, [2, 16, 16, 3], 3, 'valid'),
      tf.conv2dTranspose(img, filter, [2, 5, 5, 3], 1, 'same'),
      tf.grad((x) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, kernel3, 2, 'same'))))(
        tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 8) as tf.Tensor4D,
      ),
    ].map((t) => Float32Array.from(t.dataSync()));
  const expected = cases();
  await selectBackend({ env: { DP2_BACKEND: 'wasm' } });
  assertClose(gradientsHere(mlp, 2), mlpCpu, 'MLP CVAE');
  assertClose(gradientsHere(conv, 2), convCpu, 'conv CVAE');
  cases().forEach((got, i) =>
    got.forEach((v, j) => assert.ok(Math.abs(v - expected[i]![j]!) < 1e-4, `matmul case ${i}`)),
  );
});
