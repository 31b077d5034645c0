import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RdpAccountant,
  deltaOf,
  epsilonOf,
  mechanismEvent,
  type MechanismSpec,
} from '../../../src-main/privacy';
import { assertClose, assertUserError, fixture } from './helpers';

test('dp2vae ε matches dp_accounting (WBK, replace-one, z = σ/2) to 1e-6', () => {
  // test/fixtures/privacy/dp-accounting-dp2vae-epsilon.json, from generate_vectors.py (dp2vae)
  const { cases } = fixture<{
    blocks: number;
    sigma: number;
    steps: number;
    delta: number;
    epsilon: number;
    order: number;
  }>('dp-accounting-dp2vae-epsilon.json');
  assert.ok(cases.length >= 14);
  for (const c of cases) {
    const spec: MechanismSpec = {
      mechanism: 'dp2vae',
      blocks: c.blocks,
      sigma: c.sigma,
      steps: c.steps,
    };
    const { epsilon, order } = epsilonOf({ spec, delta: c.delta });
    assertClose(epsilon, c.epsilon, 1e-6, `K=${c.blocks} σ=${c.sigma} T=${c.steps}`);
    assert.equal(order, c.order);
  }
});

test('FINDINGS.md: the tabulated σ (rounded to 3 decimals) brackets ε = 10, at order 3', () => {
  for (const [blocks, steps, sigma] of [
    [100, 3000, 1.549],
    [100, 10000, 2.543],
    [500, 3000, 1.007],
    [500, 10000, 1.094],
    [2500, 3000, 0.839],
    [2500, 10000, 0.874],
  ] as const) {
    const at = (s: number) =>
      epsilonOf({ spec: { mechanism: 'dp2vae', blocks, sigma: s, steps }, delta: 1e-5 });
    assert.ok(at(sigma + 0.0005).epsilon <= 10, `K=${blocks} T=${steps}: σ+0.0005 overshoots`);
    assert.ok(at(sigma - 0.0005).epsilon > 10, `K=${blocks} T=${steps}: σ−0.0005 still meets ε=10`);
    assert.equal(at(sigma).order, 3);
  }
});

test('dpsgd ε matches Opacus on the default grid to 1e-6', () => {
  // test/fixtures/privacy/opacus-dpsgd-epsilon.json, from generate_vectors.py (dpsgd)
  const { cases } = fixture<{
    sampleRate: number;
    sigma: number;
    steps: number;
    delta: number;
    epsilon: number;
    order: number;
  }>('opacus-dpsgd-epsilon.json');
  for (const c of cases) {
    const spec: MechanismSpec = {
      mechanism: 'dpsgd',
      sampleRate: c.sampleRate,
      sigma: c.sigma,
      steps: c.steps,
    };
    const { epsilon, order } = epsilonOf({ spec, delta: c.delta });
    assertClose(epsilon, c.epsilon, 1e-6, `q=${c.sampleRate} σ=${c.sigma} T=${c.steps}`);
    assert.equal(order, c.order);
  }
});

test('mechanism events carry the right relation and noise multiplier', () => {
  const dp2 = mechanismEvent({ mechanism: 'dp2vae', blocks: 500, sigma: 1.2, steps: 7 });
  assert.equal(dp2.neighbouring, 'replace-one');
  assert.deepEqual(dp2.event, {
    kind: 'self-composed',
    count: 7,
    event: {
      kind: 'sampled-without-replacement',
      sourceSize: 500,
      sampleSize: 1,
      event: { kind: 'gaussian', noiseMultiplier: 0.6 },
    },
  });
  const sgd = mechanismEvent({ mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1.1, steps: 3 });
  assert.equal(sgd.neighbouring, 'add-remove');
  assert.equal(sgd.event.kind, 'self-composed');
  const gauss = mechanismEvent({ mechanism: 'gaussian', sigma: 2, steps: 1 });
  const accountant = RdpAccountant.create({ neighbouring: gauss.neighbouring }).compose(
    gauss.event,
  );
  assert.deepEqual(accountant.rdp.slice(0, 2), [1.1 / 8, 1.2 / 8]);
  // K = 1: the single block is always picked, so it is the plain Gaussian with z = σ/2.
  const one = epsilonOf({
    spec: { mechanism: 'dp2vae', blocks: 1, sigma: 4, steps: 5 },
    delta: 1e-5,
  });
  const plain = epsilonOf({ spec: { mechanism: 'gaussian', sigma: 2, steps: 5 }, delta: 1e-5 });
  assertClose(one.epsilon, plain.epsilon, 1e-14, 'K=1');
});

test('deltaOf inverts epsilonOf', () => {
  const spec: MechanismSpec = { mechanism: 'dp2vae', blocks: 2500, sigma: 0.975, steps: 100_000 };
  const { epsilon, order } = epsilonOf({ spec, delta: 1e-5 });
  const back = deltaOf({ spec, epsilon });
  assertClose(back.delta, 1e-5, 1e-9, 'δ');
  assert.equal(back.order, order);
  assert.equal(epsilonOf({ spec: { ...spec, steps: 0 }, delta: 1e-5 }).epsilon, 0);
});

test('bad specs are refused with the field named', () => {
  const ok = { mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1, steps: 10 } as const;
  const cases: Array<[unknown, RegExp]> = [
    [{ ...ok, sigma: NaN }, /sigma.*NaN/],
    [{ ...ok, sigma: -1 }, /sigma/],
    [{ ...ok, sigma: 0 }, /sigma/],
    [{ ...ok, sampleRate: 1.5 }, /sampleRate/],
    [{ ...ok, sampleRate: 0 }, /sampleRate/],
    [{ ...ok, steps: -1 }, /steps/],
    [{ ...ok, steps: 2.5 }, /steps/],
    [{ mechanism: 'dp2vae', blocks: 0, sigma: 1, steps: 10 }, /blocks/],
    [{ mechanism: 'dp2vae', blocks: 10.5, sigma: 1, steps: 10 }, /blocks/],
    [{ mechanism: 'laplace', sigma: 1, steps: 10 }, /mechanism/],
    [null, /spec/],
  ];
  for (const [spec, message] of cases) {
    assertUserError(
      () => epsilonOf({ spec: spec as MechanismSpec, delta: 1e-5 }),
      'INVALID_INPUT',
      message,
    );
  }
  for (const delta of [1, 1.5, 0, -1e-5, NaN]) {
    assertUserError(() => epsilonOf({ spec: ok, delta }), 'INVALID_INPUT', /delta/);
  }
  assertUserError(() => deltaOf({ spec: ok, epsilon: -1 }), 'INVALID_INPUT', /epsilon/);
});
