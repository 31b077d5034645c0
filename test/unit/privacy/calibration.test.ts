import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accountantFor,
  calibrateSigma,
  epsilonOf,
  maxSteps,
  type MechanismSpecWithoutSigma,
} from '../../../src-main/privacy';
import { assertClose, assertUserError, fixture } from './helpers';

test('calibrateSigma reproduces FINDINGS.md’s σ for ε = 10, δ = 1e-5, never below the true σ', () => {
  // FINDINGS.md table (printed to 3 decimals) and the same calibration with dp_accounting at
  // full precision: test/fixtures/privacy/dp-accounting-dp2vae-calibration.json.
  const findings = new Map([
    ['100/3000', 1.549],
    ['100/10000', 2.543],
    ['500/3000', 1.007],
    ['500/10000', 1.094],
    ['2500/3000', 0.839],
    ['2500/10000', 0.874],
    ['2500/100000', 0.975], // FINDINGS.md second table, WBK column
    ['2500/1000000', 1.3],
  ]);
  const { cases } = fixture<{
    blocks: number;
    steps: number;
    epsilon: number;
    delta: number;
    sigma: number;
  }>('dp-accounting-dp2vae-calibration.json');
  assert.equal(cases.length, findings.size);
  for (const c of cases) {
    const result = calibrateSigma({
      spec: { mechanism: 'dp2vae', blocks: c.blocks, steps: c.steps },
      epsilon: c.epsilon,
      delta: c.delta,
    });
    const printed = findings.get(`${c.blocks}/${c.steps}`) as number;
    assert.ok(
      Math.abs(result.sigma - printed) <= 0.002,
      `K=${c.blocks} T=${c.steps}: σ=${result.sigma} vs ${printed}`,
    );
    // Never below the true smallest σ (dp_accounting's, to its bisection width), and within 2e-5.
    assert.ok(result.sigma >= c.sigma * (1 - 1e-12), `σ=${result.sigma} < true ${c.sigma}`);
    assertClose(result.sigma, c.sigma, 2e-5, `K=${c.blocks} T=${c.steps}`);
    assert.ok(result.epsilon <= 10);
    assert.equal(result.order, 3);
  }
});

test('Opacus get_noise_multiplier: ours is the smallest σ, at most Opacus’s bracket end', () => {
  // opacus/tests/accountants_test.py test_get_noise_multiplier_rdp_epochs (q=0.04, 90 epochs
  // = 2250 steps, ε=8, δ=1e-5 → 1.416) and _rdp_steps (2000 steps → 1.3562). Opacus returns
  // the upper end of a bisection stopped once ε is within 0.01 of the target (1.416015625,
  // 1.356201171875), so the smallest σ is at or below it.
  for (const [steps, opacus] of [
    [2250, 1.416015625],
    [2000, 1.356201171875],
  ] as const) {
    const { sigma, epsilon } = calibrateSigma({
      spec: { mechanism: 'dpsgd', sampleRate: 0.04, steps },
      epsilon: 8,
      delta: 1e-5,
    });
    assert.ok(
      sigma <= opacus && sigma > opacus - 0.001,
      `T=${steps}: σ=${sigma} vs Opacus ${opacus}`,
    );
    assert.ok(epsilon <= 8);
  }
});

test('calibrated σ never overshoots and is tight', () => {
  const specs: MechanismSpecWithoutSigma[] = [
    { mechanism: 'dpsgd', sampleRate: 256 / 60000, steps: 20_000 },
    { mechanism: 'dp2vae', blocks: 250, steps: 5000 },
    { mechanism: 'gaussian', steps: 10 },
  ];
  for (const spec of specs) {
    for (const target of [0.5, 2, 8]) {
      const { sigma, epsilon } = calibrateSigma({ spec, epsilon: target, delta: 1e-6 });
      const fresh = accountantFor({ ...spec, sigma } as never).epsilon({ delta: 1e-6 }).epsilon;
      assert.equal(fresh, epsilon);
      assert.ok(fresh <= target, `${spec.mechanism} ε=${target}: ${fresh}`);
      const less = epsilonOf({
        spec: { ...spec, sigma: sigma * (1 - 1e-3) } as never,
        delta: 1e-6,
      }).epsilon;
      assert.ok(less > target, `${spec.mechanism} ε=${target}: σ·(1−1e-3) still meets it`);
    }
  }
});

test('unreachable σ targets say what to change', () => {
  // Opacus's "privacy budget is too low": σ would have to exceed 1e4.
  assertUserError(
    () =>
      calibrateSigma({
        spec: { mechanism: 'dpsgd', sampleRate: 1, steps: 1_000_000 },
        epsilon: 1e-4,
        delta: 1e-9,
      }),
    'UNREACHABLE_TARGET',
    /cannot be reached.*raise ε/,
  );
  assertUserError(
    () =>
      calibrateSigma({
        spec: { mechanism: 'dp2vae', blocks: 10, steps: 10 },
        epsilon: 0,
        delta: 1e-5,
      }),
    'INVALID_INPUT',
    /epsilon/,
  );
  assertUserError(
    () =>
      calibrateSigma({
        spec: { mechanism: 'dp2vae', blocks: 10, steps: 0 },
        epsilon: 1,
        delta: 1e-5,
      }),
    'INVALID_INPUT',
    /steps/,
  );
});

test('maxSteps is the largest T within budget', () => {
  const spec = { mechanism: 'dp2vae', blocks: 2500, sigma: 0.874 } as const;
  const { steps, epsilon } = maxSteps({ spec, epsilon: 10, delta: 1e-5 });
  // FINDINGS.md: σ = 0.874 meets ε = 10 at T = 10 000 (calibrated σ 0.87373 < 0.874).
  assert.ok(steps >= 10_000, `T=${steps}`);
  assert.ok(epsilon <= 10);
  assert.ok(epsilonOf({ spec: { ...spec, steps }, delta: 1e-5 }).epsilon <= 10);
  assert.ok(epsilonOf({ spec: { ...spec, steps: steps + 1 }, delta: 1e-5 }).epsilon > 10);
  for (const target of [1, 2, 4]) {
    const sgd = { mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1.1 } as const;
    const r = maxSteps({ spec: sgd, epsilon: target, delta: 1e-5 });
    assert.ok(epsilonOf({ spec: { ...sgd, steps: r.steps }, delta: 1e-5 }).epsilon <= target);
    assert.ok(epsilonOf({ spec: { ...sgd, steps: r.steps + 1 }, delta: 1e-5 }).epsilon > target);
  }
  // The limit caps the answer.
  assert.deepEqual(maxSteps({ spec, epsilon: 10, delta: 1e-5, limit: 500 }).steps, 500);
  // Even one step overshoots: nothing is possible.
  assertUserError(
    () => maxSteps({ spec: { mechanism: 'gaussian', sigma: 0.5 }, epsilon: 1, delta: 1e-5 }),
    'UNREACHABLE_TARGET',
    /single training step.*larger σ/,
  );
  assertUserError(
    () => maxSteps({ spec, epsilon: 10, delta: 1e-5, limit: 0 }),
    'INVALID_INPUT',
    /limit/,
  );
});
