/**
 * The data set's budget cap: a run that would pass it is refused before
 * anything is written; a running job whose data set is spent by another run
 * meanwhile stops at the cap and never past it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTraining } from '../../../src-main/jobs/runner';
import { UserError } from '../../../src-main/contract/errors';
import { epsilonOf } from '../../../src-main/privacy';
import { composedEpsilon } from '../../../src-main/privacy/compose-specs';
import {
  createRun,
  getRun,
  ledgerEntries,
  listArtifacts,
  listRuns,
  recordSpend,
  stepsSpent,
  type Store,
} from '../../../src-main/store';
import { mnistDataset, recorder, SMALL, SMALL_SCHEDULE, stage2Steps, tempHome } from './helpers';

const DELTA = 1e-5;
const spec = (sigma: number, steps: number) =>
  ({ mechanism: 'dp2vae', blocks: SMALL.blocks, sigma, steps }) as const;

/** Another run on the data set that spends `steps` steps at σ. */
function otherRunSpends(store: Store, datasetId: number, sigma: number, steps: number): number {
  const run = createRun(store, {
    datasetId,
    method: 'dp2vae',
    hyperparameters: { note: 'spent by another run' },
    architecture: {},
    targetEpsilon: 50,
    delta: DELTA,
  });
  recordSpend(store, {
    datasetId,
    runId: run.id,
    spec: { mechanism: 'dp2vae', blocks: SMALL.blocks, sigma },
    fromStep: 1,
    toStep: steps,
  });
  return run.id;
}

test('a run that would pass the cap is refused before anything starts', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'capped', 110, { epsilon: 4 });
  const prior = otherRunSpends(store, ds.id, 10, 30);
  const spent = epsilonOf({ spec: spec(10, 30), delta: DELTA }).epsilon;
  assert.ok(spent > 1 && spent < 4, `prior spend ε = ${spent}`);
  const runsBefore = listRuns(store).length;
  const ledgerBefore = ledgerEntries(store, ds.id);

  await assert.rejects(
    startTraining({
      store,
      dataHome: home,
      datasetName: 'capped',
      method: 'dp2vae',
      targetEpsilon: 3,
      preset: 'quick',
      overrides: SMALL,
    }),
    (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.code, 'BUDGET_EXCEEDED');
      // Plain words: spent so far, the cap, what to change.
      assert.match(err.message, /“capped”/);
      assert.match(err.message, /cap of ε = 4/);
      assert.match(err.message, new RegExp(`already spent ε = ${Number(spent.toPrecision(3))}`));
      assert.match(err.message, /Lower the run's target ε, or raise the data set's cap/);
      assert.match(err.message, /Nothing was started/);
      return true;
    },
  );
  // A target above the cap on its own is refused too.
  await assert.rejects(
    startTraining({
      store,
      dataHome: home,
      datasetName: 'capped',
      method: 'dp2vae',
      targetEpsilon: 5,
      preset: 'quick',
      overrides: SMALL,
    }),
    /BUDGET_EXCEEDED|cap/,
  );
  assert.equal(listRuns(store).length, runsBefore, 'no run row was written');
  assert.deepEqual(ledgerEntries(store, ds.id), ledgerBefore, 'no ledger row was written');
  assert.equal(listArtifacts(store).length, 0, 'no artifact was registered');
  assert.equal(existsSync(join(home, 'runs')), false, 'no run folder was made');
  assert.equal(stepsSpent(store, prior), 30);
});

test('a running job stops at the data set cap when another run spends most of it meanwhile', async (t) => {
  const { store, home } = tempHome(t);
  const sigma = 2;
  const T = SMALL.steps;
  const cap = composedEpsilon({ specs: [spec(sigma, 60), spec(sigma, 17)], delta: DELTA }).epsilon;
  const ds = await mnistDataset(store, 'shared', 330, { epsilon: cap * (1 + 1e-9) });
  // The run fits the cap on its own (ε of 40 steps < ε of 77 steps), so it starts.
  const target = epsilonOf({ spec: spec(sigma, T), delta: DELTA }).epsilon + 0.01;
  const { events, onEvent } = recorder();
  let other = 0;
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'shared',
    method: 'dp2vae',
    targetEpsilon: target,
    preset: 'quick',
    overrides: { ...SMALL, sigma },
    schedule: SMALL_SCHEDULE,
    onEvent: (e) => {
      onEvent(e);
      // While our run trains stage 1, another run spends 60 steps of the same kind.
      if (e.type === 'stage' && e.stage === 'stage1')
        other = otherRunSpends(store, ds.id, sigma, 60);
    },
  });
  const outcome = await handle.done;
  assert.ok(other > 0);
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.stoppedBy, 'budget');
  assert.equal(outcome.steps, 17, 'exactly the steps the cap leaves');
  assert.deepEqual(
    stage2Steps(events),
    Array.from({ length: 17 }, (_, i) => i + 1),
  );
  assert.equal(stepsSpent(store, handle.runId), 17, 'no step reserved past the cap');
  const total = composedEpsilon({
    specs: ledgerEntries(store, ds.id).map((e) => e.spec as ReturnType<typeof spec>),
    delta: DELTA,
  }).epsilon;
  assert.ok(total <= ds.budgetEpsilon!, `total ε ${total} ≤ cap ${ds.budgetEpsilon}`);
  const oneMore = composedEpsilon({ specs: [spec(sigma, 60), spec(sigma, 18)], delta: DELTA });
  assert.ok(oneMore.epsilon > ds.budgetEpsilon!, 'one more step would have passed the cap');
  assert.equal(outcome.certificate?.steps, 17);
  assert.equal(
    outcome.certificate?.epsilon,
    epsilonOf({ spec: spec(sigma, 17), delta: DELTA }).epsilon,
  );
  assert.equal(getRun(store, handle.runId).status, 'completed');
});
