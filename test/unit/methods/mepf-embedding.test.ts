/**
 * The per-record embedding φ of method `mepf` (embedding.ts) on a tiny prior
 * written to disk and loaded back: every record's φ has norm 1, for every
 * source and setting; the fast gradient through the frozen network equals
 * tfjs's own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  blurFilter,
  combinedEmbedding,
  embeddingFromDescription,
  randomNetEmbedding,
  embedBytes,
  lowPass,
  frozenStages,
  networkEmbedding,
  priorEmbedding,
  randomInitNetwork,
  defaultRffPool,
  rffEmbedding,
  type Embedding,
} from '../../../src-main/methods/mepf/embedding';
import { foldedStages } from '../../../src-main/priors/network/feature-net';
import type { LoadedPrior } from '../../../src-main/priors/prior-file';
import { SeededRng } from '../../../src-main/engine/rng';
import { tempDir } from '../../support/temp';
import { makeTinyPrior, TINY_PRIOR } from '../../support/tiny-prior';

/** `count` random images as bytes, a few of them all black and all white. */
function images(count: number, h: number, w: number, c: number, seed: number): Uint8Array {
  const rng = SeededRng.fromSeed(seed);
  const per = h * w * c;
  const x = new Uint8Array(count * per);
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    for (let j = 0; j < per; j++) {
      x[i * per + j] = kind === 0 ? 0 : kind === 1 ? 255 : rng.nextInt(256);
    }
  }
  return x;
}

