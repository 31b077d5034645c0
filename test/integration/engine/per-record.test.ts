/**
 * DP²-VAE with per-record encoders (engine/posterior.ts through the DP-SGD
 * trainer): the privacy rules of DESIGN.md and the mechanics that the
 * certificate relies on.
 *
 * - With the released decoder fixed, removing record 0 or changing its
 *   pixels leaves every other record's refined posterior and its clipped
 *   per-example decoder gradient bit-identical (all randomness per record).
 * - The decoder-only clipped sum of the norm trick equals the exact
 *   one-record-at-a-time reference (MLP and convolutional decoders), with
 *   one sample per record and with K importance samples.
 * - Posteriors are private training state inside the checkpoint: a resumed
 *   run continues with the same table.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  convArchitecture,
  deserializeDpsgdCheckpoint,
  DpsgdTrainer,
  keyedRecordNoise,
  selectBackend,
  serializeDpsgdCheckpoint,
  type Architecture,
  type DpsgdOptions,
  type EngineImages,
  type RefineOptions,
} from '../../../src-main/engine';
import { decodeLogits } from '../../../src-main/engine/cvae';
import { clipFactor, clippedSum, type FlatBatch } from '../../../src-main/engine/dpsgd-clip';
import { initParams } from '../../../src-main/engine/params';
import { firstDigits, SMALL_ARCH } from '../../support/small-model';

const N = 64;
const arch = SMALL_ARCH;
let data: EngineImages;

before(async () => {
  await selectBackend();
  data = firstDigits(N);
});

const options: DpsgdOptions = {
  sampleRate: 0.5,
  sigma: 1,
  clip: 1,
  lr: 1e-2,
  steps: 4,
  seed: 11,
  encoders: 'per-record',
  refine: { steps: 2, firstVisitSteps: 4, lr: 0.05 },
};

const rows = (t: tf.Tensor, from: number, count: number): Float32Array => {
  const cols = t.shape[1] as number;
  return (t.dataSync() as Float32Array).slice(from * cols, (from + count) * cols);
};

/** Each record's clipped decoder gradient, computed alone (a batch of one). */
function clippedGradientOfRow(a: Architecture, batch: FlatBatch, decoder: tf.Tensor[], r: number) {
  const one = (t: tf.Tensor2D): tf.Tensor2D => tf.tensor2d(rows(t, r, 1), [1, t.shape[1]]);
  const K = batch.samples ?? 1;
  const single: FlatBatch = {
    x: one(batch.x),
    y: one(batch.y),
    eps: tf.tensor2d(rows(batch.eps, r * K, K), [K, batch.eps.shape[1]]),
    ...(K > 1 ? { samples: K } : {}),
    posterior: {
      mu: one((batch.posterior as { mu: tf.Tensor2D }).mu),
      logvar: one((batch.posterior as { logvar: tf.Tensor2D }).logvar),
    },
  };
  const sum = clippedSum(a, { encoder: [], decoder }, single, 1);
  const out = sum.grads.map((g) => Float32Array.from(g.dataSync() as Float32Array));
  tf.dispose([...sum.grads, single.x, single.y, single.eps]);
  tf.dispose([single.posterior?.mu, single.posterior?.logvar] as tf.Tensor[]);
  return out;
}

function disposeBatch(b: FlatBatch): void {
  tf.dispose([b.x, b.y, b.eps]);
  if (b.posterior) tf.dispose([b.posterior.mu, b.posterior.logvar]);
}

