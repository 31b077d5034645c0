import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ORDERS,
  composedEvent,
  gaussianEvent,
  gaussianRdp,
  poissonSampledEvent,
  poissonSubsampledGaussianRdp,
  rdpOfEvent,
  sampledWithoutReplacementEvent,
  sampledWithoutReplacementGaussianRdp,
  selfComposedEvent,
} from '../../../src-main/privacy';
import { poissonLogA } from '../../../src-main/privacy/rdp-poisson';
import { assertClose, assertUserError, fixture } from './helpers';

// Reference files cited below:
//   TFP  = tensorflow/privacy tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
//          (last version, before commit bb1b7a6 removed it)
//   DPA  = google/differential-privacy python/dp_accounting/dp_accounting/rdp/
//          rdp_privacy_accountant_test.py
//   Opacus = pytorch/opacus opacus/accountants/analysis/rdp.py (the signed series)

test('DEFAULT_ORDERS is dp_accounting’s grid, built without floating drift', () => {
  assert.equal(DEFAULT_ORDERS.length, 99 + 53 + 4);
  assert.equal(DEFAULT_ORDERS[0], 1.1);
  assert.equal(DEFAULT_ORDERS[98], 10.9);
  assert.equal(DEFAULT_ORDERS[2], 1.3);
  assert.ok(DEFAULT_ORDERS.includes(2) && DEFAULT_ORDERS.includes(10));
  assert.deepEqual(DEFAULT_ORDERS.slice(-4), [128, 256, 512, 1024]);
  for (let i = 1; i < DEFAULT_ORDERS.length; i++) {
    assert.ok((DEFAULT_ORDERS[i] as number) > (DEFAULT_ORDERS[i - 1] as number));
  }
  assert.ok(Object.isFrozen(DEFAULT_ORDERS));
});

test('Gaussian: α/(2z²) (DPA test_compute_rdp_gaussian)', () => {
  const alpha = 3.14159;
  const sigma = 2.71828;
  const [rdp] = rdpOfEvent({
    event: gaussianEvent({ noiseMultiplier: sigma }),
    neighbouring: 'add-remove',
    orders: [alpha],
  });
  assertClose(rdp as number, alpha / (2 * sigma ** 2), 1e-15, 'Gaussian RDP');
  assert.deepEqual(gaussianRdp({ noiseMultiplier: 2, orders: [2, 4] }), [0.25, 0.5]);
});

test('Poisson sampling with q = 1 reduces to the Gaussian', () => {
  // TFP test_compute_rdp_no_sampling: compute_rdp(q=1, z=10, steps=1, order=20) == 0.1
  assert.equal(
    poissonSubsampledGaussianRdp({ sampleRate: 1, noiseMultiplier: 10, orders: [20] })[0],
    0.1,
  );
  // Continuity as q → 1, integer and fractional orders, down to z = 0.3.
  for (const z of [0.3, 1, 5]) {
    for (const alpha of [1.5, 2, 3.7, 10]) {
      const near = poissonSubsampledGaussianRdp({
        sampleRate: 1 - 1e-12,
        noiseMultiplier: z,
        orders: [alpha],
      })[0] as number;
      assertClose(near, alpha / (2 * z * z), 1e-6, `q→1, z=${z}, α=${alpha}`);
    }
  }
  // DPA test_compute_rdp_multi_gaussian: PoissonSampled(1, Composed[G(σ1), G(σ2)]).
  const alpha = 3.14159;
  const [s1, s2] = [2.71828, 6.28319];
  const [rdp] = rdpOfEvent({
    event: poissonSampledEvent({
      sampleRate: 1,
      event: composedEvent({
        events: [gaussianEvent({ noiseMultiplier: s1 }), gaussianEvent({ noiseMultiplier: s2 })],
      }),
    }),
    neighbouring: 'add-remove',
    orders: [alpha],
  });
  assertClose(rdp as number, alpha / (2 * s1 ** 2) + alpha / (2 * s2 ** 2), 1e-14, 'multi');
});

