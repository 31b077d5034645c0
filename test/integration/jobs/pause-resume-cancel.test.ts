/**
 * Pause, resume and cancel act within one training step (counted in steps,
 * not milliseconds), in stage 1 and in stage 2, through a real worker process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTraining, type RunEvent } from '../../../src-main/jobs/runner';
import { getRun, latestCheckpoint, listArtifacts, stepsSpent } from '../../../src-main/store';
import { mnistDataset, SMALL, SMALL_SCHEDULE, tempHome } from './helpers';

type Ev<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;

/** Events plus "wait until one matches" (from now on, or already seen since `from`). */
function bus() {
  const events: RunEvent[] = [];
  let waiters: { pred: (e: RunEvent) => boolean; resolve: (e: RunEvent) => void }[] = [];
  return {
    events,
    onEvent(e: RunEvent): void {
      events.push(e);
      const keep: typeof waiters = [];
      for (const w of waiters) {
        if (w.pred(e)) w.resolve(e);
        else keep.push(w);
      }
      waiters = keep;
    },
    next<T extends RunEvent>(pred: (e: RunEvent) => e is T, from = events.length): Promise<T> {
      const seen = events.slice(from).find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) =>
        waiters.push({ pred, resolve: resolve as (e: RunEvent) => void }),
      );
    },
  };
}

const is =
  <T extends RunEvent['type']>(type: T, extra: (e: Ev<T>) => boolean = () => true) =>
  (e: RunEvent): e is Ev<T> =>
    e.type === type && extra(e as Ev<T>);

test('pause, resume and cancel take effect within one step', async (t) => {
  const { store, home } = tempHome(t);
  await mnistDataset(store, 'digits', 330);
  const b = bus();
  const T = 400;
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dp2vae',
    targetEpsilon: 50,
    preset: 'quick',
    overrides: { ...SMALL, steps: T, pretrainEpochs: 4 },
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 1000, gridEvery: 0 },
    onEvent: b.onEvent,
  });

  // Stage 1: pause at its first step. Stage-1 steps are counted in block-steps;
  // one optimiser step of the group trains `group` blocks at once.
  const first = await b.next(is('progress', (e) => e.stage === 'stage1'));
  handle.pause();
  const p1 = await b.next(is('paused'));
  assert.equal(p1.stage, 'stage1');
  const group = first.step; // blocks in the group × 1 step
  const s1After = b.events
    .slice(0, b.events.indexOf(p1))
    .filter(is('progress', (e) => e.stage === 'stage1'))
    .map((e) => e.step);
  assert.ok(
    Math.max(...s1After) <= p1.requestedAt + group,
    `stage 1 ran ${Math.max(...s1After) - p1.requestedAt} block-steps after the pause (one step = ${group})`,
  );
  assert.equal(getRun(store, handle.runId).status, 'paused');
  handle.resume();
  await b.next(is('resumed', (e) => e.stage === 'stage1'));
  assert.equal(getRun(store, handle.runId).status, 'running');

  // Stage 2: pause after a few steps.
  const seen = await b.next(is('progress', (e) => e.stage === 'stage2' && e.step >= 5));
  handle.pause();
  const p2 = await b.next(is('paused', (e) => e.stage === 'stage2'));
  assert.ok(
    p2.step - p2.requestedAt <= 1,
    `${p2.step - p2.requestedAt} steps after the pause arrived`,
  );
  assert.ok(p2.step - seen.step <= 2, `paused at ${p2.step}, asked after seeing ${seen.step}`);
  assert.equal(getRun(store, handle.runId).status, 'paused');
  assert.equal(latestCheckpoint(store, handle.runId)?.step, p2.step, 'checkpointed at the pause');
  const mark = b.events.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(
    b.events.slice(mark).filter(is('progress')).length,
    0,
    'no step is taken while paused',
  );

  handle.resume();
  const r2 = await b.next(
    is('resumed', (e) => e.stage === 'stage2'),
    mark,
  );
  assert.equal(r2.step, p2.step);
  const after = await b.next(
    is('progress', (e) => e.stage === 'stage2'),
    mark,
  );
  assert.equal(after.step, p2.step + 1, 'training continues with the next step');
  assert.equal(getRun(store, handle.runId).status, 'running');

  // Cancel a few steps later.
  const seenC = await b.next(is('progress', (e) => e.stage === 'stage2' && e.step >= p2.step + 5));
  handle.cancel();
  const outcome = await handle.done;
  const done = b.events.find(is('done'))!;
  assert.equal(outcome.status, 'cancelled');
  assert.equal(done.stoppedBy, 'cancelled');
  assert.ok(done.requestedAt !== null && done.steps - done.requestedAt <= 1, JSON.stringify(done));
  assert.ok(
    done.steps - seenC.step <= 2,
    `cancelled at ${done.steps}, asked after seeing ${seenC.step}`,
  );
  assert.ok(done.steps < T);
  assert.equal(done.decoder, null, 'a cancelled run writes no released decoder');

  const run = getRun(store, handle.runId);
  assert.equal(run.status, 'cancelled');
  assert.equal(listArtifacts(store, { runId: run.id, visibility: 'releasable' }).length, 0);
  const paid = stepsSpent(store, run.id);
  assert.ok(
    paid >= done.steps && paid < done.steps + SMALL_SCHEDULE.reserveChunk,
    `ledger ${paid} vs ${done.steps} steps taken`,
  );
  const statuses = b.events.filter(is('status')).map((e) => e.status);
  assert.deepEqual(statuses, ['running', 'paused', 'running', 'paused', 'running', 'cancelled']);
});
