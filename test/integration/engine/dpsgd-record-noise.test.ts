/**
 * The rule of DESIGN.md's privacy boundary for DP-SGD: every random value
 * that enters a per-example gradient depends only on that record and on
 * randomness independent of which other records were sampled. With the
 * records' noise fixed (a keyed source), the per-example clipped gradients of
 * records 1..n are bit-identical whether or not record 0 is in the batch,
 * in the first step and in every later one.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  DpsgdTrainer,
  keyedRecordNoise,
  selectBackend,
  type EngineImages,
} from '../../../src-main/engine';
import { clippedSum, type FlatBatch } from '../../../src-main/engine/dpsgd-clip';
import { initParams } from '../../../src-main/engine/params';
import { firstDigits, SMALL_ARCH } from '../../support/small-model';

const N = 64;
const arch = SMALL_ARCH;
let data: EngineImages;

before(async () => {
  await selectBackend();
  data = firstDigits(N);
});

const options = { sampleRate: 0.5, sigma: 1, clip: 1, lr: 1e-3, steps: 3, seed: 11 };

/** Row `r` of each tensor of a batch, as plain arrays. */
function rowOf(batch: FlatBatch, r: number): Float32Array[] {
  return [batch.x, batch.y, batch.eps].map((t) => {
    const [rows, cols] = t.shape as [number, number];
    assert.ok(r < rows);
    return (t.dataSync() as Float32Array).slice(r * cols, (r + 1) * cols);
  });
}

/** The clipped gradient of the one-record batch made of row `r` of `batch`. */
function clippedGradientOfRow(batch: FlatBatch, r: number): Float32Array[] {
  const [x, y, eps] = rowOf(batch, r) as [Float32Array, Float32Array, Float32Array];
  const one: FlatBatch = {
    x: tf.tensor2d(x, [1, x.length]),
    y: tf.tensor2d(y, [1, y.length]),
    eps: tf.tensor2d(eps, [1, eps.length]),
  };
  const encoder = initParams(arch, 'encoder', [1]).tensors;
  const decoder = initParams(arch, 'decoder', [2]).tensors;
  const sum = clippedSum(arch, { encoder, decoder }, one, 1);
  const out = sum.grads.map((g) => Float32Array.from(g.dataSync() as Float32Array));
  tf.dispose([...sum.grads, ...encoder, ...decoder, one.x, one.y, one.eps]);
  return out;
}

test("a record's ε and clipped gradient do not depend on which other records were sampled", () => {
  const trainer = DpsgdTrainer.start({ arch, data, options, recordNoise: keyedRecordNoise(5) });
  const others = Uint32Array.from({ length: 20 }, (_, i) => 3 * i + 1);
  const withZero = Uint32Array.from([0, ...others]);
  try {
    for (const step of [1, 2, 3]) {
      const a = trainer.batchOf(withZero, step);
      const b = trainer.batchOf(others, step);
      try {
        for (let i = 0; i < others.length; i++) {
          assert.deepEqual(rowOf(a, i + 1), rowOf(b, i), `record ${others[i]}, step ${step}`);
        }
        // The per-example clipped gradient is a function of the row alone.
        for (const i of [0, 7, 19]) {
          assert.deepEqual(clippedGradientOfRow(a, i + 1), clippedGradientOfRow(b, i));
        }
        // And the norms the batched clipping computes agree record by record.
        const encoder = initParams(arch, 'encoder', [1]).tensors;
        const decoder = initParams(arch, 'decoder', [2]).tensors;
        const na = clippedSum(arch, { encoder, decoder }, a, 1);
        const nb = clippedSum(arch, { encoder, decoder }, b, 1);
        for (let i = 0; i < others.length; i++) {
          assert.ok(
            Math.abs((na.norms[i + 1] as number) - (nb.norms[i] as number)) <=
              1e-5 * (nb.norms[i] as number),
            `norm of record ${others[i]}`,
          );
        }
        tf.dispose([...na.grads, ...nb.grads, ...encoder, ...decoder]);
      } finally {
        tf.dispose([a.x, a.y, a.eps, b.x, b.y, b.eps]);
      }
    }
    // A record's ε differs between steps (fresh noise every step), and between records.
    const s1 = trainer.batchOf(Uint32Array.from([4, 5]), 1);
    const s2 = trainer.batchOf(Uint32Array.from([4, 5]), 2);
    assert.notDeepEqual(rowOf(s1, 0)[2], rowOf(s2, 0)[2]);
    assert.notDeepEqual(rowOf(s1, 0)[2], rowOf(s1, 1)[2]);
    tf.dispose([s1.x, s1.y, s1.eps, s2.x, s2.y, s2.eps]);
  } finally {
    trainer.dispose();
  }
});

test('the app draws ε from node:crypto: the seed does not fix it', () => {
  const a = DpsgdTrainer.start({ arch, data, options });
  const b = DpsgdTrainer.start({ arch, data, options });
  try {
    const ba = a.batchOf(Uint32Array.from([3]), 1);
    const bb = b.batchOf(Uint32Array.from([3]), 1);
    assert.notDeepEqual(rowOf(ba, 0)[2], rowOf(bb, 0)[2]);
    // The seed still fixes what does not touch the data: the initial weights.
    assert.deepEqual(a.decoderWeights(), b.decoderWeights());
    tf.dispose([ba.x, ba.y, ba.eps, bb.x, bb.y, bb.eps]);
  } finally {
    a.dispose();
    b.dispose();
  }
});
