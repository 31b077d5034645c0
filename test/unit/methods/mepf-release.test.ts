/**
 * The one Gaussian mechanism of method `mepf` (release.ts): the sensitivity
 * of [S, w·n] under add/remove of one record, checked numerically on the
 * exact statistic; the noise's spread; ε from the app's accountant against
 * the Gaussian mechanism's known Rényi curve; the post-processing (means with
 * their clamp, proportions).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import { SecureGaussian } from '../../../src-main/engine/secure-noise';
import { priorEmbedding } from '../../../src-main/methods/mepf/embedding';
import {
  calibrateReleaseSigma,
  classStatistic,
  defaultCountWeight,
  expectedNoiseToSignal,
  releasedMeans,
  releaseFromJson,
  releaseToJson,
  releasedProportions,
  releaseEpsilon,
  releaseMechanism,
  releaseSensitivity,
  releaseStatistic,
  StatisticAccumulator,
  statisticVector,
  type ClassStatistic,
  type LabelledImages,
} from '../../../src-main/methods/mepf/release';
import { epsilonOf, mechanismEvent, rdpOfEvent, DEFAULT_ORDERS } from '../../../src-main/privacy';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import type { LoadedPrior } from '../../../src-main/priors/prior-file';
import { tempDir } from '../../support/temp';
import { makeTinyPrior } from '../../support/tiny-prior';

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

/** Images `keep` of `set` (a subset in order). */
function subset(set: LabelledImages, keep: number[]): LabelledImages {
  const per = set.height * set.width * set.channels;
  const x = new Uint8Array(keep.length * per);
  keep.forEach((i, j) => x.set(set.x.subarray(i * per, (i + 1) * per), j * per));
  return { ...set, x, y: keep.map((i) => set.y[i] as number), count: keep.length };
}

