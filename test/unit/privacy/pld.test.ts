import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DiscretePld,
  PLD_ACCOUNTANT_VERSION,
  PldAccountant,
  calibrateSigma,
  deltaOf,
  epsilonCurve,
  epsilonOf,
  gaussianDelta,
  gaussianEvent,
  maxSteps,
  poissonGaussianDelta,
  poissonGaussianPld,
  poissonSampledEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  type MechanismSpec,
  type MechanismSpecWithoutSigma,
} from '../../../src-main/privacy';
import { fftInPlace, inverseRealFft, nextPowerOfTwo, realFft } from '../../../src-main/privacy/fft';
import { assertClose, assertUserError, fixture, logUniform, seededRandom } from './helpers';

// --- FFT -----------------------------------------------------------------------

function naiveDft(x: Float64Array, n: number): { re: number[]; im: number[] } {
  const re: number[] = [];
  const im: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < x.length; j++) {
      const angle = (-2 * Math.PI * j * k) / n;
      sr += (x[j] as number) * Math.cos(angle);
      si += (x[j] as number) * Math.sin(angle);
    }
    re.push(sr);
    im.push(si);
  }
  return { re, im };
}

test('FFT: complex and real transforms match the naive DFT and invert exactly', () => {
  const random = seededRandom(7);
  for (const n of [1, 2, 4, 8, 16, 64, 256]) {
    const length = Math.max(1, n - (n > 2 ? 3 : 0));
    const x = Float64Array.from({ length }, () => random() - 0.5);
    const reference = naiveDft(x, n);
    const re = new Float64Array(n);
    re.set(x);
    const im = new Float64Array(n);
    fftInPlace(re, im);
    for (let k = 0; k < n; k++) {
      assertClose(re[k] as number, reference.re[k] as number, 0, `complex re[${k}] n=${n}`, 1e-12);
      assertClose(im[k] as number, reference.im[k] as number, 0, `complex im[${k}] n=${n}`, 1e-12);
    }
    fftInPlace(re, im, true);
    for (let j = 0; j < n; j++) {
      assertClose((re[j] as number) / n, j < length ? (x[j] as number) : 0, 0, 'inverse', 1e-14);
    }
    if (n < 2) continue;
    const half = realFft(x, n);
    for (let k = 0; k <= n / 2; k++) {
      assertClose(half.re[k] as number, reference.re[k] as number, 0, `real re[${k}]`, 1e-12);
      assertClose(half.im[k] as number, reference.im[k] as number, 0, `real im[${k}]`, 1e-12);
    }
    const back = inverseRealFft(half);
    for (let j = 0; j < n; j++) {
      assertClose(back[j] as number, j < length ? (x[j] as number) : 0, 0, 'real inverse', 1e-14);
    }
  }
  assert.equal(nextPowerOfTwo(1), 1);
  assert.equal(nextPowerOfTwo(1025), 2048);
  assert.throws(() => realFft(new Float64Array(9), 8), RangeError);
  assert.throws(() => fftInPlace(new Float64Array(6), new Float64Array(6)), RangeError);
});

test('FFT: a large real round trip keeps ~1e-15 absolute accuracy', () => {
  const random = seededRandom(11);
  const n = 1 << 16;
  const x = Float64Array.from({ length: n }, () => random());
  const back = inverseRealFft(realFft(x, n));
  let worst = 0;
  for (let j = 0; j < n; j++)
    worst = Math.max(worst, Math.abs((back[j] as number) - (x[j] as number)));
  assert.ok(worst < 1e-13, `worst ${worst}`);
});

// --- exact privacy profiles -----------------------------------------------------

test('gaussianDelta is the analytic Gaussian mechanism (Balle & Wang 2018, Thm 8)', () => {
  // z = 1, ε = 1: Φ(−0.5) − e·Φ(−1.5).
  assertClose(gaussianDelta({ noiseMultiplier: 1, epsilon: 1 }), 0.126936, 1e-5, 'z=1 ε=1');
  // ε = 0: 2Φ(μ/2) − 1.
  assertClose(gaussianDelta({ noiseMultiplier: 2, epsilon: 0 }), 0.197413, 1e-5, 'z=2 ε=0');
  // Far tail stays positive and finite; very negative ε gives 1 − e^ε.
  const tail = gaussianDelta({ noiseMultiplier: 0.5, epsilon: 60 });
  assert.ok(tail > 0 && tail < 1e-20, `tail ${tail}`);
  assertClose(gaussianDelta({ noiseMultiplier: 1, epsilon: -40 }), 1, 1e-15, 'ε = −40');
});

