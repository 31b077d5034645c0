import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCOUNTANT_VERSION,
  DEFAULT_ORDERS,
  RdpAccountant,
  gaussianEvent,
  poissonSampledEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
} from '../../../src-main/privacy';
import { assertClose, assertUserError } from './helpers';

// Opacus's RDPAccountant.DEFAULT_ALPHAS: 1.1 … 10.9 and 12 … 63.
const OPACUS_ALPHAS = [
  ...Array.from({ length: 99 }, (_, i) => (11 + i) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
];

test('Opacus test_rdp_accountant: σ=1.5, q=0.04, 2250 steps, δ=1e-5 → ε = 7.32911117143', () => {
  // opacus/tests/accountants_test.py AccountingTest.test_rdp_accountant (steps = int(90/0.04))
  const step = poissonSampledEvent({
    sampleRate: 0.04,
    event: gaussianEvent({ noiseMultiplier: 1.5 }),
  });
  const accountant = RdpAccountant.create({
    neighbouring: 'add-remove',
    orders: OPACUS_ALPHAS,
  }).compose(step, { count: 2250 });
  const { epsilon, order } = accountant.epsilon({ delta: 1e-5 });
  assertClose(epsilon, 7.32911117143, 1e-9, 'ε');
  assert.equal(order, 3.9);
  // Composing single steps gives the same RDP as composing the count at once.
  let stepwise = RdpAccountant.create({ neighbouring: 'add-remove', orders: OPACUS_ALPHAS });
  for (let i = 0; i < 25; i++) stepwise = stepwise.compose(step);
  const batched = RdpAccountant.create({
    neighbouring: 'add-remove',
    orders: OPACUS_ALPHAS,
  }).compose(step, { count: 25 });
  stepwise.rdp.forEach((r, k) =>
    assertClose(r, batched.rdp[k] as number, 1e-13, `order ${OPACUS_ALPHAS[k]}`),
  );
});

test('the accountant is immutable: compose returns a new one', () => {
  const fresh = RdpAccountant.create({ neighbouring: 'replace-one' });
  assert.equal(fresh.orders, DEFAULT_ORDERS);
  assert.ok(Object.isFrozen(fresh) && Object.isFrozen(fresh.rdp));
  assert.equal(fresh.epsilon({ delta: 1e-5 }).epsilon, 0);
  const event = sampledWithoutReplacementEvent({
    sourceSize: 500,
    sampleSize: 1,
    event: gaussianEvent({ noiseMultiplier: 0.547 }),
  });
  const once = fresh.compose(event, { count: 10_000 });
  assert.notEqual(once, fresh);
  assert.ok(
    fresh.rdp.every((r) => r === 0),
    'the original is untouched',
  );
  assert.ok(once.epsilon({ delta: 1e-5 }).epsilon > 9);
  // compose(event, { count: n }) ≡ compose(selfComposed(n, event))
  const viaEvent = fresh.compose(selfComposedEvent({ count: 10_000, event }));
  assert.deepEqual(viaEvent.rdp, once.rdp);
  assert.throws(() => {
    (once.rdp as number[])[0] = 0;
  }, TypeError);
});

test('ε and δ round-trip through the accountant', () => {
  const step = poissonSampledEvent({
    sampleRate: 0.01,
    event: gaussianEvent({ noiseMultiplier: 1.1 }),
  });
  const accountant = RdpAccountant.create({ neighbouring: 'add-remove' }).compose(step, {
    count: 5000,
  });
  for (const delta of [1e-3, 1e-5, 1e-8]) {
    const { epsilon, order } = accountant.epsilon({ delta });
    const back = accountant.delta({ epsilon });
    assertClose(back.delta, delta, 1e-9, `δ=${delta}`);
    assert.equal(back.order, order);
  }
});

test('one step of the plain Gaussian mechanism has the closed-form ε', () => {
  const z = 3;
  const delta = 1e-5;
  const { epsilon, order } = RdpAccountant.create({ neighbouring: 'add-remove' })
    .compose(gaussianEvent({ noiseMultiplier: z }))
    .epsilon({ delta });
  const expected = Math.min(
    ...DEFAULT_ORDERS.map(
      (a) => a / (2 * z * z) + Math.log1p(-1 / a) - (Math.log(delta) + Math.log(a)) / (a - 1),
    ),
  );
  assertClose(epsilon, expected, 1e-14, 'ε');
  assert.ok(DEFAULT_ORDERS.includes(order));
});

test('the version string is cited by certificates', () => {
  assert.match(ACCOUNTANT_VERSION, /^dp2-rdp\/\d+\.\d+\.\d+$/);
});

test('bad accountant input is refused with the field named', () => {
  assertUserError(
    () => RdpAccountant.create({ neighbouring: 'neighbours' as never }),
    'INVALID_INPUT',
    /neighbouring/,
  );
  assertUserError(
    () => RdpAccountant.create({ neighbouring: 'add-remove', orders: [] }),
    'INVALID_INPUT',
    /orders/,
  );
  assertUserError(
    () => RdpAccountant.create({ neighbouring: 'add-remove', orders: [2, NaN] }),
    'INVALID_INPUT',
    /orders\[1\]/,
  );
  const accountant = RdpAccountant.create({ neighbouring: 'add-remove' });
  assertUserError(() => accountant.epsilon({ delta: 1 }), 'INVALID_INPUT', /delta/);
  assertUserError(() => accountant.epsilon({ delta: -1e-5 }), 'INVALID_INPUT', /delta/);
  assertUserError(() => accountant.delta({ epsilon: NaN }), 'INVALID_INPUT', /epsilon/);
  assertUserError(
    () => accountant.compose(gaussianEvent({ noiseMultiplier: 1 }), { count: -2 }),
    'INVALID_INPUT',
    /count/,
  );
});
