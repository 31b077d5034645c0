/**
 * Phase 2 of DP-RandP end to end on real components (methods/randp/phase2.ts):
 * a tiny prior's features of MNIST digits, the public feature map (per-record
 * operations and the procedural-image whitening), σ calibrated for the
 * target, the DP-SGD probe, then accuracy on the test split's same digits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import { linearAccuracy, linearLogits } from '../../../src-main/methods/randp/dp-linear';
import { perRecordTransform } from '../../../src-main/methods/randp/normalise';
import { probeEpsilon } from '../../../src-main/methods/randp/privacy';
import { applyFeatureMap } from '../../../src-main/priors/feature-map';
import {
  foldWhitening,
  measuredSettings,
  phase2FeatureMap,
  phase2Schedule,
  trainPhase2,
} from '../../../src-main/methods/randp/phase2';
import { defaultReadout, extractFeatures } from '../../../src-main/priors/features';
import type { LoadedPrior } from '../../../src-main/priors/prior-file';
import { tempDir } from '../../support/temp';
import { makeTinyPrior } from '../../support/tiny-prior';

describe('randp: phase 2 end to end', () => {
  let dir: { path: string; cleanup: () => void };
  let prior: LoadedPrior;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-randp-');
    prior = await makeTinyPrior(dir.path);
  });
  after(() => dir.cleanup());

  it('the feature map works block by block: the same rows as one record at a time, and the event loop runs in between', async () => {
    // A small public map (8 features in two groups, a lower-triangular A), on more rows than one block.
    const dims = 8;
    const rng = SeededRng.fromSeed(3);
    const factor = new Float32Array(dims * dims);
    for (let i = 0; i < dims; i++)
      for (let j = 0; j <= i; j++)
        factor[i * dims + j] = i === j ? 1 + rng.nextFloat() : rng.nextFloat() - 0.5;
    const mean = Float32Array.from({ length: dims }, () => rng.nextFloat() - 0.5);
    const map = {
      perRecord: { power: 0.5, groups: [4, 4] },
      whitening: { mean, factor, dims, source: 'test' },
    };
    const count = 9000;
    const raw = Float32Array.from({ length: count * dims }, () => rng.nextFloat() * 3);
    const before = raw.slice();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const out = await applyFeatureMap(map, raw, count);
    clearInterval(timer);
    assert.deepEqual(raw, before, 'the raw features are left as they were');
    assert.ok(ticks >= 3, `timers ran ${ticks} times while ${count} rows were mapped`);
    let worst = 0;
    for (const i of [0, 1023, 1024, 4095, 4096, 8191, 8999]) {
      const row = perRecordTransform(raw.slice(i * dims, (i + 1) * dims), 1, dims, map.perRecord);
      for (let r = 0; r < dims; r++) {
        let v = 0;
        for (let c = 0; c < dims; c++)
          v += (factor[r * dims + c] as number) * ((row[c] as number) - (mean[c] as number));
        worst = Math.max(worst, Math.abs(v - (out[i * dims + r] as number)));
      }
    }
    assert.ok(worst < 1e-4, `rows differ by ${worst}`);
  });

  it('the schedule spends at most the target ε', () => {
    const s = phase2Schedule({ count: 60000, epsilon: 1, delta: 1e-5 });
    assert.equal(s.sampleRate, 0.05);
    assert.equal(s.steps, 400);
    assert.ok(s.epsilon <= 1);
    assert.ok(probeEpsilon({ ...s }, 1e-5) <= 1);
    // The measured settings: larger steps and more epochs as ε grows.
    assert.deepEqual(measuredSettings(1), { lr: 0.3, epochs: 20 });
    assert.deepEqual(measuredSettings(3), { lr: 0.5, epochs: 20 });
    assert.deepEqual(measuredSettings(8), { lr: 1, epochs: 40 });
  });

  it('learns MNIST 2 vs 7 from a tiny prior’s features at ε = 8, well above the majority class', async () => {
    const mnist = loadBundledMnist();
    const readout = defaultReadout(prior.net);
    const map = await phase2FeatureMap(prior.net, readout, { perFamily: 24 });
    // The raw features of the last set taken (the test set), for the folding check.
    let rawTest: Float32Array = new Float32Array(0);
    const take = async (set: typeof mnist.train, n: number) => {
      const keep: number[] = [];
      for (let i = 0; i < set.count && keep.length < n; i++) {
        if (set.y[i] === 2 || set.y[i] === 7) keep.push(i);
      }
      const x = new Uint8Array(keep.length * 784);
      keep.forEach((i, j) => x.set(set.x.subarray(i * 784, (i + 1) * 784), j * 784));
      const images = { x, count: keep.length, height: 28, width: 28, channels: 1 };
      const { features, dims } = await extractFeatures(prior.net, images, { readout });
      rawTest = features;
      return {
        features: await applyFeatureMap(map, features, keep.length),
        labels: keep.map((i): number => (set.y[i] === 2 ? 0 : 1)),
        count: keep.length,
        dims,
      };
    };
    const train = await take(mnist.train, 800);
    const test = await take(mnist.test, 400);
    const ones = test.labels.reduce((s, v) => s + v, 0);
    const majority = (100 * Math.max(ones, test.count - ones)) / test.count;
    const r = await trainPhase2(
      train,
      { epsilon: 8, delta: 1e-5, classes: 2 },
      { expectedBatch: 400, epochs: 20 },
    );
    assert.ok(r.schedule.epsilon <= 8);
    assert.equal(r.stepsTaken, r.schedule.steps);
    const acc = linearAccuracy(r.averaged!, test);
    assert.ok(acc > majority + 25, `accuracy ${acc} % vs majority ${majority} %`);
    // Folded into the weights, the whitening gives the same logits on the unwhitened features.
    const folded = foldWhitening(r.averaged!, map.whitening);
    const raw = perRecordTransform(rawTest.slice(), test.count, test.dims, map.perRecord);
    const a = linearLogits(r.averaged!, test.features, test.count);
    const b = linearLogits(folded, raw, test.count);
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (b[i] as number)))));
    assert.ok(worst < 1e-3 * Math.max(1, ...Array.from(a, Math.abs)), `logits differ by ${worst}`);
  });
});
