import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateSigma, epsilonOf } from '../../../src-main/privacy';
import {
  calibrateComposedSigma,
  composedEpsilon as direct,
} from '../../../src-main/privacy/compose-specs';

const dp2vae = { mechanism: 'dp2vae', blocks: 1000, sigma: 1, steps: 2000 } as const;
const dpsgd = { mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1, steps: 1000 } as const;
const delta = 1e-5;

test('one relation: the ledger total is the RDP composition (two equal runs = one run of twice the steps)', () => {
  const two = direct({ specs: [dpsgd, dpsgd], delta }).epsilon;
  const once = epsilonOf({ spec: { ...dpsgd, steps: 2000 }, delta }).epsilon;
  assert.ok(Math.abs(two - once) < 1e-9 * once);
});

test('DP-SGD and DP²-VAE on the same images: a certified replace-one total, never below either part', () => {
  const mixed = direct({ specs: [dp2vae, dpsgd], delta });
  assert.ok(Number.isFinite(mixed.epsilon));
  const b = epsilonOf({ spec: dp2vae, delta }).epsilon;
  const a = epsilonOf({ spec: dpsgd, delta }).epsilon;
  // Under replace-one an add/remove run counts at least twice its own ε (group of two).
  assert.ok(mixed.epsilon >= b + 2 * a - 1e-9, `${mixed.epsilon} vs ${b} + 2·${a}`);
  // And it is not absurdly loose: halving δ for each part costs little.
  assert.ok(mixed.epsilon <= 1.25 * (b + 2 * a), `${mixed.epsilon}`);
  // More steps of either part never lower the total.
  const more = direct({ specs: [dp2vae, { ...dpsgd, steps: 1500 }], delta }).epsilon;
  assert.ok(more > mixed.epsilon);
});

test('σ for a release that composes with one already spent: the smallest whose total stays within the target', () => {
  const spent = [{ mechanism: 'dpsgd', sampleRate: 0.02, sigma: 1.5, steps: 300 }] as const;
  const spec = { mechanism: 'gaussian', steps: 1 } as const;
  for (const target of [2, 5]) {
    const { sigma, epsilon } = calibrateComposedSigma({
      spent,
      spec,
      epsilon: target,
      delta: 1e-5,
    });
    const total = (s: number) =>
      direct({ specs: [...spent, { ...spec, sigma: s }], delta: 1e-5 }).epsilon;
    assert.equal(epsilon, total(sigma));
    assert.ok(epsilon <= target, `${epsilon} at ${target}`);
    assert.ok(total(sigma * (1 - 1e-4)) > target, 'a little less noise passes the target');
  }
  // Nothing spent: the same σ as calibrating the release alone (RDP).
  const alone = calibrateComposedSigma({ spent: [], spec, epsilon: 1, delta: 1e-5 }).sigma;
  const own = calibrateSigma({ spec, epsilon: 1, delta: 1e-5 }).sigma;
  assert.ok(Math.abs(alone - own) < 1e-4 * own, `${alone} vs ${own}`);
  // What was spent reaches the target: refused in words.
  const already = direct({ specs: spent, delta: 1e-5 }).epsilon;
  assert.throws(
    () => calibrateComposedSigma({ spent, spec, epsilon: already, delta: 1e-5 }),
    (e: Error & { code?: string }) =>
      e.code === 'UNREACHABLE_TARGET' && /already spent/.test(e.message),
  );
});
