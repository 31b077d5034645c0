import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ORDERS,
  calibrateSigma,
  epsilonOf,
  maxSteps,
  type MechanismSpec,
  type MechanismSpecWithoutSigma,
} from '../../../src-main/privacy';
import { logUniform, seededRandom } from './helpers';

const DELTA = 1e-5;
const eps = (spec: MechanismSpec): number => epsilonOf({ spec, delta: DELTA }).epsilon;

test('ε is monotone: non-decreasing in steps and in q, non-increasing in σ (seeded grid)', () => {
  const random = seededRandom(20220807);
  for (let n = 0; n < 40; n++) {
    const q = logUniform(random, 1e-5, 1);
    const sigma = logUniform(random, 0.3, 50);
    const steps = Math.round(logUniform(random, 1, 1e6));
    const blocks = Math.max(1, Math.round(1 / q));
    const specs: MechanismSpec[] = [
      { mechanism: 'dpsgd', sampleRate: q, sigma, steps },
      { mechanism: 'dp2vae', blocks, sigma, steps },
    ];
    for (const spec of specs) {
      const base = eps(spec);
      const label = JSON.stringify(spec);
      assert.ok(Number.isFinite(base) && base >= 0, `${label}: ε=${base}`);
      assert.ok(eps({ ...spec, steps: steps * 2 }) >= base, `${label}: more steps`);
      assert.ok(eps({ ...spec, sigma: sigma * 1.25 }) <= base, `${label}: more noise`);
      if (spec.mechanism === 'dpsgd') {
        assert.ok(eps({ ...spec, sampleRate: Math.min(1, q * 1.5) }) >= base, `${label}: larger q`);
      } else if (spec.mechanism === 'dp2vae' && blocks > 1) {
        assert.ok(
          eps({ ...spec, blocks: Math.max(1, Math.floor(blocks / 1.5)) }) >= base,
          `${label}: fewer blocks`,
        );
      }
    }
  }
});

test('results are finite for q ∈ [1e-5, 1], σ ∈ [0.3, 50], steps up to 1e6', () => {
  for (const q of [1e-5, 1e-3, 0.1, 0.5, 0.99, 1]) {
    for (const sigma of [0.3, 1, 5, 50]) {
      for (const steps of [1, 1_000_000]) {
        const specs: MechanismSpec[] = [
          { mechanism: 'dpsgd', sampleRate: q, sigma, steps },
          { mechanism: 'dp2vae', blocks: Math.round(1 / q), sigma, steps },
        ];
        for (const spec of specs) {
          const { epsilon, order } = epsilonOf({ spec, delta: DELTA });
          assert.ok(
            Number.isFinite(epsilon) && epsilon >= 0,
            `${JSON.stringify(spec)}: ε=${epsilon}`,
          );
          assert.ok(DEFAULT_ORDERS.includes(order));
        }
      }
    }
  }
});

test('calibrated σ never overshoots and is tight; maxSteps is the largest (seeded grid)', () => {
  const random = seededRandom(2208034);
  for (let n = 0; n < 8; n++) {
    const target = logUniform(random, 0.5, 20);
    const steps = Math.round(logUniform(random, 10, 1e5));
    const q = logUniform(random, 1e-4, 0.2);
    const spec: MechanismSpecWithoutSigma =
      n % 2 === 0
        ? { mechanism: 'dpsgd', sampleRate: q, steps }
        : { mechanism: 'dp2vae', blocks: Math.round(1 / q), steps };
    const label = `${JSON.stringify(spec)} ε=${target}`;
    const { sigma } = calibrateSigma({ spec, epsilon: target, delta: DELTA });
    assert.ok(eps({ ...spec, sigma } as MechanismSpec) <= target, `${label}: overshoots`);
    assert.ok(
      eps({ ...spec, sigma: sigma * (1 - 1e-3) } as MechanismSpec) > target,
      `${label}: not tight`,
    );

    const { steps: _steps, ...withoutSteps } = { ...spec, sigma } as MechanismSpec;
    const budget = maxSteps({ spec: withoutSteps, epsilon: target, delta: DELTA });
    assert.ok(budget.steps >= steps, `${label}: the calibrated run itself fits`);
    assert.ok(eps({ ...withoutSteps, steps: budget.steps } as MechanismSpec) <= target);
    assert.ok(
      eps({ ...withoutSteps, steps: budget.steps + 1 } as MechanismSpec) > target,
      `${label}: not the largest`,
    );
  }
});
