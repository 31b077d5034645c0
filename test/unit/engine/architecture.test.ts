import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../src-main/contract/errors';
import {
  convArchitecture,
  convBottleneck,
  defaultArchitecture,
  parameterCount,
  parameterSpecs,
  parseArchitecture,
} from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import { decodeLogits, encode } from '../../../src-main/engine/cvae';
import { initFlat, initParams } from '../../../src-main/engine/params';

before(async () => {
  await selectBackend();
});

test('the default model is Appendix B.1 of DP²-VAE', () => {
  const a = defaultArchitecture();
  assert.equal(parameterCount(a, 'encoder'), 794 * 512 + 512 + 512 * 256 + 256 + 256 * 16 + 16);
  assert.equal(parameterCount(a, 'decoder'), 538_640);
  assert.deepEqual(
    parameterSpecs(a, 'decoder').map((s) => s.shape),
    [[18, 256], [256], [256, 512], [512], [512, 784], [784]],
  );
});

test('descriptions are JSON data and survive a round trip; bad ones are refused', () => {
  for (const a of [
    defaultArchitecture(),
    convArchitecture({ height: 32, width: 32, channels: 3 }),
  ]) {
    assert.deepEqual(parseArchitecture(JSON.parse(JSON.stringify(a))), a);
  }
  const bad = [
    null,
    { ...defaultArchitecture(), version: 2 },
    { ...defaultArchitecture(), kind: 'transformer' },
    { ...defaultArchitecture(), latent: 0 },
    { ...defaultArchitecture(), encoderHidden: [] },
    {
      ...convArchitecture({ height: 32, width: 32, channels: 3 }),
      image: { height: 30, width: 32, channels: 3 },
    },
  ];
  for (const b of bad) assert.throws(() => parseArchitecture(b), UserError, JSON.stringify(b));
});

test('initialisation is Glorot-uniform per model seed, biases zero', () => {
  const a = defaultArchitecture();
  const f = initFlat(a, 'decoder', 1);
  assert.deepEqual(f, initFlat(a, 'decoder', 1));
  assert.notDeepEqual(f, initFlat(a, 'decoder', 2));
  const limit = Math.sqrt(6 / (18 + 256));
  const w0 = f.subarray(0, 18 * 256);
  assert.ok(w0.every((v) => Math.abs(v) <= limit) && Math.max(...w0.map(Math.abs)) > 0.9 * limit);
  assert.ok(f.subarray(18 * 256, 18 * 256 + 256).every((v) => v === 0));
  // A group's model g equals that seed's model alone.
  const g = initParams(a, 'decoder', [5, 1]);
  const first = g.tensors[0]!.dataSync().subarray(18 * 256, 2 * 18 * 256);
  assert.deepEqual(Float32Array.from(first), w0);
  tf.dispose(g.tensors);
});

test('the conv variant maps 64×64 images to (μ, log σ²) and back to 64×64 logits', () => {
  const a = convArchitecture({ height: 64, width: 64, channels: 1 }, 3);
  assert.deepEqual(a.convChannels, [32, 64, 64]);
  const enc = initParams(a, 'encoder', [1, 2]).tensors;
  const dec = initParams(a, 'decoder', [3, 4]).tensors;
  tf.tidy(() => {
    const x = tf.zeros([2, 3, 64 * 64]) as tf.Tensor3D;
    const y = tf.zeros([2, 3, 3]) as tf.Tensor3D;
    const { mu, logvar } = encode(a, enc, x, y);
    assert.deepEqual(mu.shape, [2, 3, 16]);
    assert.deepEqual(logvar.shape, [2, 3, 16]);
    assert.deepEqual(decodeLogits(a, dec, mu, y).shape, [2, 3, 64 * 64]);
  });
  tf.dispose([...enc, ...dec]);
});

test('the conv family adds a down-sampling layer per doubling: an 8×8 bottleneck and the same dense layers at 32, 64 and 128 pixels', () => {
  const counts: number[] = [];
  for (const [side, layers] of [
    [32, 2],
    [64, 3],
    [128, 4],
  ] as const) {
    for (const channels of [1, 3]) {
      const a = convArchitecture({ height: side, width: side, channels }, 2);
      assert.equal(a.convChannels.length, layers, `${side} px`);
      assert.deepEqual(convBottleneck(a), { height: 8, width: 8, channels: 64 });
      counts.push(parameterCount(a, 'encoder') + parameterCount(a, 'decoder'));
    }
  }
  // Laptop-sized: the dense layers dominate and do not grow with the side.
  const [min, max] = [Math.min(...counts), Math.max(...counts)];
  assert.ok(max < 2.5e6 && max < 1.15 * min, JSON.stringify(counts));
  const a = convArchitecture({ height: 128, width: 128, channels: 3 }, 2);
  const enc = initParams(a, 'encoder', [1]).tensors;
  const dec = initParams(a, 'decoder', [2]).tensors;
  tf.tidy(() => {
    const x = tf.zeros([1, 2, 128 * 128 * 3]) as tf.Tensor3D;
    const y = tf.zeros([1, 2, 2]) as tf.Tensor3D;
    const { mu } = encode(a, enc, x, y);
    assert.deepEqual(decodeLogits(a, dec, mu, y).shape, [1, 2, 128 * 128 * 3]);
  });
  tf.dispose([...enc, ...dec]);
});

test('a stored architecture keeps its own layers: an older 128-pixel model with three layers still reads', () => {
  // As a run stored it before 128 pixels had a fourth layer (a 16×16 bottleneck).
  const stored = JSON.parse(
    JSON.stringify({
      ...convArchitecture({ height: 64, width: 64, channels: 1 }, 2),
      image: { height: 128, width: 128, channels: 1 },
    }),
  ) as unknown;
  const a = parseArchitecture(stored);
  assert.equal(a.kind, 'conv-cvae');
  if (a.kind !== 'conv-cvae') return;
  assert.deepEqual(a.convChannels, [32, 64, 64]);
  assert.deepEqual(convBottleneck(a), { height: 16, width: 16, channels: 64 });
  assert.ok(parameterSpecs(a, 'decoder').some((s) => s.name === 'dec.deconv2.w'));
});