for (const samples of [1, 3]) {
  test(`removing or changing one record leaves every other record’s posterior and clipped gradient bit-identical (${samples} importance sample${samples > 1 ? 's' : ''})`, () => {
    const changed: EngineImages = { ...data, x: Uint8Array.from(data.x) };
    changed.x.fill(255, 0, 784); // record 0: a white image
    const noise = keyedRecordNoise(5);
    const opts: DpsgdOptions = {
      ...options,
      refine: { ...(options.refine as RefineOptions), samples },
    };
    const a = DpsgdTrainer.start({ arch, data, options: opts, recordNoise: noise });
    const b = DpsgdTrainer.start({ arch, data: changed, options: opts, recordNoise: noise });
    const decoder = initParams(arch, 'decoder', [2]).tensors;
    const others = Uint32Array.from({ length: 20 }, (_, i) => 3 * i + 1);
    try {
      for (const step of [1, 2]) {
        const withZero = a.batchOf(Uint32Array.from([0, ...others]), step);
        const without = a.batchOf(others, step);
        const withChanged = b.batchOf(Uint32Array.from([0, ...others]), step);
        try {
          const k = arch.latent;
          for (const batch of [without, withChanged]) {
            const off = batch === without ? 0 : 1;
            for (const part of ['mu', 'logvar'] as const) {
              const ref = rows(
                (withZero.posterior as Record<string, tf.Tensor>)[part] as tf.Tensor,
                1,
                others.length,
              );
              const got = rows(
                (batch.posterior as Record<string, tf.Tensor>)[part] as tf.Tensor,
                off,
                others.length,
              );
              assert.equal(got.length, others.length * k);
              assert.deepEqual(got, ref, `${part} of the other records, step ${step}`);
            }
            assert.deepEqual(
              rows(batch.eps, off * samples, others.length * samples),
              rows(withZero.eps, samples, others.length * samples),
            );
          }
          // Record 0's own posterior does depend on its pixels.
          assert.notDeepEqual(
            rows(withZero.posterior?.mu as tf.Tensor, 0, 1),
            rows(withChanged.posterior?.mu as tf.Tensor, 0, 1),
          );
          for (const i of [0, 9, 19]) {
            const ref = clippedGradientOfRow(arch, withZero, decoder, i + 1);
            assert.deepEqual(clippedGradientOfRow(arch, without, decoder, i), ref);
            assert.deepEqual(clippedGradientOfRow(arch, withChanged, decoder, i + 1), ref);
          }
        } finally {
          [withZero, without, withChanged].forEach(disposeBatch);
        }
      }
    } finally {
      a.dispose();
      b.dispose();
      tf.dispose(decoder);
    }
  });
}

/**
 * The exact reference: for each record alone, the gradient of −L_K (its
 * importance-weighted bound of K samples; K = 1 is the ELBO, whose other
 * terms do not depend on the decoder) with respect to the decoder by
 * tf.grads of the bound itself, no weights formed by hand; clipped, summed.
 */
function referenceSum(
  a: Architecture,
  decoder: tf.Tensor[],
  batch: FlatBatch,
  K: number,
  clip: number,
) {
  const B = batch.x.shape[0];
  const post = batch.posterior as { mu: tf.Tensor2D; logvar: tf.Tensor2D };
  let acc = decoder.map((p) => tf.zerosLike(p));
  for (let i = 0; i < B; i++) {
    const grads = tf.tidy(() => {
      const rep = (t: tf.Tensor2D): tf.Tensor2D =>
        tf.tile(tf.slice(t, [i, 0], [1, t.shape[1]]), [K, 1]);
      const eps = tf.slice(batch.eps, [i * K, 0], [K, batch.eps.shape[1]]);
      const z = tf.add(rep(post.mu), tf.mul(tf.exp(tf.mul(rep(post.logvar), 0.5)), eps));
      const x = rep(batch.x);
      return tf.grads((...ps: tf.Tensor[]) => {
        const l = decodeLogits(
          a,
          ps,
          tf.reshape(z, [1, K, a.latent]) as tf.Tensor3D,
          tf.reshape(rep(batch.y), [1, K, a.classes]) as tf.Tensor3D,
        );
        const logp = tf.neg(
          tf.sum(tf.add(tf.sub(tf.relu(l), tf.mul(l, x)), tf.log1p(tf.exp(tf.neg(tf.abs(l))))), -1),
        );
        const logw = tf.add(
          tf.reshape(logp, [K]),
          tf.mul(tf.sub(tf.sum(tf.square(eps), 1), tf.sum(tf.square(z), 1)), 0.5),
        );
        return tf.neg(tf.logSumExp(logw));
      })(decoder);
    });
    const norm = Math.sqrt(
      grads.reduce((s, g) => s + (tf.sum(tf.square(g)).dataSync()[0] as number), 0),
    );
    const c = clipFactor(norm, clip);
    const next = tf.tidy(() => acc.map((t, j) => tf.add(t, tf.mul(grads[j] as tf.Tensor, c))));
    tf.dispose([...acc, ...grads]);
    acc = next;
  }
  return acc;
}

/** B records of fixed pseudo-random pixels, labels, posteriors and K noise rows each. */
function fixedBatch(a: Architecture, B: number, K: number): FlatBatch {
  const d = a.image.height * a.image.width * a.image.channels;
  const rng = (n: number, s: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5 + 0.5);
  const labels = Int32Array.from({ length: B }, (_, i) => i % 3);
  return {
    x: tf.tensor2d(rng(B * d, 1), [B, d]),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), a.classes).toFloat() as tf.Tensor2D,
    eps: tf.tensor2d(
      rng(B * K * a.latent, 2).map((v) => v * 4 - 2),
      [B * K, a.latent],
    ),
    posterior: {
      mu: tf.tensor2d(
        rng(B * a.latent, 3).map((v) => v - 0.5),
        [B, a.latent],
      ),
      logvar: tf.tensor2d(
        rng(B * a.latent, 4).map((v) => -v),
        [B, a.latent],
      ),
    },
    ...(K > 1 ? { samples: K } : {}),
  };
}

