/**
 * Feature normalisation of DP-RandP phase 2 (methods/randp/normalise.ts):
 * the public scaling comes from the prior's procedural images alone
 * (reproducible, no private input), the per-record norm touches each record's
 * own row only; and the whole phase 2 on real features of a tiny prior
 * (MNIST 0 vs 1) beats the majority class under DP noise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import { meanAndCovariance } from '../../../src-main/eval/linalg';
import { generateFamily, PRIOR_FAMILIES } from '../../../src-main/priors/families';
import { linearAccuracy, trainDpLinear } from '../../../src-main/methods/randp/dp-linear';
import {
  normaliseFeatures,
  perRecordTransform,
  publicFeatureScaling,
  publicFeatureWhitening,
  whitenFeatures,
  readoutGroups,
  type FeatureScaling,
} from '../../../src-main/methods/randp/normalise';
import { probeSigma } from '../../../src-main/methods/randp/privacy';
import { defaultReadout, extractFeatures } from '../../../src-main/priors/features';
import type { LoadedPrior } from '../../../src-main/priors/prior-file';
import { tempDir } from '../../support/temp';
import { makeTinyPrior } from '../../support/tiny-prior';

/** The first `n` images of digits a and b from a MNIST split, relabelled 0 and 1. */
function twoDigits(
  set: { x: Uint8Array; y: Uint8Array; count: number },
  a: number,
  b: number,
  n: number,
) {
  const keep: number[] = [];
  for (let i = 0; i < set.count && keep.length < n; i++) {
    if (set.y[i] === a || set.y[i] === b) keep.push(i);
  }
  const x = new Uint8Array(keep.length * 784);
  keep.forEach((i, j) => x.set(set.x.subarray(i * 784, (i + 1) * 784), j * 784));
  return {
    images: { x, count: keep.length, height: 28, width: 28, channels: 1 },
    labels: keep.map((i): number => (set.y[i] === a ? 0 : 1)),
  };
}

