/**
 * Plan resolution (presets, overrides, σ calibration) and the budget limits
 * shared by the runner and the worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import {
  assertFitsBudget,
  composedTotal,
  grantSpend,
  ownEpsilon,
  stepLimit,
} from '../../../src-main/jobs/budget';
import {
  MIN_BLOCK_RECORDS,
  planArchitecture,
  PRESETS,
  resolvePlan,
} from '../../../src-main/jobs/presets';
import { parameterCount } from '../../../src-main/engine';
import { epsilonOf } from '../../../src-main/privacy';
import { composedEpsilon } from '../../../src-main/privacy/compose-specs';

const DELTA = 1e-5;

test('σ is calibrated so the run’s own T steps reach the target exactly, never above', () => {
  for (const [preset, eps] of [
    ['quick', 10],
    ['paper', 3],
    ['high-privacy', 1],
  ] as const) {
    const { plan, epsilon } = resolvePlan({
      preset,
      datasetSize: 60_000,
      targetEpsilon: eps,
      delta: DELTA,
    });
    assert.equal(plan.blocks, PRESETS[preset].blocks);
    assert.equal(plan.steps, PRESETS[preset].steps);
    const e = epsilonOf({
      spec: { mechanism: 'dp2vae', blocks: plan.blocks, sigma: plan.sigma, steps: plan.steps },
      delta: DELTA,
    }).epsilon;
    assert.equal(epsilon, e);
    assert.ok(e <= eps && e > eps * (1 - 1e-3), `${preset}: ε = ${e} for target ${eps}`);
    assert.ok(Number.isSafeInteger(plan.seed) && plan.seed >= 0);
  }
});

test('overrides win; a given σ is kept; K shrinks for a small data set; bad settings are refused in plain words', () => {
  const r = resolvePlan({
    preset: 'quick',
    overrides: { blocks: 10, steps: 50, sigma: 3, seed: 7, optimizer: 'sgd', lr: 0.01 },
    datasetSize: 1000,
    targetEpsilon: 100,
    delta: DELTA,
  });
  assert.deepEqual(
    { ...r.plan },
    {
      ...r.plan,
      blocks: 10,
      steps: 50,
      sigma: 3,
      seed: 7,
      optimizer: 'sgd',
      lr: 0.01,
    },
  );
  const small = resolvePlan({ preset: 'paper', datasetSize: 800, targetEpsilon: 5, delta: DELTA });
  assert.equal(small.plan.blocks, 800 / MIN_BLOCK_RECORDS);
  assert.match(small.notes[0]!, /800 training images, so 100 blocks are used instead of 2500/);
  const refuse = (input: Parameters<typeof resolvePlan>[0], re: RegExp, code = 'INVALID_INPUT') =>
    assert.throws(
      () => resolvePlan(input),
      (e: unknown) => e instanceof UserError && e.code === code && re.test(e.message),
    );
  const base = { preset: 'quick' as const, datasetSize: 1000, targetEpsilon: 5, delta: DELTA };
  refuse({ ...base, overrides: { blocks: 2000 } }, /2000 blocks cannot be made from 1000/);
  refuse({ ...base, overrides: { lr: -1 } }, /setting lr is not valid/);
  refuse(
    { ...base, overrides: { learningRate: 1 } as never },
    /Unknown training setting.*learningRate/,
  );
  refuse({ ...base, preset: 'fast' as never }, /no preset "fast".*quick, paper, high-privacy/);
  refuse({ ...base, targetEpsilon: 0 }, /target ε/);
  refuse(
    { ...base, targetEpsilon: 1e-6, overrides: { blocks: 1 } },
    /cannot be reached/,
    'UNREACHABLE_TARGET',
  );
});

test('the quick preset uses a smaller decoder than the paper’s; other image shapes get the convolutional model', () => {
  const quick = planArchitecture('quick', { height: 28, width: 28, channels: 1 }, 10, 'dp2vae');
  const paper = planArchitecture('paper', { height: 28, width: 28, channels: 1 }, 10, 'dp2vae');
  assert.equal(parameterCount(paper, 'decoder'), 538_640);
  assert.ok(parameterCount(quick, 'decoder') < parameterCount(paper, 'decoder') / 4);
  assert.equal(
    planArchitecture('quick', { height: 32, width: 32, channels: 3 }, 4, 'dp2vae').kind,
    'conv-cvae',
  );
});

test('step limits: the step budget, the run’s own target, or the data set cap, whichever binds first', () => {
  const noise = { blocks: 4, sigma: 3 };
  const eps = (s: number) => ownEpsilon(noise, s, DELTA);
  const none = { cap: null, delta: DELTA, priorSpecs: [] };
  const base = { noise, steps: 100, delta: DELTA, paidSteps: 0, startStep: 0 };
  assert.deepEqual(stepLimit({ ...base, targetEpsilon: 1e3, budget: none }), {
    limit: 100,
    reason: 'steps',
  });
  const own = stepLimit({ ...base, targetEpsilon: (eps(40) + eps(41)) / 2, budget: none });
  assert.deepEqual(own, { limit: 40, reason: 'epsilon' });
  // Prior spend of 30 steps of the same kind; the cap allows 30 + 25 in all.
  const prior = [{ mechanism: 'dp2vae' as const, ...noise, steps: 30 }];
  const cap = composedEpsilon({
    specs: [...prior, { ...prior[0]!, steps: 25 }],
    delta: DELTA,
  }).epsilon;
  const capped = stepLimit({
    ...base,
    targetEpsilon: 1e3,
    budget: { cap: cap * (1 + 1e-12), delta: DELTA, priorSpecs: prior },
  });
  assert.deepEqual(capped, { limit: 25, reason: 'budget' });
  // Resumed from checkpoint 10 after paying 18 steps (8 lost to a crash): 25 − 18 = 7 more fit, up to step 17.
  const resumed = stepLimit({
    ...base,
    targetEpsilon: 1e3,
    budget: { cap: cap * (1 + 1e-12), delta: DELTA, priorSpecs: prior },
    paidSteps: 18,
    startStep: 10,
  });
  assert.deepEqual(resumed, { limit: 17, reason: 'budget' });
  // Nothing left: the limit is the start step.
  assert.equal(
    stepLimit({
      ...base,
      targetEpsilon: 1e3,
      budget: { cap: composedTotal(prior, noise, 0, DELTA), delta: DELTA, priorSpecs: prior },
    }).limit,
    0,
  );
});

test('the runner grants a spend only as far as the cap allows', () => {
  const noise = { blocks: 4, sigma: 3 };
  const ledger = [{ mechanism: 'dp2vae' as const, ...noise, steps: 30 }];
  const cap = composedTotal(ledger, noise, 12, DELTA) * (1 + 1e-12);
  const grant = (fromStep: number, toStep: number) =>
    grantSpend({ ledger, noise, fromStep, toStep, cap, capDelta: DELTA });
  assert.equal(grant(1, 10), 10);
  assert.equal(grant(1, 25), 12);
  assert.equal(grant(5, 25), 16, 'the grant counts steps, not step numbers');
  assert.equal(
    grantSpend({
      ledger,
      noise,
      fromStep: 1,
      toStep: 9,
      cap: composedTotal(ledger, noise, 0, DELTA),
      capDelta: DELTA,
    }),
    0,
    'none fits: fromStep − 1',
  );
  assert.equal(
    grantSpend({ ledger, noise, fromStep: 1, toStep: 99, cap: null, capDelta: DELTA }),
    99,
  );
});

test('assertFitsBudget refuses with what was spent, the cap and what to change', () => {
  const noise = { blocks: 100, sigma: 1 };
  const prior = [{ mechanism: 'dp2vae' as const, blocks: 100, sigma: 1, steps: 2000 }];
  const spent = composedTotal(prior, noise, 0, DELTA);
  const args = {
    datasetName: 'X-rays',
    cap: spent + 0.5,
    capDelta: DELTA,
    priorSpecs: prior,
    noise,
    steps: 2000,
    targetEpsilon: 5,
    delta: DELTA,
  };
  assert.throws(
    () => assertFitsBudget(args),
    (e: unknown) =>
      e instanceof UserError &&
      e.code === 'BUDGET_EXCEEDED' &&
      /“X-rays”/.test(e.message) &&
      e.message.includes(`already spent ε = ${Number(spent.toPrecision(3))}`) &&
      /only \d+ of the 2000 steps would fit/.test(e.message),
  );
  assert.throws(() => assertFitsBudget({ ...args, cap: spent * 0.9 }), /nothing is left/);
  const ok = assertFitsBudget({ ...args, cap: null });
  assert.equal(ok.spent, spent);
  assert.ok(ok.total > spent);
  assert.equal(assertFitsBudget({ ...args, priorSpecs: [], cap: 100 }).spent, 0);
});