test('Poisson profiles: q = 1 is the Gaussian; add and remove are each other’s reverse', () => {
  for (const epsilon of [-2, -0.3, 0, 0.4, 2, 7]) {
    const g = gaussianDelta({ noiseMultiplier: 0.9, epsilon });
    for (const direction of ['remove', 'add', 'symmetric'] as const) {
      const d = poissonGaussianDelta({ sampleRate: 1, noiseMultiplier: 0.9, direction, epsilon });
      assertClose(d, g, 1e-12, `q=1 ${direction} ε=${epsilon}`, 1e-300);
    }
  }
  // H_{e^ε}(Q‖P) = 1 − e^ε + e^ε·H_{e^{−ε}}(P‖Q) relates the two directions.
  for (const [q, z] of [
    [0.01, 1],
    [0.1, 0.6],
    [0.5, 2],
  ] as const) {
    for (const epsilon of [-3, -1, -0.05, 0.05, 0.7, 2.5]) {
      const add = poissonGaussianDelta({
        sampleRate: q,
        noiseMultiplier: z,
        direction: 'add',
        epsilon,
      });
      const remove = poissonGaussianDelta({
        sampleRate: q,
        noiseMultiplier: z,
        direction: 'remove',
        epsilon: -epsilon,
      });
      assertClose(add, 1 - Math.exp(epsilon) + Math.exp(epsilon) * remove, 1e-9, `q=${q}`, 1e-15);
      const sym = poissonGaussianDelta({
        sampleRate: q,
        noiseMultiplier: z,
        direction: 'symmetric',
        epsilon,
      });
      assert.equal(
        sym,
        Math.max(
          add,
          poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: 'remove', epsilon }),
        ),
      );
    }
    // For ε ≥ 0 the remove direction is the worse one (dp_accounting relies on this too).
    for (const epsilon of [0, 0.3, 1, 3]) {
      assert.ok(
        poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: 'remove', epsilon }) >=
          poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: 'add', epsilon }),
      );
    }
  }
});

// --- discretisation ---------------------------------------------------------------

test('connect-the-dots PLDs are pessimistic for every ε (negative too) and tight to the grid', () => {
  const random = seededRandom(2207);
  for (const [q, z] of [
    [0.001, 0.8],
    [0.01, 1],
    [0.2, 0.5],
    [1, 2],
  ] as const) {
    for (const direction of ['remove', 'add', 'symmetric'] as const) {
      const pld = poissonGaussianPld({ sampleRate: q, noiseMultiplier: z, direction });
      let mass = pld.infinityMass;
      for (const p of pld.probs) mass += p;
      assertClose(mass, 1, 1e-12, `${direction} q=${q} mass`);
      for (let k = 0; k < 40; k++) {
        const epsilon = -3 + 8 * random();
        const exact = poissonGaussianDelta({
          sampleRate: q,
          noiseMultiplier: z,
          direction,
          epsilon,
        });
        const discrete = pld.deltaForEpsilon(epsilon);
        const label = `${direction} q=${q} z=${z} ε=${epsilon}`;
        assert.ok(discrete >= exact - 1e-12, `${label}: ${discrete} < exact ${exact}`);
        // Within the chord's gap: a grid step of 1e-4 moves δ by at most ~1e-4·(δ + e^ε).
        assert.ok(
          discrete - exact <= 2e-4 * (exact + Math.exp(epsilon)) + 1e-12,
          `${label}: loose`,
        );
      }
    }
  }
});