describe('mepf: the release', () => {
  let dir: { path: string; cleanup: () => void };
  let prior: LoadedPrior;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-mepf-');
    prior = await makeTinyPrior(dir.path);
  });
  after(() => dir.cleanup());

  it('removing one record moves [S, w·n] by at most Δ = √(1 + w²) (exact statistic, real φ)', async () => {
    const mnist = loadBundledMnist().train;
    const n = 40;
    const data: LabelledImages = {
      x: mnist.x.subarray(0, n * 784),
      y: mnist.y.subarray(0, n),
      count: n,
      height: 28,
      width: 28,
      channels: 1,
    };
    const embedding = priorEmbedding(prior, { height: 28, width: 28, channels: 1 });
    const full = await classStatistic(embedding, data, { classes: 10, batchSize: 7 });
    assert.equal(
      full.counts.reduce((a, b) => a + b, 0),
      n,
    );
    for (const w of [0.1, defaultCountWeight(embedding.dims), 1, 3]) {
      const delta = releaseSensitivity(w);
      assert.equal(delta, Math.sqrt(1 + w * w));
      const v = statisticVector(full, w);
      for (const removed of [0, 13, 39]) {
        const keep = Array.from({ length: n }, (_, i) => i).filter((i) => i !== removed);
        const without = await classStatistic(embedding, subset(data, keep), { classes: 10 });
        const moved = distance(v, statisticVector(without, w));
        // Each φ has norm 1, so the bound is met with equality (to rounding).
        assert.ok(
          moved <= delta * (1 + 1e-9),
          `w ${w}, record ${removed}: moved ${moved} > Δ ${delta}`,
        );
        assert.ok(
          moved > delta * (1 - 1e-5),
          `w ${w}, record ${removed}: moved ${moved} ≪ Δ ${delta}`,
        );
      }
    }
  });

  it('the accumulator scales down a row longer than 1, so the bound holds whatever φ delivers', () => {
    const acc = new StatisticAccumulator(2, 3);
    acc.add(Float64Array.of(3, 4, 0, 0.5, 0, 0), [1, 0]);
    const r = acc.result();
    const want = [0.5, 0, 0, 0.6, 0.8, 0];
    r.sums.forEach((v, i) =>
      assert.ok(Math.abs(v - (want[i] as number)) < 1e-15, `${v} vs ${want[i]}`),
    );
    assert.deepEqual(Array.from(r.counts), [1, 1]);
    assert.throws(
      () => acc.add(Float32Array.of(1, 0, 0), [2]),
      /Label 2 is not one of the 2 classes/,
    );
    assert.throws(() => acc.add(Float32Array.of(1, 0), [0]), /need 3 embedding values/);
  });

  it('the noise on every coordinate is N(0, (σΔ)²) (a large draw)', () => {
    const classes = 4;
    const dims = 5000;
    const rng = SeededRng.fromSeed(9);
    const stat: ClassStatistic = {
      classes,
      dims,
      sums: Float64Array.from({ length: classes * dims }, () => rng.nextFloat() * 100),
      counts: Float64Array.of(100, 200, 300, 400),
    };
    const sigma = 1.7;
    const w = 0.5;
    const r = releaseStatistic(stat, { sigma, countWeight: w, noise: new SecureGaussian() });
    assert.equal(r.sensitivity, Math.sqrt(1.25));
    const exact = statisticVector(stat, w);
    const noisy = new Float64Array(exact.length);
    noisy.set(r.sums);
    r.counts.forEach((c, k) => (noisy[r.sums.length + k] = c * w));
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < exact.length; i++) {
      const e = (noisy[i] as number) - (exact[i] as number);
      sum += e;
      sq += e * e;
    }
    const m = exact.length;
    const std = Math.sqrt(sq / m - (sum / m) ** 2);
    const want = sigma * r.sensitivity;
    // Sample std of 20 004 normals: relative standard error ≈ 1/√(2m) ≈ 0.5 %.
    assert.ok(Math.abs(std / want - 1) < 0.03, `std ${std} vs σΔ ${want}`);
    assert.ok(Math.abs(sum / m) < (4 * want) / Math.sqrt(m), `mean ${sum / m}`);
    // Fresh noise every release.
    const again = releaseStatistic(stat, { sigma, countWeight: w });
    assert.notDeepEqual(Array.from(again.sums.subarray(0, 10)), Array.from(r.sums.subarray(0, 10)));
  });

  it('ε comes from the accountant: a Gaussian mechanism’s Rényi curve α/(2σ²), falling as σ grows', () => {
    const delta = 1e-5;
    let previous = Infinity;
    for (const sigma of [0.5, 1, 2, 4, 8]) {
      const { epsilon } = releaseEpsilon({ sigma, delta });
      assert.ok(epsilon < previous, `ε(${sigma}) = ${epsilon} is not below ${previous}`);
      previous = epsilon;
      // The release is DP-SGD with sampling rate 1 and one step, to the accountant.
      const dpsgd = epsilonOf({
        spec: { mechanism: 'dpsgd', sampleRate: 1, sigma, steps: 1 },
        delta,
      });
      assert.ok(
        Math.abs(dpsgd.epsilon - epsilon) < 1e-9 * epsilon,
        `dpsgd ${dpsgd.epsilon} vs ${epsilon}`,
      );
      // Its Rényi curve is the Gaussian mechanism's, α/(2σ²) (Mironov 2017, Prop. 7).
      const { event, neighbouring } = mechanismEvent(releaseMechanism(sigma));
      const rdp = rdpOfEvent({ event, neighbouring, orders: DEFAULT_ORDERS });
      DEFAULT_ORDERS.forEach((a, i) => {
        const want = a / (2 * sigma * sigma);
        assert.ok(
          Math.abs((rdp[i] as number) - want) <= 1e-9 * want,
          `order ${a}: ${rdp[i]} vs ${want}`,
        );
      });
      // No looser than the classic conversion min_α α/(2σ²) + log(1/δ)/(α − 1) of that curve.
      const classic = Math.min(
        ...DEFAULT_ORDERS.filter((a) => a > 1).map(
          (a) => a / (2 * sigma * sigma) + Math.log(1 / delta) / (a - 1),
        ),
      );
      assert.ok(epsilon <= classic + 1e-9, `ε ${epsilon} above the classic bound ${classic}`);
      assert.ok(epsilon > 0.5 * classic, `ε ${epsilon} far below the classic bound ${classic}`);
    }
    // PLD is tighter still.
    assert.ok(
      releaseEpsilon({ sigma: 4, delta, accountant: 'pld' }).epsilon <
        releaseEpsilon({ sigma: 4, delta }).epsilon,
    );
  });

  it('calibration gives the smallest σ within the target ε', () => {
    for (const target of [0.2, 1, 10]) {
      const { sigma, epsilon } = calibrateReleaseSigma({ epsilon: target, delta: 1e-5 });
      assert.ok(epsilon <= target, `ε ${epsilon} > ${target}`);
      assert.ok(releaseEpsilon({ sigma: sigma * 0.999, delta: 1e-5 }).epsilon > target);
    }
    assert.throws(
      () =>
        releaseStatistic(
          { classes: 1, dims: 1, sums: Float64Array.of(0), counts: Float64Array.of(0) },
          { sigma: 0 },
        ),
      /noise multiplier σ must be a positive number/,
    );
  });

  it('a release stored as JSON reads back exactly; a damaged file is refused in plain words', () => {
    const stat: ClassStatistic = {
      classes: 2,
      dims: 3,
      sums: Float64Array.of(1, 2, 3, 4, 5, 6),
      counts: Float64Array.of(3, 4),
    };
    const release = releaseStatistic(stat, { sigma: 2, countWeight: 0.3 });
    const description = priorEmbedding(prior, { height: 28, width: 28, channels: 1 }).description;
    const text = releaseToJson(release, description);
    const back = releaseFromJson(text);
    assert.deepEqual(back.release, release);
    assert.deepEqual(back.embedding, description);
    const broken = JSON.parse(text) as { sums: number[] };
    broken.sums.pop();
    for (const bad of [JSON.stringify(broken), '{"format":"dp2-decoder"}', 'not json']) {
      assert.throws(
        () => releaseFromJson(bad),
        (e: Error & { code?: string }) =>
          e.code === 'CORRUPT_DATA' && /not a readable mepf release/.test(e.message),
      );
    }
  });

  it('means divide by the noisy count clamped at 1; proportions drop negative counts', () => {
    const release = {
      classes: 3,
      dims: 2,
      sigma: 1,
      countWeight: 1,
      sensitivity: Math.SQRT2,
      sums: Float64Array.of(10, 20, 3, -3, 0.5, 0.25),
      counts: Float64Array.of(10, -4, 0.5),
    };
    assert.deepEqual(Array.from(releasedMeans(release)), [1, 2, 3, -3, 0.5, 0.25]);
    assert.deepEqual(Array.from(releasedProportions(release)), [10 / 10.5, 0, 0.5 / 10.5]);
    assert.deepEqual(
      Array.from(releasedProportions({ ...release, counts: Float64Array.of(-1, -2, 0) })),
      [1 / 3, 1 / 3, 1 / 3],
    );
  });

  it('the expected noise-to-signal ratio grows with σ and falls with the class size', () => {
    const base = { sigma: 4, countWeight: defaultCountWeight(448), dims: 448, count: 6000 };
    const r = expectedNoiseToSignal(base);
    assert.ok(
      Math.abs(
        r -
          (4 * releaseSensitivity(base.countWeight) * Math.sqrt(448 + 1 / base.countWeight ** 2)) /
            6000,
      ) < 1e-12,
    );
    assert.ok(expectedNoiseToSignal({ ...base, sigma: 8 }) > r);
    assert.ok(expectedNoiseToSignal({ ...base, count: 600 }) > r);
  });
});