function rowNorms(phi: Float32Array, dims: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < phi.length / dims; i++) {
    let s = 0;
    for (let j = 0; j < dims; j++) s += (phi[i * dims + j] as number) ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

function assertUnitRows(e: Embedding, count: number, seed: number): void {
  const { height, width, channels } = e.image;
  const phi = embedBytes(e, images(count, height, width, channels, seed), count);
  assert.equal(phi.length, count * e.dims);
  for (const [i, n] of rowNorms(phi, e.dims).entries()) {
    assert.ok(Math.abs(n - 1) < 1e-5, `record ${i}: ‖φ‖ = ${n} (${JSON.stringify(e.description)})`);
  }
}

describe('mepf: the per-record embedding φ', () => {
  let dir: { path: string; cleanup: () => void };
  let prior: LoadedPrior;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-mepf-');
    prior = await makeTinyPrior(dir.path);
  });
  after(() => dir.cleanup());

  it('every record’s φ has norm 1 under the prior, for each setting, size and channel count', () => {
    const grey = { height: 28, width: 28, channels: 1 };
    for (const options of [
      {},
      { normalisation: 'whole' as const },
      { moments: 'first' as const },
      { grid: 2, layers: ['stage2'], blur: 0 },
      { grid: 'full' as const, blur: 2 },
      { layers: ['stage1'], moments: 'first' as const, normalisation: 'whole' as const },
    ]) {
      assertUnitRows(priorEmbedding(prior, grey, options), 12, 1);
    }
    // Colour, and a side below the prior's 28 (resized before the network).
    assertUnitRows(priorEmbedding(prior, { height: 32, width: 32, channels: 3 }), 8, 2);
    assertUnitRows(priorEmbedding(prior, { height: 12, width: 12, channels: 1 }), 8, 3);
  });

  it('describes itself: dims, layers, moments, and the prior by name and SHA-256', () => {
    const e = priorEmbedding(prior, { height: 28, width: 28, channels: 1 });
    // widths [4, 6, 8]: stages of 6 and 8 channels, first and second moments, a 4×4 grid.
    assert.equal(e.dims, 2 * (6 + 8) * 16);
    assert.deepEqual(e.description, {
      source: 'prior',
      layers: ['stage1', 'stage2'],
      moments: 'both',
      grid: 4,
      normalisation: 'blocks',
      blur: 1,
      image: { height: 28, width: 28, channels: 1 },
      inputSize: { height: 28, width: 28 },
      prior: { name: 'tiny', sha256: prior.manifest.weights.sha256 },
    });
    assert.equal(priorEmbedding(prior, e.image, { grid: 2, moments: 'first' }).dims, 4 * (6 + 8));
    // Full maps: 14×14×6 and 7×7×8, twice.
    assert.equal(
      priorEmbedding(prior, e.image, { grid: 'full' }).dims,
      2 * (14 * 14 * 6 + 7 * 7 * 8),
    );
    assert.throws(
      () => priorEmbedding(prior, e.image, { layers: ['stage9'] }),
      /no layer "stage9"/,
    );
    assert.throws(
      () => tf.tidy(() => e.embed(tf.zeros([1, 32, 32, 1]))),
      /takes 28×28×1 images, not 32×32×1/,
    );
  });

  it('blocks: each layer’s first and second moments weigh 1/√B of the norm', () => {
    const e = priorEmbedding(prior, { height: 28, width: 28, channels: 1 }, { grid: 1 });
    const phi = embedBytes(e, images(4, 28, 28, 1, 5), 4);
    // Blocks in order: stage1 m1 (6), stage1 m2 (6), stage2 m1 (8), stage2 m2 (8).
    const bounds = [0, 6, 12, 20, 28];
    for (let i = 0; i < 4; i++) {
      for (let b = 0; b < 4; b++) {
        let s = 0;
        for (let j = bounds[b] as number; j < (bounds[b + 1] as number); j++)
          s += (phi[i * 28 + j] as number) ** 2;
        assert.ok(Math.abs(Math.sqrt(s) - 0.5) < 1e-5, `record ${i} block ${b}: ${Math.sqrt(s)}`);
      }
    }
  });

  it('random Fourier features have norm exactly 1 and approximate the Gaussian kernel', () => {
    const e = rffEmbedding(
      { height: 6, width: 6, channels: 1 },
      { frequencies: 4000, lengthScale: 2, seed: 3 },
    );
    assert.equal(e.dims, 8000);
    assertUnitRows(e, 10, 4);
    const x = tf.randomUniform([2, 6, 6, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const phi = e.embed(x).arraySync();
    const dot = (phi[0] as number[]).reduce(
      (s, v, j) => s + v * ((phi[1] as number[])[j] as number),
      0,
    );
    const d2 = tf
      .sum(tf.square(tf.sub(x.slice([0], [1]), x.slice([1], [1]))))
      .dataSync()[0] as number;
    assert.ok(
      Math.abs(dot - Math.exp(-d2 / (2 * 4))) < 0.05,
      `φᵀφ′ ${dot} vs k ${Math.exp(-d2 / 8)}`,
    );
    // Same seed, same map.
    const again = rffEmbedding(e.image, { frequencies: 4000, lengthScale: 2, seed: 3 });
    assert.deepEqual(Array.from(again.embed(x).dataSync()), phi.flat());
    e.dispose();
    again.dispose();
  });

  it('random Fourier features see large images pooled to 32 pixels or less; an older description without pooling rebuilds unpooled', async () => {
    for (const [side, pool] of [
      [28, 1],
      [32, 1],
      [64, 2],
      [128, 4],
    ] as const) {
      assert.equal(defaultRffPool({ height: side, width: side, channels: 3 }), pool, `${side}`);
    }
    const image = { height: 64, width: 64, channels: 1 };
    const x = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const pooled = rffEmbedding(image, { frequencies: 50, lengthScale: 4, seed: 2 });
    assert.equal(pooled.description.source === 'rff' && pooled.description.pool, 2);
    // The same as the features of the 2×2-averaged 32×32 view.
    const small = rffEmbedding(
      { height: 32, width: 32, channels: 1 },
      { frequencies: 50, lengthScale: 4, seed: 2 },
    );
    const a = pooled.embed(x).dataSync();
    const b = small.embed(tf.avgPool(x, 2, 2, 'valid')).dataSync();
    assert.ok(a.every((v, i) => Math.abs(v - (b[i] as number)) < 1e-5));
    // A release made before pooling existed recorded no pool: its φ is the unpooled one.
    const { pool: _pool, ...older } = pooled.description as { pool?: number } & Record<
      string,
      unknown
    >;
    void _pool;
    const rebuilt = await embeddingFromDescription(
      older as unknown as Parameters<typeof embeddingFromDescription>[0],
    );
    const unpooled = rffEmbedding(image, { frequencies: 50, lengthScale: 4, seed: 2, pool: 1 });
    assert.deepEqual(
      Array.from(rebuilt.embed(x).dataSync()),
      Array.from(unpooled.embed(x).dataSync()),
    );
    for (const e of [pooled, small, rebuilt, unpooled]) e.dispose();
  });

  it('the random-initialised network is the prior’s spec, reproducible from its seed, and gives norm-1 φ', async () => {
    const a = await randomInitNetwork(TINY_PRIOR.spec, 1, 8);
    const b = await randomInitNetwork(TINY_PRIOR.spec, 1, 8);
    assert.deepEqual(a.spec, TINY_PRIOR.spec);
    assert.deepEqual(Array.from(a.kernels[1]!.dataSync()), Array.from(b.kernels[1]!.dataSync()));
    const e = networkEmbedding(a, { height: 28, width: 28, channels: 1 }, {}, 'random-net');
    assert.equal(e.description.source, 'random-net');
    assertUnitRows(e, 8, 6);
  });

  it('a description rebuilds the same φ; a release made under another prior is refused', async () => {
    const image = { height: 28, width: 28, channels: 1 };
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 21) as tf.Tensor4D;
    const made = [
      priorEmbedding(prior, image, { grid: 2 }),
      rffEmbedding(image, { frequencies: 50, seed: 4 }),
      await randomNetEmbedding(TINY_PRIOR.spec, 2, image, { grid: 1 }, 8),
    ];
    made.push(combinedEmbedding([made[0]!, made[1]!]));
    for (const e of made) {
      const again = await embeddingFromDescription(e.description, prior);
      assert.deepEqual(again.description, e.description);
      assert.deepEqual(
        Array.from(tf.tidy(() => again.embed(x)).dataSync()),
        Array.from(tf.tidy(() => e.embed(x)).dataSync()),
      );
    }
    const other = {
      ...prior,
      manifest: {
        ...prior.manifest,
        weights: { ...prior.manifest.weights, sha256: 'f'.repeat(64) },
      },
    };
    await assert.rejects(
      embeddingFromDescription(made[0]!.description, other),
      (e: Error & { code?: string }) =>
        e.code === 'INVALID_INPUT' && /made with the random-process prior "tiny"/.test(e.message),
    );
    await assert.rejects(
      embeddingFromDescription(made[0]!.description),
      /this installation has no prior/,
    );
  });

  it('the blur is its own adjoint, and its gradient is the blur', () => {
    tf.tidy(() => {
      const filter = blurFilter(3);
      const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
      const y = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 12) as tf.Tensor4D;
      const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b)).dataSync()[0] as number;
      const left = dot(lowPass(x, filter, 2), y);
      const right = dot(x, lowPass(y, filter, 2));
      assert.ok(Math.abs(left - right) < 1e-4 * Math.abs(left), `${left} vs ${right}`);
      const g = tf.grad((xx: tf.Tensor) =>
        tf.sum(tf.mul(lowPass(xx as tf.Tensor4D, filter, 2), y)),
      )(x);
      assert.ok((tf.max(tf.abs(tf.sub(g, lowPass(y, filter, 2)))).dataSync()[0] as number) < 1e-6);
      // It removes the two-pixel checkerboard away from the border.
      const board = tf.tensor4d(
        Array.from({ length: 64 }, (_, i) => ((i >> 3) + i) % 2),
        [1, 8, 8, 1],
      );
      const smooth = lowPass(board, blurFilter(1), 1).slice([0, 1, 1, 0], [1, 6, 6, 1]);
      assert.ok((tf.max(tf.abs(tf.sub(smooth, 0.5))).dataSync()[0] as number) < 1e-6);
    });
  });

  it('the gradient through the frozen network equals tfjs’s own, odd map sizes included', () => {
    // 30×30: the stride-2 convolutions see 30 → 15 → 8 (15 is odd: padded to align).
    const x = tf.randomUniform([3, 30, 30, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    const loss = (stages: (x: tf.Tensor4D) => tf.Tensor4D[]) => (xx: tf.Tensor) =>
      tf.addN(
        stages(xx as tf.Tensor4D).map((s, i) => tf.mul(tf.sum(tf.square(s)), i + 1)),
      ) as tf.Scalar;
    const ours = tf.grad(loss((xx) => frozenStages(prior.net, xx, 2)))(x);
    const theirs = tf.grad(loss((xx) => foldedStages(prior.net, xx)))(x);
    const scale = tf.max(tf.abs(theirs)).dataSync()[0] as number;
    const diff = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0] as number;
    assert.ok(scale > 0 && diff <= 1e-5 * scale, `max |Δ| ${diff} at scale ${scale}`);
    const a = frozenStages(prior.net, x, 2);
    const b = foldedStages(prior.net, x);
    a.forEach((s, i) => assert.deepEqual(s.shape, b[i]!.shape));
  });
});