test('ε for δ and δ for ε are inverse on a discrete PLD', () => {
  const pld = poissonGaussianPld({
    sampleRate: 0.02,
    noiseMultiplier: 0.9,
    direction: 'remove',
  }).selfCompose(300);
  for (const delta of [1e-3, 1e-5, 1e-8]) {
    const epsilon = pld.epsilonForDelta(delta);
    assertClose(pld.deltaForEpsilon(epsilon), delta, 1e-9, `δ=${delta}`);
    assert.ok(pld.deltaForEpsilon(epsilon * (1 - 1e-6)) > delta);
  }
  // More δ allowed than the whole finite part: ε = 0. Infinity mass above δ: ε = ∞.
  assert.equal(pld.epsilonForDelta(0.999999), 0);
  const leaky = new DiscretePld({
    discretization: 1e-4,
    lowerIndex: 0,
    probs: Float64Array.of(0.5),
    infinityMass: 0.5,
  });
  assert.equal(leaky.epsilonForDelta(0.1), Infinity);
  assert.equal(leaky.deltaForEpsilon(3), 0.5);
  assert.equal(DiscretePld.identity().epsilonForDelta(1e-9), 0);
});

test('self-composition: matches repeated convolution, and the Gaussian’s exact composition', () => {
  const one = poissonGaussianPld({ sampleRate: 0.05, noiseMultiplier: 1.2, direction: 'add' });
  const byFft = one.selfCompose(4);
  const byConvolution = one.compose(one).compose(one.compose(one));
  for (const epsilon of [0, 0.1, 0.5, 1]) {
    assertClose(
      byFft.deltaForEpsilon(epsilon),
      byConvolution.deltaForEpsilon(epsilon),
      1e-9,
      `ε=${epsilon}`,
      1e-15,
    );
  }
  // 400 Gaussian steps with z = 4 are one Gaussian with z = 0.2: the composed PLD's δ
  // is never below the exact one, and close to it.
  const gaussian = poissonGaussianPld({ sampleRate: 1, noiseMultiplier: 4, direction: 'remove' });
  const composed = gaussian.selfCompose(400);
  for (const epsilon of [5, 10, 15, 20]) {
    const exact = gaussianDelta({ noiseMultiplier: 0.2, epsilon });
    const got = composed.deltaForEpsilon(epsilon);
    assert.ok(got >= exact * (1 - 1e-9), `ε=${epsilon}: ${got} < exact ${exact}`);
    assertClose(got, exact, 2e-3, `ε=${epsilon}`, 1e-15);
  }
  assert.equal(one.selfCompose(1), one);
  assert.equal(one.selfCompose(0).epsilonForDelta(1e-9), 0);
  assert.throws(() => one.selfCompose(-1), RangeError);
});

test('coarsening (connect-the-dots on a grid twice as wide) never lowers δ and matches a direct build', () => {
  const pld = poissonGaussianPld({ sampleRate: 0.01, noiseMultiplier: 0.8, direction: 'remove' });
  const coarse = pld.coarsened().coarsened();
  assert.equal(coarse.discretization, 4e-4);
  const direct = poissonGaussianPld({
    sampleRate: 0.01,
    noiseMultiplier: 0.8,
    direction: 'remove',
    discretization: 4e-4,
  });
  for (const epsilon of [-1, 0, 0.5, 1, 2, 4]) {
    assert.ok(coarse.deltaForEpsilon(epsilon) >= pld.deltaForEpsilon(epsilon) - 1e-15);
    assertClose(
      coarse.deltaForEpsilon(epsilon),
      direct.deltaForEpsilon(epsilon),
      1e-9,
      `ε=${epsilon}`,
      1e-15,
    );
  }
});

// --- against dp_accounting ---------------------------------------------------------

interface PldCase {
  q: number;
  noiseMultiplier: number;
  steps: number;
  delta: number;
  epsilon: number;
  epsilonOptimistic: number;
  deltaAtEpsilon1: number;
  source: 'pld' | 'exact';
}

test('PLD ε matches dp_accounting’s PLD on the q × z × T × δ grid, above its optimistic bound', () => {
  // test/fixtures/privacy/dp-accounting-pld.json, from generate_pld_vectors.py
  const { cases } = fixture<PldCase>('dp-accounting-pld.json');
  assert.equal(cases.length, 128);
  for (const c of cases) {
    const spec: MechanismSpec =
      c.q === 1
        ? { mechanism: 'gaussian', sigma: c.noiseMultiplier, steps: c.steps }
        : { mechanism: 'dpsgd', sampleRate: c.q, sigma: c.noiseMultiplier, steps: c.steps };
    const label = `q=${c.q} z=${c.noiseMultiplier} T=${c.steps} δ=${c.delta}`;
    const { epsilon } = epsilonOf({ spec, delta: c.delta, accountant: 'pld' });
    assert.ok(
      epsilon >= c.epsilonOptimistic * (1 - 1e-9),
      `${label}: ${epsilon} below the optimistic bound`,
    );
    assertClose(epsilon, c.epsilon, c.source === 'exact' ? 1e-10 : 1e-5, label, 1e-7);
    if (c.delta === 1e-5) {
      const { delta } = deltaOf({ spec, epsilon: 1, accountant: 'pld' });
      assertClose(delta, Math.min(1, c.deltaAtEpsilon1), 1e-4, `${label} δ(1)`, 1e-10);
    }
  }
});

