import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPrivateSteps } from '../../../src-main/engine/private-steps';

/** ε grows by 1 per step: easy to read where the loop must stop. */
const linear = (steps: number): number => steps;

test('the loop records each spend before its step and never passes the target', async () => {
  const events: string[] = [];
  const result = await runPrivateSteps<{ x: number }>({
    taken: 0,
    steps: 100,
    target: 3.5,
    hooks: {
      epsilonAfter: linear,
      beforeNoisyUpdate: async (step) => {
        events.push(`spend ${step}`);
      },
      onStep: (r) => {
        events.push(`done ${r.step} ε=${r.epsilon} x=${r.x}`);
      },
    },
    takeStep: (next) => {
      events.push(`step ${next}`);
      return { x: next * 10 };
    },
  });
  assert.deepEqual(result, { stepsTaken: 3, stoppedBy: 'epsilon', epsilon: 3 });
  assert.deepEqual(events, [
    'spend 1',
    'step 1',
    'done 1 ε=1 x=10',
    'spend 2',
    'step 2',
    'done 2 ε=2 x=20',
    'spend 3',
    'step 3',
    'done 3 ε=3 x=30',
  ]);
});

test('a resumed loop continues after the steps taken and stops at the budget', async () => {
  const taken: number[] = [];
  const result = await runPrivateSteps({
    taken: 5,
    steps: 8,
    target: null,
    hooks: { epsilonAfter: linear, beforeNoisyUpdate: async () => {} },
    takeStep: (next) => {
      taken.push(next);
      return {};
    },
  });
  assert.deepEqual(taken, [6, 7, 8]);
  assert.deepEqual(result, { stepsTaken: 8, stoppedBy: 'steps', epsilon: 8 });
});

test('an abort acts before the next step, and a failed spend takes no step', async () => {
  const stop = new AbortController();
  let steps = 0;
  const aborted = await runPrivateSteps({
    taken: 0,
    steps: 100,
    target: null,
    hooks: {
      epsilonAfter: linear,
      beforeNoisyUpdate: async () => {},
      onStep: (r) => {
        if (r.step === 2) stop.abort();
      },
      signal: stop.signal,
    },
    takeStep: () => {
      steps++;
      return {};
    },
  });
  assert.deepEqual(aborted, { stepsTaken: 2, stoppedBy: 'aborted', epsilon: 2 });
  assert.equal(steps, 2);

  let stepped = false;
  await assert.rejects(
    runPrivateSteps({
      taken: 0,
      steps: 10,
      target: null,
      hooks: {
        epsilonAfter: linear,
        beforeNoisyUpdate: () => Promise.reject(new Error('disk full')),
      },
      takeStep: () => {
        stepped = true;
        return {};
      },
    }),
    /disk full/,
  );
  assert.equal(stepped, false);
});

test('no step at all reports ε = 0', async () => {
  const result = await runPrivateSteps({
    taken: 0,
    steps: 10,
    target: 0.5,
    hooks: { epsilonAfter: linear, beforeNoisyUpdate: async () => {} },
    takeStep: () => ({}),
  });
  assert.deepEqual(result, { stepsTaken: 0, stoppedBy: 'epsilon', epsilon: 0 });
});
