/**
 * The DP-SGD linear probe of DP-RandP phase 2 (methods/randp/dp-linear.ts):
 * the closed-form clipped gradient sum against per-example gradients from
 * tfjs's autodiff, the clipping bound, the noise's spread σ·C, determinism
 * under seeded randomness, learning on a small separable set, and σ from the
 * accountant for a target ε.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  addClippedGradientSum,
  linearAccuracy,
  rowNormsSquared,
  trainDpLinear,
  zeroModel,
  type LabelledFeatures,
  type LinearModel,
  type NoiseSource,
  type PoissonSampler,
} from '../../../src-main/methods/randp/dp-linear';
import { probeEpsilon, probeSigma } from '../../../src-main/methods/randp/privacy';
import { epsilonOf } from '../../../src-main/privacy';

/** Random features (some rows scaled up so their gradients get clipped) with random labels. */
function randomSet(count: number, dims: number, classes: number, seed: number): LabelledFeatures {
  const rng = SeededRng.fromSeed(seed, 1);
  const features = new Float32Array(count * dims);
  rng.fillNormal(features);
  for (let i = 0; i < count; i += 3) {
    for (let d = 0; d < dims; d++) features[i * dims + d] = (features[i * dims + d] as number) * 5;
  }
  const labels = Array.from({ length: count }, () => rng.nextInt(classes));
  return { features, labels, count, dims };
}

function randomModel(dims: number, classes: number, seed: number): LinearModel {
  const m = zeroModel(dims, classes, 0.7);
  SeededRng.fromSeed(seed, 2).fillNormal(m.weights, 0.5);
  return m;
}

/** Per-example gradient of the cross-entropy w.r.t. [W; b] by tfjs autodiff. */
function autodiffGradient(model: LinearModel, x: Float32Array, y: number): Float32Array {
  const { dims: d, classes: k } = model;
  const grads = tf.tidy(() => {
    const w = tf.tensor2d(model.weights.subarray(0, d * k), [d, k]);
    const b = tf.tensor1d(model.weights.subarray(d * k));
    const xt = tf.tensor2d(x, [1, d]);
    const yt = tf.oneHot(tf.tensor1d([y], 'int32'), k);
    const f = (wv: tf.Tensor, bv: tf.Tensor): tf.Scalar =>
      tf.losses.softmaxCrossEntropy(
        yt,
        tf.add(tf.matMul(xt, wv as tf.Tensor2D), tf.mul(bv, model.biasFeature)),
      ) as tf.Scalar;
    const [gw, gb] = tf.grads(f)([w, b]);
    return tf.concat([gw!.flatten(), gb!.flatten()]);
  });
  const out = grads.dataSync() as Float32Array;
  grads.dispose();
  return out;
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

/** A seeded Poisson sampler (tests only: a private run uses the CSPRNG). */
function seededSampler(seed: number): PoissonSampler {
  const rng = SeededRng.fromSeed(seed, 3);
  return (count, rate) => {
    const taken: number[] = [];
    for (let i = 0; i < count; i++) if (rng.nextFloat() < rate) taken.push(i);
    return Uint32Array.from(taken);
  };
}

/** Seeded Gaussian noise (tests only). */
function seededNoise(seed: number): NoiseSource {
  const rng = SeededRng.fromSeed(seed, 4);
  return { fill: (out, std) => (rng.fillNormal(out, std), out) };
}

/** Two Gaussian clusters per class direction: linearly separable up to a little overlap. */
function clusters(count: number, dims: number, seed: number): LabelledFeatures {
  const rng = SeededRng.fromSeed(seed, 5);
  const features = new Float32Array(count * dims);
  rng.fillNormal(features, 0.3);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const y = i % 3;
    labels.push(y);
    features[i * dims + y] = (features[i * dims + y] as number) + 1;
  }
  return { features, labels, count, dims };
}