// --- properties --------------------------------------------------------------------

test('PLD ε ≤ RDP ε, and monotone in steps, q and σ (seeded grid)', () => {
  const random = seededRandom(20220712);
  for (let n = 0; n < 6; n++) {
    const q = logUniform(random, 1e-3, 0.3);
    const sigma = logUniform(random, 0.6, 4);
    const steps = Math.round(logUniform(random, 1, 2e4));
    const specs: MechanismSpec[] = [
      { mechanism: 'dpsgd', sampleRate: q, sigma, steps },
      { mechanism: 'dp2vae', blocks: Math.max(1, Math.round(1 / q)), sigma: 2 * sigma, steps },
    ];
    for (const spec of specs) {
      const label = JSON.stringify(spec);
      const pld = epsilonOf({ spec, delta: 1e-5, accountant: 'pld' }).epsilon;
      const rdp = epsilonOf({ spec, delta: 1e-5 }).epsilon;
      assert.ok(Number.isFinite(pld) && pld >= 0, `${label}: ${pld}`);
      assert.ok(pld <= rdp * (1 + 1e-9), `${label}: PLD ${pld} > RDP ${rdp}`);
      const more = epsilonOf({
        spec: { ...spec, steps: 2 * steps },
        delta: 1e-5,
        accountant: 'pld',
      });
      assert.ok(more.epsilon >= pld, `${label}: more steps`);
      const noisier = epsilonOf({
        spec: { ...spec, sigma: spec.sigma * 1.2 },
        delta: 1e-5,
        accountant: 'pld',
      });
      assert.ok(noisier.epsilon <= pld, `${label}: more noise`);
      if (spec.mechanism === 'dpsgd') {
        const larger = epsilonOf({
          spec: { ...spec, sampleRate: Math.min(1, q * 1.5) },
          delta: 1e-5,
          accountant: 'pld',
        });
        assert.ok(larger.epsilon >= pld, `${label}: larger q`);
      }
    }
  }
});

test('PLD calibration never overshoots and is tight; maxSteps is the largest T', () => {
  const specs: MechanismSpecWithoutSigma[] = [
    { mechanism: 'dpsgd', sampleRate: 256 / 60000, steps: 10_000 },
    { mechanism: 'dpsgd', sampleRate: 0.05, steps: 300 },
    { mechanism: 'gaussian', steps: 10 },
  ];
  for (const spec of specs) {
    for (const target of [1, 4]) {
      const label = `${JSON.stringify(spec)} ε=${target}`;
      const { sigma, epsilon, order } = calibrateSigma({
        spec,
        epsilon: target,
        delta: 1e-5,
        accountant: 'pld',
      });
      assert.ok(Number.isNaN(order));
      const fresh = epsilonOf({
        spec: { ...spec, sigma } as MechanismSpec,
        delta: 1e-5,
        accountant: 'pld',
      });
      assert.equal(fresh.epsilon, epsilon);
      assert.ok(epsilon <= target, `${label}: ${epsilon}`);
      const less = epsilonOf({
        spec: { ...spec, sigma: sigma * (1 - 1e-4) } as MechanismSpec,
        delta: 1e-5,
        accountant: 'pld',
      });
      assert.ok(less.epsilon > target, `${label}: σ·(1 − 1e-4) still meets it`);
      const rdp = calibrateSigma({ spec, epsilon: target, delta: 1e-5 });
      assert.ok(sigma <= rdp.sigma, `${label}: PLD needs more noise than RDP`);
    }
  }
  const spec = { mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1.1 } as const;
  for (const target of [1, 3]) {
    const { steps, epsilon } = maxSteps({ spec, epsilon: target, delta: 1e-5, accountant: 'pld' });
    const at = (t: number): number =>
      epsilonOf({ spec: { ...spec, steps: t }, delta: 1e-5, accountant: 'pld' }).epsilon;
    assert.equal(at(steps), epsilon);
    assert.ok(epsilon <= target && at(steps + 1) > target, `ε=${target}: T=${steps}`);
    assert.ok(steps >= maxSteps({ spec, epsilon: target, delta: 1e-5 }).steps);
  }
  assert.equal(maxSteps({ spec, epsilon: 3, delta: 1e-5, limit: 50, accountant: 'pld' }).steps, 50);
  assertUserError(
    () =>
      maxSteps({
        spec: { mechanism: 'gaussian', sigma: 0.5 },
        epsilon: 1,
        delta: 1e-5,
        accountant: 'pld',
      }),
    'UNREACHABLE_TARGET',
    /single training step/,
  );
});