describe('randp: feature normalisation', () => {
  let dir: { path: string; cleanup: () => void };
  let prior: LoadedPrior;
  let scaling: FeatureScaling;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-randp-');
    prior = await makeTinyPrior(dir.path);
    scaling = await publicFeatureScaling(prior.net, {
      readout: defaultReadout(prior.net),
      perFamily: 24,
    });
  });
  after(() => dir.cleanup());

  it('the public scaling is a function of the prior and its options only', async () => {
    const again = await publicFeatureScaling(prior.net, {
      readout: defaultReadout(prior.net),
      perFamily: 24,
    });
    assert.deepEqual(again.shift, scaling.shift);
    assert.deepEqual(again.scale, scaling.scale);
    assert.match(scaling.source, /procedural images/);
    for (const s of scaling.scale) assert.ok(s > 0 && Number.isFinite(s));
    const other = await publicFeatureScaling(prior.net, {
      readout: defaultReadout(prior.net),
      perFamily: 24,
      seed: 8,
    });
    assert.notDeepEqual(other.shift, scaling.shift);
  });

  it('scales each row to the norm asked, from that row alone', () => {
    const dims = scaling.shift.length;
    const rng = SeededRng.fromSeed(3, 1);
    const x = new Float32Array(5 * dims);
    rng.fillNormal(x, 2);
    const out = normaliseFeatures(x, 5, dims, { scaling, rowNorm: 3 });
    for (let i = 0; i < 5; i++) {
      let s = 0;
      for (let d = 0; d < dims; d++) s += (out[i * dims + d] as number) ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 3) < 1e-4);
    }
    // Changing record 4 leaves the others' normalised rows unchanged.
    const y = x.slice();
    y.fill(100, 4 * dims);
    const out2 = normaliseFeatures(y, 5, dims, { scaling, rowNorm: 3 });
    assert.deepEqual(out2.subarray(0, 4 * dims), out.subarray(0, 4 * dims));
    // Public scaling alone: (x − shift)·scale.
    const plain = normaliseFeatures(x, 5, dims, { scaling });
    const k = 2 * dims + 7;
    const expected =
      ((x[k] as number) - (scaling.shift[7] as number)) * (scaling.scale[7] as number);
    assert.ok(Math.abs((plain[k] as number) - expected) < 1e-5);
    assert.throws(
      () => normaliseFeatures(x.subarray(0, 5 * (dims - 1)), 5, dims - 1, { scaling }),
      /same prior and read-out/,
    );
  });

  it('per-record operations: power, then each stage block standardised within the record', () => {
    const groups = readoutGroups(prior.net, defaultReadout(prior.net));
    const dims = groups.reduce((a, b) => a + b, 0);
    assert.equal(dims, scaling.shift.length);
    const rng = SeededRng.fromSeed(5, 1);
    const x = new Float32Array(3 * dims);
    rng.fillNormal(x, 3);
    const y = perRecordTransform(x.slice(), 3, dims, { power: 0.5 });
    const k = dims + 11;
    assert.ok(
      Math.abs((y[k] as number) - Math.sign(x[k] as number) * Math.sqrt(Math.abs(x[k] as number))) <
        1e-6,
    );
    const z = perRecordTransform(x.slice(), 3, dims, { groups });
    for (let i = 0; i < 3; i++) {
      let start = i * dims;
      for (const g of groups) {
        const block = z.subarray(start, start + g);
        const m = block.reduce((a, b) => a + b, 0) / g;
        const v = block.reduce((a, b) => a + (b - m) ** 2, 0) / g;
        assert.ok(
          Math.abs(m) < 1e-5 && Math.abs(v - 1) < 1e-4,
          `record ${i}: mean ${m}, variance ${v}`,
        );
        start += g;
      }
    }
    assert.throws(
      () => perRecordTransform(x.slice(), 3, dims, { groups: [1, 2] }),
      /add up to 3 features/,
    );
  });

  it('the public whitening makes the public features’ shrunk covariance the identity: A(Σ + λI)Aᵀ = I', async () => {
    const readout = defaultReadout(prior.net);
    const perRecord = { power: 0.5, groups: readoutGroups(prior.net, readout) };
    const shrink = 0.2;
    const w = await publicFeatureWhitening(prior.net, {
      readout,
      perRecord,
      perFamily: 24,
      shrink,
    });
    const again = await publicFeatureWhitening(prior.net, {
      readout,
      perRecord,
      perFamily: 24,
      shrink,
    });
    assert.deepEqual(again.factor, w.factor);
    const d = w.dims;
    for (let i = 0; i < d; i++) {
      assert.ok((w.factor[i * d + i] as number) > 0);
      for (let j = i + 1; j < d; j++) assert.equal(w.factor[i * d + j], 0);
    }
    // The same public features, made here the way the whitening made them.
    const rows: Float32Array[] = [];
    for (const family of PRIOR_FAMILIES) {
      const images = generateFamily({ family, seed: 7, count: 24, size: 28, channels: 1 });
      const f = await extractFeatures(prior.net, images, { readout });
      rows.push(perRecordTransform(f.features, images.count, d, perRecord));
    }
    const n = rows.length * 24;
    const x = new Float32Array(n * d);
    rows.forEach((r, k) => x.set(r, k * 24 * d));
    const { cov } = meanAndCovariance(x, n, d);
    let tr = 0;
    for (let i = 0; i < d; i++) tr += cov[i * d + i] as number;
    const lambda = (shrink * tr) / d;
    const white = await whitenFeatures(x, n, w);
    const { cov: cw } = meanAndCovariance(white, n, d);
    // Σ_w + λ·A·Aᵀ should be I.
    let worst = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let aat = 0;
        for (let k = 0; k < d; k++)
          aat += (w.factor[i * d + k] as number) * (w.factor[j * d + k] as number);
        const v = (cw[i * d + j] as number) + lambda * aat;
        worst = Math.max(worst, Math.abs(v - (i === j ? 1 : 0)));
      }
    }
    assert.ok(worst < 2e-3, `largest deviation from the identity ${worst}`);
  });

  it('phase 2 on the tiny prior’s features of MNIST 0 vs 1 beats the majority class at ε = 8', async () => {
    const mnist = loadBundledMnist();
    const train = twoDigits(mnist.train, 0, 1, 600);
    const test = twoDigits(mnist.test, 0, 1, 400);
    const readout = defaultReadout(prior.net);
    const feats = async (s: typeof train) => {
      const { features, dims } = await extractFeatures(prior.net, s.images, { readout });
      return {
        features: normaliseFeatures(features, s.images.count, dims, { scaling, rowNorm: 1 }),
        labels: s.labels,
        count: s.images.count,
        dims,
      };
    };
    const a = await feats(train);
    const b = await feats(test);
    const ones = b.labels.reduce((s, v) => s + v, 0);
    const majority = (100 * Math.max(ones, b.count - ones)) / b.count;
    const sampleRate = 0.25;
    const steps = 40;
    const { sigma } = probeSigma({ sampleRate, steps }, { epsilon: 8, delta: 1e-5 });
    const r = await trainDpLinear(a, {
      classes: 2,
      sigma,
      sampleRate,
      steps,
      clip: 1,
      lr: 8,
      emaDecay: 0.9,
    });
    const acc = linearAccuracy(r.averaged!, b);
    assert.ok(acc > majority + 20, `accuracy ${acc} % vs majority ${majority} %`);
  });
});
