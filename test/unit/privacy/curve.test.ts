import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epsilonCurve, epsilonOf, type MechanismSpecWithoutSteps } from '../../../src-main/privacy';
import { assertUserError } from './helpers';

test('the ε curve equals a fresh accountant at every point and grows with T', () => {
  const specs: MechanismSpecWithoutSteps[] = [
    { mechanism: 'dp2vae', blocks: 2500, sigma: 0.975 },
    { mechanism: 'dpsgd', sampleRate: 256 / 60000, sigma: 1.1 },
    { mechanism: 'gaussian', sigma: 30 },
  ];
  for (const spec of specs) {
    const curve = epsilonCurve({ spec, delta: 1e-5, maxSteps: 100_000, points: 200 });
    assert.equal(curve.length, 200);
    assert.equal(curve[0]?.steps, 500);
    assert.equal(curve.at(-1)?.steps, 100_000);
    for (let i = 0; i < curve.length; i++) {
      const point = curve[i] as { steps: number; epsilon: number };
      if (i > 0) {
        assert.ok(point.steps > (curve[i - 1] as { steps: number }).steps);
        assert.ok(point.epsilon >= (curve[i - 1] as { epsilon: number }).epsilon);
      }
      if (i % 37 === 0 || i === curve.length - 1) {
        const fresh = epsilonOf({ spec: { ...spec, steps: point.steps } as never, delta: 1e-5 });
        assert.equal(point.epsilon, fresh.epsilon, `${spec.mechanism} T=${point.steps}`);
      }
    }
  }
});

test('short runs give one point per step, without duplicates', () => {
  const curve = epsilonCurve({
    spec: { mechanism: 'gaussian', sigma: 5 },
    delta: 1e-5,
    maxSteps: 3,
    points: 10,
  });
  assert.deepEqual(
    curve.map((p) => p.steps),
    [1, 2, 3],
  );
});

test('bad curve requests are refused with the field named', () => {
  const spec = { mechanism: 'gaussian', sigma: 5 } as const;
  assertUserError(
    () => epsilonCurve({ spec, delta: 1e-5, maxSteps: 0, points: 10 }),
    'INVALID_INPUT',
    /maxSteps/,
  );
  assertUserError(
    () => epsilonCurve({ spec, delta: 1e-5, maxSteps: 10, points: 0 }),
    'INVALID_INPUT',
    /points/,
  );
  assertUserError(
    () => epsilonCurve({ spec, delta: 2, maxSteps: 10, points: 5 }),
    'INVALID_INPUT',
    /delta/,
  );
  assertUserError(
    () =>
      epsilonCurve({
        spec: { mechanism: 'gaussian', sigma: -5 },
        delta: 1e-5,
        maxSteps: 10,
        points: 5,
      }),
    'INVALID_INPUT',
    /sigma/,
  );
});