test('Poisson subsampled Gaussian matches the published golden values', () => {
  // TFP test_compute_rdp_scalar: compute_rdp(q=0.1, z=2, steps=10, order=5) ≈ 0.07737 (5 places)
  assertClose(
    10 *
      (poissonSubsampledGaussianRdp({
        sampleRate: 0.1,
        noiseMultiplier: 2,
        orders: [5],
      })[0] as number),
    0.07737,
    0,
    'scalar',
    5e-6,
  );
  // TFP test_compute_rdp_sequence: q=0.01, z=2.5, 50 steps (signed series at 1.5, 2.5), rtol 1e-4
  const orders = [1.5, 2.5, 5, 50, 100];
  const tfp = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
  const ours = poissonSubsampledGaussianRdp({
    sampleRate: 0.01,
    noiseMultiplier: 2.5,
    orders: orders,
  }).map((r) => 50 * r);
  ours.forEach((r, i) => assertClose(r, tfp[i] as number, 1e-4, `TFP α=${orders[i]}`));
  // DPA test_compute_rdp_poisson_sampled_gaussian, same event: integer orders agree;
  // at 1.5 and 2.5 dp_accounting sums absolute values (6.70579741e-4, 1.08548710e-3), a
  // looser bound — ours (the exact signed series, as Opacus/TFP) must be below it.
  assertClose(ours[2] as number, 2.18075656e-3, 1e-6, 'DPA α=5');
  assertClose(ours[3] as number, 2.38460375e-2, 1e-6, 'DPA α=50');
  assertClose(ours[4] as number, 1.67416308e2, 1e-6, 'DPA α=100');
  assert.ok((ours[0] as number) < 6.70579741e-4 && (ours[1] as number) < 1.0854871e-3);
});

test('Poisson RDP at all default orders agrees with dp_accounting (integer) and Opacus (fractional)', () => {
  const { cases } = fixture<{
    q: number;
    noiseMultiplier: number;
    orders: number[];
    rdp: (number | null)[];
  }>('poisson-rdp.json');
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    const ours = poissonSubsampledGaussianRdp({
      sampleRate: c.q,
      noiseMultiplier: c.noiseMultiplier,
      orders: c.orders,
    });
    c.orders.forEach((alpha, i) => {
      const ref = c.rdp[i];
      if (ref === null || ref === undefined) return;
      // Where A_α − 1 is tiny (q ≤ 1e-3, α < 1.3) Opacus stops its series at terms below
      // e^-30 absolutely, which truncates a tail of relative size ~1e-6; ours stops at about
      // one ulp of A_α and agrees with the mpmath integral to 1e-8 (next test). Allow 2e-6.
      const tiny = c.q <= 1e-3 && alpha < 1.3 && !Number.isInteger(alpha);
      assertClose(
        ours[i] as number,
        ref,
        tiny ? 2e-6 : 1e-6,
        `q=${c.q} z=${c.noiseMultiplier} α=${alpha}`,
      );
    });
  }
});

test('log A_α agrees with numerical integration (DPA test_compute_log_a_equals_mp)', () => {
  // DPA's own parameter list (fractional and integer orders), plus harder cases, integrated
  // with mpmath at 60 digits; DPA asserts rtol 1e-4, we ask for 1e-6.
  const { cases } = fixture<{ q: number; noiseMultiplier: number; order: number; logA: number }>(
    'mpmath-log-a.json',
  );
  for (const c of cases) {
    assertClose(
      poissonLogA(c.q, c.noiseMultiplier, c.order),
      c.logA,
      1e-6,
      `q=${c.q} z=${c.noiseMultiplier} α=${c.order}`,
    );
  }
  // DPA test_log_a_frac_positive: q=0.4, z=12, α ∈ [58.5, 59.5] once gave a negative log A.
  for (let k = 0; k <= 20; k++) assert.ok(poissonLogA(0.4, 12, 58.5 + k / 20) > 0);
});

test('sampling without replacement (WBK) matches the published golden values', () => {
  // TFP test_compute_rdp_sequence_without_replacement: q=0.01, z=2.5, 50 steps, rtol 1e-4
  const orders = [1.001, 1.5, 2.5, 5, 50, 100, 256, 512, 1024];
  const tfp = [
    3.4701e-3, 3.4701e-3, 4.6386e-3, 8.7634e-3, 9.8474e-2, 1.6776e2, 7.9297e2, 1.8174e3, 3.8656e3,
  ];
  const ours = sampledWithoutReplacementGaussianRdp({
    sampleRate: 0.01,
    noiseMultiplier: 2.5,
    orders: orders,
  }).map((r) => 50 * r);
  ours.forEach((r, i) => assertClose(r, tfp[i] as number, 1e-4, `TFP wor α=${orders[i]}`));
  // The cumulant is interpolated linearly, so ε is flat on (1, 2] (WBK Corollary 10).
  assertClose(ours[0] as number, ours[1] as number, 1e-12, 'flat on (1,2]');
  // q = 1: the plain Gaussian.
  assert.deepEqual(
    sampledWithoutReplacementGaussianRdp({ sampleRate: 1, noiseMultiplier: 2, orders: [3, 4.5] }),
    [3 / 8, 4.5 / 8],
  );
});