test('PLD curve points equal fresh PLD accountants', () => {
  const spec = { mechanism: 'dpsgd', sampleRate: 0.02, sigma: 1 } as const;
  const curve = epsilonCurve({ spec, delta: 1e-5, maxSteps: 2000, points: 5, accountant: 'pld' });
  assert.deepEqual(
    curve.map((p) => p.steps),
    [400, 800, 1200, 1600, 2000],
  );
  for (const point of curve) {
    const fresh = epsilonOf({
      spec: { ...spec, steps: point.steps },
      delta: 1e-5,
      accountant: 'pld',
    });
    assert.equal(point.epsilon, fresh.epsilon);
  }
});

test('PldAccountant: heterogeneous composition, relations and refusals', () => {
  const sampled = poissonSampledEvent({
    sampleRate: 0.01,
    event: gaussianEvent({ noiseMultiplier: 1 }),
  });
  const a = PldAccountant.create({ neighbouring: 'add-remove' })
    .compose(sampled, { count: 600 })
    .compose(sampled, { count: 400 });
  const b = PldAccountant.create({ neighbouring: 'add-remove' }).compose(
    selfComposedEvent({ count: 1000, event: sampled }),
  );
  assert.equal(a.epsilon({ delta: 1e-5 }).epsilon, b.epsilon({ delta: 1e-5 }).epsilon);
  // A Gaussian run and a subsampled run compose; the result exceeds each part.
  const both = b.compose(gaussianEvent({ noiseMultiplier: 5 }), { count: 4 });
  const alone = PldAccountant.create({ neighbouring: 'add-remove' }).compose(
    gaussianEvent({ noiseMultiplier: 5 }),
    { count: 4 },
  );
  const e = both.epsilon({ delta: 1e-5 }).epsilon;
  assert.ok(e > b.epsilon({ delta: 1e-5 }).epsilon && e > alone.epsilon({ delta: 1e-5 }).epsilon);
  assert.ok(both.delta({ epsilon: e }).delta <= 1e-5 * (1 + 1e-9));
  assert.equal(
    PldAccountant.create({ neighbouring: 'add-remove' }).epsilon({ delta: 1e-5 }).epsilon,
    0,
  );
  assertUserError(
    () => PldAccountant.create({ neighbouring: 'replace-one' }).compose(sampled),
    'UNSUPPORTED',
    /add-remove/,
  );
  const wor = sampledWithoutReplacementEvent({
    sourceSize: 100,
    sampleSize: 10,
    event: gaussianEvent({ noiseMultiplier: 1 }),
  });
  assertUserError(
    () => PldAccountant.create({ neighbouring: 'replace-one' }).compose(wor),
    'UNSUPPORTED',
    /one record/,
  );
  assertUserError(
    () => PldAccountant.create({ neighbouring: 'add-remove', discretization: 0 }),
    'INVALID_INPUT',
    /discretization/,
  );
  assertUserError(
    () =>
      epsilonOf({
        spec: { mechanism: 'gaussian', sigma: 1, steps: 1 },
        delta: 1e-5,
        accountant: 'x' as never,
      }),
    'INVALID_INPUT',
    /accountant/,
  );
  assert.match(PLD_ACCOUNTANT_VERSION, /^dp2-pld\/\d+\.\d+\.\d+$/);
});