describe('randp: the DP-SGD linear probe', () => {
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
  });

  it('the closed-form clipped sum equals the sum of clipped per-example autodiff gradients', () => {
    const data = randomSet(24, 7, 3, 11);
    const model = randomModel(7, 3, 12);
    const clip = 2;
    const records = Uint32Array.from([0, 1, 2, 3, 5, 8, 9, 13, 21, 23]);
    const brute = new Float64Array((7 + 1) * 3);
    let clippedByHand = 0;
    for (const i of records) {
      const g = autodiffGradient(
        model,
        data.features.subarray(i * 7, (i + 1) * 7),
        data.labels[i] as number,
      );
      const n = norm(g);
      const f = Math.min(1, clip / n);
      if (f < 1) clippedByHand++;
      g.forEach((v, j) => (brute[j] = (brute[j] as number) + v * f));
    }
    assert.ok(
      clippedByHand > 0 && clippedByHand < records.length,
      'both clipped and unclipped records',
    );
    const sum = new Float32Array(brute.length);
    const clipped = addClippedGradientSum(model, data, rowNormsSquared(data), records, clip, sum);
    assert.equal(clipped, clippedByHand);
    sum.forEach((v, j) =>
      assert.ok(Math.abs(v - (brute[j] as number)) < 1e-4, `coordinate ${j}: ${v} vs ${brute[j]}`),
    );
  });

  it('each record adds at most C to the sum, and exactly C when its gradient is larger', () => {
    const data = randomSet(30, 5, 4, 21);
    const model = randomModel(5, 4, 22);
    const norms = rowNormsSquared(data);
    for (const clip of [0.05, 1, 10]) {
      for (let i = 0; i < data.count; i++) {
        const sum = new Float32Array(6 * 4);
        addClippedGradientSum(model, data, norms, Uint32Array.of(i), clip, sum);
        const full = norm(
          autodiffGradient(
            model,
            data.features.subarray(i * 5, (i + 1) * 5),
            data.labels[i] as number,
          ),
        );
        const got = norm(sum);
        assert.ok(got <= clip * (1 + 1e-5), `record ${i}: norm ${got} above C = ${clip}`);
        assert.ok(
          Math.abs(got - Math.min(full, clip)) < 1e-4 * Math.max(1, clip),
          `record ${i}: ${got} vs ${Math.min(full, clip)}`,
        );
      }
    }
  });

  it('an empty batch is a noise-only step with noise of std σ·C from the secure generator', async () => {
    const dims = 499;
    const data = randomSet(10, dims, 2, 31);
    const [sigma, clip, lr, q] = [3, 0.5, 1, 0.1];
    const r = await trainDpLinear(data, {
      classes: 2,
      sigma,
      sampleRate: q,
      steps: 1,
      clip,
      lr,
      momentum: 0,
      lrSchedule: 'constant',
      sampler: () => new Uint32Array(0),
    });
    // w = −lr·noise/(q·N): its spread is lr·σ·C/(q·N).
    const w = r.model.weights;
    let s2 = 0;
    for (const v of w) s2 += v * v;
    const std = Math.sqrt(s2 / w.length);
    const expected = (lr * sigma * clip) / (q * data.count);
    // 1000 draws: the sample std is within 7 standard errors (≈ 7/√2000) of the truth.
    assert.ok(
      Math.abs(std / expected - 1) < 7 / Math.sqrt(2 * w.length),
      `std ${std} vs ${expected}`,
    );
  });

  it('the same sampler and noise seeds give the same model; the secure defaults do not repeat', async () => {
    const data = clusters(60, 6, 41);
    const base = {
      classes: 3,
      sigma: 1,
      sampleRate: 0.5,
      steps: 6,
      clip: 1,
      lr: 0.5,
      emaDecay: 0.9,
    };
    const a = await trainDpLinear(data, {
      ...base,
      sampler: seededSampler(1),
      noise: seededNoise(2),
    });
    const b = await trainDpLinear(data, {
      ...base,
      sampler: seededSampler(1),
      noise: seededNoise(2),
    });
    assert.deepEqual(a.model.weights, b.model.weights);
    assert.deepEqual(a.averaged?.weights, b.averaged?.weights);
    const c = await trainDpLinear(data, base);
    const d = await trainDpLinear(data, base);
    assert.notDeepEqual(c.model.weights, d.model.weights);
  });

  it('learns a small separable set under noise', async () => {
    const train = clusters(600, 8, 51);
    const test = clusters(300, 8, 52);
    const sampleRate = 0.25;
    const steps = 80;
    const { sigma, epsilon } = probeSigma({ sampleRate, steps }, { epsilon: 8, delta: 1e-5 });
    assert.ok(epsilon <= 8);
    const before = linearAccuracy(zeroModel(8, 3), test);
    const r = await trainDpLinear(train, {
      classes: 3,
      sigma,
      sampleRate,
      steps,
      clip: 1,
      lr: 2,
      emaDecay: 0.9,
    });
    const after = linearAccuracy(r.averaged!, test);
    assert.ok(before < 40, `zero model ${before} %`);
    assert.ok(after > 85, `trained model ${after} %`);
    assert.equal(r.stepsTaken, steps);
  });

  it('stops when onStep says so', async () => {
    const data = clusters(30, 4, 61);
    const seen: number[] = [];
    const r = await trainDpLinear(data, {
      classes: 3,
      sigma: 1,
      sampleRate: 0.5,
      steps: 10,
      clip: 1,
      lr: 0.1,
      onStep: (s) => (seen.push(s.step), s.step < 4),
    });
    assert.equal(r.stepsTaken, 4);
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  it('refuses bad settings and labels in plain words', async () => {
    const data = clusters(12, 4, 71);
    const base = { classes: 3, sigma: 1, sampleRate: 0.5, steps: 2, clip: 1, lr: 0.1 };
    await assert.rejects(
      trainDpLinear(data, { ...base, sigma: 0 }),
      /noise multiplier σ must be above 0/,
    );
    await assert.rejects(trainDpLinear(data, { ...base, sampleRate: 1.5 }), /sampling rate/);
    await assert.rejects(
      trainDpLinear(data, { ...base, classes: 2 }),
      /label 2, outside the 2 classes/,
    );
  });

  it('σ is calibrated by the accountant and the run spends at most the target', () => {
    for (const accountant of ['rdp', 'pld'] as const) {
      const schedule = { sampleRate: 0.2, steps: 300, accountant };
      const { sigma, epsilon } = probeSigma(schedule, { epsilon: 1, delta: 1e-5 });
      assert.ok(epsilon <= 1 && epsilon > 0.99, `${accountant}: ε ${epsilon}`);
      const again = probeEpsilon({ ...schedule, sigma }, 1e-5);
      const direct = epsilonOf({
        spec: { mechanism: 'dpsgd', sampleRate: 0.2, sigma, steps: 300 },
        delta: 1e-5,
        accountant,
      }).epsilon;
      assert.equal(again, direct);
      assert.ok(probeEpsilon({ ...schedule, sigma: sigma * 0.9 }, 1e-5) > 1);
    }
  });
});
