/**
 * `kill -9` of the worker at several points (stage 1, mid-chunk and right
 * after a checkpoint in stage 2), each followed by `resumeTraining`: the
 * ledger never lost a step, the run completes, its certificate equals an
 * uninterrupted run's, and the database stays sound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  forkWorker,
  resumeTraining,
  startTraining,
  type RunEvent,
  type RunHandle,
  type WorkerChannel,
} from '../../../src-main/jobs/runner';
import { epsilonOf } from '../../../src-main/privacy';
import {
  getRun,
  latestCheckpoint,
  ledgerEntries,
  listArtifacts,
  stepsSpent,
} from '../../../src-main/store';
import { mnistDataset, SMALL, SMALL_SCHEDULE, tempHome } from './helpers';

/** Where to kill each life: a stage and the progress step at which the kill is sent. */
const KILLS: { stage: 'stage1' | 'stage2'; atStep: number }[] = [
  { stage: 'stage1', atStep: 1 },
  { stage: 'stage2', atStep: 13 }, // mid-chunk, 3 steps after the checkpoint at 10
  { stage: 'stage2', atStep: 30 }, // right at a checkpoint
  { stage: 'stage2', atStep: 44 },
];

test('kill -9 at several points, then resume: no step is lost from the ledger and ε equals an uninterrupted run', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 330, { epsilon: 30 });
  const T = 60;
  const target = 10;
  const deadline = Date.now() + 240_000;

  let channel: WorkerChannel | null = null;
  const launcher = (): WorkerChannel => (channel = forkWorker());
  /** Noisy updates observed per life: (first step after its start, last step seen). */
  const lives: { start: number; last: number }[] = [];
  const allEvents: RunEvent[] = [];
  const expectedRestarts: number[] = [];

  const lifeEvents = (kill: (typeof KILLS)[number] | null) => {
    const life = { start: -1, last: -1 };
    lives.push(life);
    let killed = false;
    return (e: RunEvent): void => {
      allEvents.push(e);
      if (e.type === 'progress' && e.stage === 'stage2') {
        if (life.start < 0) life.start = e.step - 1;
        life.last = e.step;
      }
      if (
        kill &&
        !killed &&
        e.type === 'progress' &&
        e.stage === kill.stage &&
        e.step >= kill.atStep
      ) {
        killed = true;
        channel?.kill('SIGKILL');
      }
    };
  };

  let handle: RunHandle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dp2vae',
    targetEpsilon: target,
    preset: 'quick',
    overrides: { ...SMALL, steps: T },
    schedule: SMALL_SCHEDULE,
    onEvent: lifeEvents(KILLS[0]!),
    launcher,
  });
  const runId = handle.runId;
  for (let i = 0; i <= KILLS.length; i++) {
    assert.ok(Date.now() < deadline, 'the kill-and-resume cycle took too long');
    const outcome = await handle.done;
    const life = lives[i]!;
    if (i === KILLS.length) {
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
      break;
    }
    assert.equal(outcome.status, 'interrupted', `life ${i}: ${JSON.stringify(outcome)}`);
    assert.match(outcome.error!.message, /stopped \(SIGKILL\).*Resume the run/);
    assert.equal(getRun(store, runId).status, 'interrupted');
    // The ledger holds every noisy update any life took (replays paid again).
    const taken = lives.reduce((n, l) => n + (l.start < 0 ? 0 : l.last - l.start), 0);
    assert.ok(
      stepsSpent(store, runId) >= taken,
      `ledger ${stepsSpent(store, runId)} < ${taken} taken`,
    );
    if (KILLS[i]!.stage === 'stage2') assert.ok(life.last >= KILLS[i]!.atStep);
    const cp = latestCheckpoint(store, runId);
    if (i > 0) assert.equal(cp?.stage, 'stage2');
    expectedRestarts.push(cp?.stage === 'stage2' ? cp.step : 0);
    handle = await resumeTraining({
      store,
      dataHome: home,
      runId,
      onEvent: lifeEvents(KILLS[i + 1] ?? null),
      launcher,
    });
  }

  // Each resumed stage 2 restarted right after the latest recorded checkpoint (every 10 steps).
  assert.deepEqual(
    lives.slice(1).map((l) => l.start),
    expectedRestarts,
  );
  assert.deepEqual(expectedRestarts.slice(0, 2), [0, 10]);
  assert.ok([20, 30].includes(expectedRestarts[2]!) && expectedRestarts[3] === 40);

  const run = getRun(store, runId);
  assert.equal(run.status, 'completed');
  const done = allEvents.filter((e) => e.type === 'done');
  assert.equal(done.length, 1);
  const taken = lives.reduce((n, l) => n + (l.last - l.start), 0);
  const paid = stepsSpent(store, runId);
  assert.ok(paid >= taken, `ledger ${paid} ≥ ${taken} noisy updates taken`);
  assert.ok(paid >= T);
  // Over-count is bounded by one reserved chunk per life.
  assert.ok(
    paid - taken < lives.length * SMALL_SCHEDULE.reserveChunk,
    `over-count ${paid - taken}`,
  );
  // Replays are separate ledger rows: fromStep restarts after each checkpoint.
  const rows = ledgerEntries(store, ds.id).map((e) => [e.fromStep, e.toStep]);
  assert.ok(rows.length >= 4, JSON.stringify(rows));
  t.diagnostic(
    `lives (start, last): ${JSON.stringify(lives)}; ledger rows: ${JSON.stringify(rows)}; paid ${paid}, taken ${taken}`,
  );

  // The certificate equals an uninterrupted run's: T steps at the same σ.
  const plan = (run.hyperparameters as { plan: { sigma: number; blocks: number; clip: number } })
    .plan;
  const cert = JSON.parse(
    await import('node:fs/promises').then((fs) =>
      fs.readFile(listArtifacts(store, { runId, kind: 'certificate' })[0]!.path, 'utf8'),
    ),
  );
  const straight = epsilonOf({
    spec: { mechanism: 'dp2vae', blocks: plan.blocks, sigma: plan.sigma, steps: T },
    delta: run.delta,
  }).epsilon;
  assert.equal(cert.steps, T);
  assert.equal(cert.epsilon, straight);
  assert.ok(cert.epsilon <= target);
  assert.equal(listArtifacts(store, { runId, kind: 'decoder' }).length, 1);

  // The database is sound, seen from this connection and a fresh one.
  assert.deepEqual(store.db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
  const fresh = new Database(store.path, { readonly: true });
  try {
    assert.deepEqual(fresh.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
  } finally {
    fresh.close();
  }
});