for (const [name, a] of [
  ['MLP', arch],
  ['convolutional', convArchitecture({ height: 16, width: 16, channels: 3 }, 3)],
] as const) {
  for (const K of [1, 4]) {
    test(`decoder-only clipped sum (${name}, ${K} importance sample${K > 1 ? 's' : ''}) equals each record’s gradient of its bound, clipped, summed`, () => {
      const batch = fixedBatch(a, 5, K);
      const decoder = initParams(a, 'decoder', [4]).tensors;
      try {
        for (const clip of [1e-3, 1e6]) {
          const fast = clippedSum(a, { encoder: [], decoder }, batch, clip);
          const ref = referenceSum(a, decoder, batch, K, clip);
          assert.equal(fast.grads.length, decoder.length, 'decoder gradients only');
          fast.grads.forEach((g, j) => {
            const x = g.dataSync();
            const y = (ref[j] as tf.Tensor).dataSync();
            let err = 0;
            let scale = 0;
            for (let i = 0; i < x.length; i++) {
              err = Math.max(err, Math.abs((x[i] as number) - (y[i] as number)));
              scale = Math.max(scale, Math.abs(y[i] as number));
            }
            assert.ok(
              err <= 1e-4 * Math.max(scale, 1e-3),
              `parameter ${j}, C = ${clip}: ${err} vs ${scale}`,
            );
          });
          // At C = 10⁻³ every record is clipped, so each contributes exactly C.
          if (clip < 1) assert.ok(fast.norms.every((v) => v > clip));
          tf.dispose([...fast.grads, ...ref]);
        }
        // The encoder and the posteriors are exclusive.
        assert.throws(() => clippedSum(a, { encoder: decoder, decoder }, batch, 1), /not both/);
      } finally {
        disposeBatch(batch);
        tf.dispose(decoder);
      }
    });
  }
}

test('posteriors live in the checkpoint: a resumed run continues with the same table; other data is refused', async () => {
  const hooks = { epsilonAfter: () => 0, beforeNoisyUpdate: async () => {} };
  {
    // Three steps, then a checkpoint.
    const partial = DpsgdTrainer.start({ arch, data, options: { ...options, steps: 3 } });
    await partial.run(hooks);
    const table = partial.posteriorTable();
    assert.ok(table);
    const visits = table.visits.reduce((s, v) => s + v, 0);
    assert.ok(visits > 0, 'sampled records were refined');
    assert.ok(
      table.mu.some((v) => v !== 0),
      'refined posteriors moved from the prior',
    );
    const cp = partial.checkpoint({ note: 'x' });
    const bytes = serializeDpsgdCheckpoint(cp);
    const back = deserializeDpsgdCheckpoint(bytes);
    assert.deepEqual(back.posteriors, cp.posteriors);
    assert.equal(back.options.encoders, 'per-record');
    assert.deepEqual(back.encoder, [], 'no encoder network');
    const resumed = DpsgdTrainer.resume({
      data,
      checkpoint: { ...back, options: { ...back.options, steps: 5 } },
    });
    assert.deepEqual(resumed.posteriorTable(), partial.posteriorTable());
    await resumed.run(hooks);
    assert.equal(resumed.step, 5);
    const after = resumed.posteriorTable();
    assert.ok(after && after.visits.reduce((s, v) => s + v, 0) > visits, 'the table kept growing');
    resumed.dispose();
    partial.dispose();
    const other: EngineImages = {
      ...data,
      count: N - 1,
      x: data.x.subarray(0, (N - 1) * 784),
      y: data.y.subarray(0, N - 1),
    };
    assert.throws(() => DpsgdTrainer.resume({ data: other, checkpoint: back }), /63|records/);
    const damaged = {
      ...back,
      posteriors: {
        ...(back.posteriors as NonNullable<typeof back.posteriors>),
        visits: new Uint32Array(3),
      },
    };
    assert.throws(() => DpsgdTrainer.resume({ data, checkpoint: damaged }), /posteriors/);
  }
});

test('per-record options are checked in plain words', () => {
  assert.throws(
    () => DpsgdTrainer.start({ arch, data, options: { ...options, refine: null } }),
    /refinement settings/,
  );
  assert.throws(
    () => DpsgdTrainer.start({ arch, data, options: { ...options, encoders: 'network' } }),
    /per-record encoders only/,
  );
  assert.throws(
    () =>
      DpsgdTrainer.start({
        arch,
        data,
        options: { ...options, refine: { steps: 300, firstVisitSteps: 1, lr: 0.1 } },
      }),
    /from 0 to 255/,
  );
});