test('WBK RDP at all default orders agrees with dp_accounting to 1e-6', () => {
  const { cases } = fixture<{
    q: number;
    noiseMultiplier: number;
    orders: number[];
    rdp: number[];
  }>('dp-accounting-sample-wor-rdp.json');
  assert.ok(cases.length >= 9);
  for (const c of cases) {
    const ours = sampledWithoutReplacementGaussianRdp({
      sampleRate: c.q,
      noiseMultiplier: c.noiseMultiplier,
      orders: c.orders,
    });
    c.orders.forEach((alpha, i) =>
      assertClose(
        ours[i] as number,
        c.rdp[i] as number,
        1e-6,
        `q=${c.q} z=${c.noiseMultiplier} α=${alpha}`,
      ),
    );
  }
});

test('composition adds RDP and self-composition multiplies it (DPA test_rdp_composition)', () => {
  const orders = [2.71828];
  const base = gaussianEvent({ noiseMultiplier: 3.14159 });
  const rdp = (event: Parameters<typeof rdpOfEvent>[0]['event']): number =>
    rdpOfEvent({ event, neighbouring: 'add-remove', orders })[0] as number;
  const one = rdp(base);
  assertClose(rdp(selfComposedEvent({ count: 6, event: base })), 6 * one, 1e-14, 'self x6');
  assertClose(
    rdp(selfComposedEvent({ count: 3, event: selfComposedEvent({ count: 2, event: base }) })),
    6 * one,
    1e-14,
    'nested',
  );
  assertClose(rdp(composedEvent({ events: Array(6).fill(base) })), 6 * one, 1e-14, 'composed');
  assertClose(
    rdp(
      composedEvent({
        events: [1, 2, 3].map((count) => selfComposedEvent({ count, event: base })),
      }),
    ),
    6 * one,
    1e-14,
    'mixed',
  );
  const other = gaussianEvent({ noiseMultiplier: 1.61803 });
  assertClose(rdp(composedEvent({ events: [base, other] })), one + rdp(other), 1e-14, 'hetero');
  assert.equal(rdp(selfComposedEvent({ count: 0, event: base })), 0);
});

test('the neighbouring relation is explicit and enforced', () => {
  const poisson = poissonSampledEvent({
    sampleRate: 0.1,
    event: gaussianEvent({ noiseMultiplier: 1 }),
  });
  const wor = sampledWithoutReplacementEvent({
    sourceSize: 100,
    sampleSize: 1,
    event: gaussianEvent({ noiseMultiplier: 1 }),
  });
  assertUserError(
    () => rdpOfEvent({ event: poisson, neighbouring: 'replace-one' }),
    'UNSUPPORTED',
    /add-remove/,
  );
  assertUserError(
    () => rdpOfEvent({ event: wor, neighbouring: 'add-remove' }),
    'UNSUPPORTED',
    /replace-one/,
  );
  assertUserError(
    () => rdpOfEvent({ event: poisson, neighbouring: 'bogus' as 'add-remove' }),
    'INVALID_INPUT',
    /neighbouring/,
  );
  assertUserError(
    () => rdpOfEvent({ event: poisson, neighbouring: 'add-remove', orders: [0.5] }),
    'INVALID_INPUT',
    /orders\[0\]/,
  );
  assertUserError(
    () =>
      rdpOfEvent({
        event: { kind: 'gaussian', noiseMultiplier: 1 } as never,
        neighbouring: 'add-remove',
      }),
    'INVALID_INPUT',
    /event/,
  );
  assert.equal(
    rdpOfEvent({ event: wor, neighbouring: 'replace-one' }).length,
    DEFAULT_ORDERS.length,
  );
});

test('bad RDP inputs are refused with the field named', () => {
  for (const sampleRate of [0, -0.5, 1.5, NaN]) {
    assertUserError(
      () => poissonSubsampledGaussianRdp({ sampleRate, noiseMultiplier: 1 }),
      'INVALID_INPUT',
      /sampleRate/,
    );
    assertUserError(
      () => sampledWithoutReplacementGaussianRdp({ sampleRate, noiseMultiplier: 1 }),
      'INVALID_INPUT',
      /sampleRate/,
    );
  }
  for (const noiseMultiplier of [0, -1, NaN, Infinity]) {
    assertUserError(
      () => poissonSubsampledGaussianRdp({ sampleRate: 0.1, noiseMultiplier }),
      'INVALID_INPUT',
      /noiseMultiplier/,
    );
    assertUserError(() => gaussianRdp({ noiseMultiplier }), 'INVALID_INPUT', /noiseMultiplier/);
  }
  assertUserError(
    () => gaussianRdp({ noiseMultiplier: 1, orders: [2, 20_000] }),
    'INVALID_INPUT',
    /orders\[1\]/,
  );
});
