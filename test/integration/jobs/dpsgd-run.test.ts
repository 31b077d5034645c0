/**
 * DP-SGD runs through the runner and a real worker process (the same worker
 * as DP²-VAE; the method is data on the plan): events, the write-ahead
 * ledger with 'dpsgd' rows, the released decoder and a certificate naming the
 * method, stopping at the target ε, pause/resume/cancel, and kill -9 followed
 * by a resume with the same accounting.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDecoderFile } from '../../../src-main/engine/decoder-file';
import { parameterCount } from '../../../src-main/engine';
import type { DpsgdCertificate } from '../../../src-main/privacy/certificate';
import {
  forkWorker,
  resumeTraining,
  startTraining,
  type RunEvent,
  type RunHandle,
  type WorkerChannel,
} from '../../../src-main/jobs/runner';
import { ACCOUNTANT_VERSION, epsilonOf } from '../../../src-main/privacy';
import {
  getRun,
  latestCheckpoint,
  ledgerEntries,
  listArtifacts,
  listCheckpoints,
  sampleGridSteps,
  stepsSpent,
} from '../../../src-main/store';
import { mnistDataset, recorder, SMALL_SCHEDULE, stage2Steps, tempHome } from './helpers';

/** Small DP-SGD settings: expected batch 32 of 320 training images (q = 0.1). */
const DPSGD_SMALL = { steps: 30, batchSize: 32, lr: 5e-3, seed: 11 } as const;

type Ev<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;
const is =
  <T extends RunEvent['type']>(type: T, extra: (e: Ev<T>) => boolean = () => true) =>
  (e: RunEvent): e is Ev<T> =>
    e.type === type && extra(e as Ev<T>);

async function certificateOf(store: Parameters<typeof listArtifacts>[0], runId: number) {
  const path = listArtifacts(store, { runId, kind: 'certificate' })[0]!.path;
  return JSON.parse(await readFile(path, 'utf8')) as DpsgdCertificate;
}

test('a DP-SGD run end to end: one private stage, dpsgd ledger rows, the decoder and a certificate naming the method', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 330, { epsilon: 30 });
  const { events, onEvent } = recorder();
  const target = 8;
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dpsgd',
    targetEpsilon: target,
    preset: 'quick',
    overrides: DPSGD_SMALL,
    schedule: SMALL_SCHEDULE,
    onEvent,
  });
  const outcome = await handle.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.steps, DPSGD_SMALL.steps);

  const run = getRun(store, handle.runId);
  assert.equal(run.method, 'dpsgd');
  const plan = (run.hyperparameters as { plan: Record<string, unknown> }).plan;
  assert.equal(plan.method, 'dpsgd');
  assert.equal(plan.sampleRate, 32 / 320);
  assert.equal(plan.accountant, 'rdp');
  assert.ok(!('blocks' in plan));

  // One private stage, reported as stage 2 with the method named; steps 1..T once, in order.
  const stages = events.filter(is('stage'));
  assert.deepEqual(
    stages.map((e) => [e.stage, e.method]),
    [['stage2', 'dpsgd']],
  );
  assert.ok(!events.some((e) => 'stage' in e && e.stage === 'stage1'));
  // Steps of about 32 small-model records are not worth a second thread (engine/train-threads.ts),
  // and the run says how many it used.
  const backend = events.find(is('backend'));
  assert.equal(backend?.threads, 1);
  assert.equal(run.backend, backend?.name);
  assert.deepEqual(
    stage2Steps(events),
    Array.from({ length: DPSGD_SMALL.steps }, (_, i) => i + 1),
  );
  let paidTo = 0;
  for (const e of events) {
    if (e.type === 'spend') paidTo = Math.max(paidTo, e.toStep);
    if (e.type === 'progress') assert.ok(e.step <= paidTo, `step ${e.step} ran before it was paid`);
  }

  // Ledger: DP-SGD rows, exactly the steps taken.
  assert.equal(stepsSpent(store, run.id), DPSGD_SMALL.steps);
  const ledger = ledgerEntries(store, ds.id);
  assert.equal(ledger.length, 1);
  assert.deepEqual(ledger[0]!.spec, {
    mechanism: 'dpsgd',
    sampleRate: 0.1,
    sigma: plan.sigma,
    steps: DPSGD_SMALL.steps,
  });

  // The certificate names the method and mechanism; ε is the accountant's and ≤ target.
  const cert = await certificateOf(store, run.id);
  assert.equal(cert.method, 'dpsgd');
  assert.match(cert.mechanism, /poisson/);
  assert.equal(cert.adjacency, 'add-remove');
  assert.equal(cert.blocks, null);
  assert.equal(cert.sample_rate, 0.1);
  assert.equal(cert.steps, DPSGD_SMALL.steps);
  assert.equal(cert.accountant, ACCOUNTANT_VERSION);
  const recomputed = epsilonOf({
    spec: {
      mechanism: 'dpsgd',
      sampleRate: cert.sample_rate,
      sigma: cert.sigma,
      steps: cert.steps,
    },
    delta: cert.delta,
  }).epsilon;
  assert.equal(cert.epsilon, recomputed);
  assert.ok(cert.epsilon <= target && cert.epsilon > 0.999 * target, `ε ${cert.epsilon}`);

  // Released: the decoder (same format as DP²-VAE's) and the certificate; nothing else.
  const decoder = listArtifacts(store, { runId: run.id, kind: 'decoder' });
  assert.equal(decoder.length, 1);
  const { arch, weights } = await readDecoderFile(decoder[0]!.path);
  assert.equal(weights.length, 2 * (arch.kind === 'mlp-cvae' ? arch.decoderHidden.length + 1 : 0));
  const bytes = (await stat(join(decoder[0]!.path, 'weights.bin'))).size;
  assert.equal(bytes, 4 * parameterCount(arch, 'decoder'));
  assert.equal(listArtifacts(store, { visibility: 'releasable' }).length, 2);
  assert.equal(listArtifacts(store, { runId: run.id, kind: 'encoders' }).length, 0);
  assert.equal(
    listArtifacts(store, { runId: run.id, kind: 'checkpoint' })[0]?.visibility,
    'private',
  );
  assert.deepEqual(
    listCheckpoints(store, run.id).map((c) => [c.stage, c.step]),
    [
      ['stage2', 10],
      ['stage2', 20],
      ['stage2', 30],
    ],
  );
  assert.deepEqual(sampleGridSteps(store, run.id), [20, 30]);
});

test('a DP-SGD run stops at the last step within its target ε (σ given, too small for T)', async (t) => {
  const { store, home } = tempHome(t);
  await mnistDataset(store, 'digits', 330);
  const target = 4;
  const sigma = 1;
  const eps = (s: number) =>
    epsilonOf({ spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma, steps: s }, delta: 1e-5 })
      .epsilon;
  let last = 0;
  while (eps(last + 1) <= target) last++;
  assert.ok(last > 2 && last < 200, `${last}`);
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dpsgd',
    targetEpsilon: target,
    preset: 'quick',
    overrides: { ...DPSGD_SMALL, sigma, steps: 400 },
    schedule: { ...SMALL_SCHEDULE, gridEvery: 0 },
  });
  const outcome = await handle.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.stoppedBy, 'epsilon');
  assert.equal(outcome.steps, last);
  const cert = await certificateOf(store, handle.runId);
  assert.ok(cert.epsilon <= target, `ε ${cert.epsilon} > ${target}`);
  assert.equal(cert.steps, last);
  assert.ok(stepsSpent(store, handle.runId) >= last);
});

test('DP-SGD: pause and cancel act within one step; a cancelled run releases nothing', async (t) => {
  const { store, home } = tempHome(t);
  await mnistDataset(store, 'digits', 330);
  const { events, onEvent } = recorder();
  let wake: (() => void) | null = null;
  const wait = (pred: (e: RunEvent) => boolean, from = 0) =>
    new Promise<RunEvent>((resolve) => {
      const check = () => {
        const hit = events.slice(from).find(pred);
        if (hit) resolve(hit);
        else wake = check;
      };
      check();
    });
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dpsgd',
    targetEpsilon: 50,
    preset: 'quick',
    overrides: { ...DPSGD_SMALL, steps: 400 },
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 1000, gridEvery: 0 },
    onEvent: (e) => {
      onEvent(e);
      (wake as (() => void) | null)?.();
    },
  });
  const seen = (await wait(is('progress', (e) => e.step >= 4))) as Ev<'progress'>;
  handle.pause();
  const paused = (await wait(is('paused'))) as Ev<'paused'>;
  assert.equal(paused.stage, 'stage2');
  assert.ok(paused.step - paused.requestedAt <= 1);
  assert.ok(paused.step - seen.step <= 2);
  assert.equal(latestCheckpoint(store, handle.runId)?.step, paused.step);
  const mark = events.length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(events.slice(mark).filter(is('progress')).length, 0, 'no step while paused');
  handle.resume();
  const next = (await wait(is('progress'), mark)) as Ev<'progress'>;
  assert.equal(next.step, paused.step + 1);
  handle.cancel();
  const outcome = await handle.done;
  assert.equal(outcome.status, 'cancelled');
  const done = events.find(is('done'))!;
  assert.ok(done.requestedAt !== null && done.steps - done.requestedAt <= 1);
  assert.equal(done.decoder, null);
  assert.equal(listArtifacts(store, { runId: handle.runId, visibility: 'releasable' }).length, 0);
  assert.ok(stepsSpent(store, handle.runId) >= done.steps);
});

test('DP-SGD: kill -9 mid-run, then resume: the ledger keeps every step and ε equals an uninterrupted run', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 330, { epsilon: 30 });
  const T = 30;
  const target = 10;
  let channel: WorkerChannel | null = null;
  const launcher = (): WorkerChannel => (channel = forkWorker());
  const lives: { start: number; last: number }[] = [];
  const life = (killAt: number | null) => {
    const l = { start: -1, last: -1 };
    lives.push(l);
    let killed = false;
    return (e: RunEvent): void => {
      if (e.type !== 'progress') return;
      if (l.start < 0) l.start = e.step - 1;
      l.last = e.step;
      if (killAt !== null && !killed && e.step >= killAt) {
        killed = true;
        channel?.kill('SIGKILL');
      }
    };
  };
  let handle: RunHandle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dpsgd',
    targetEpsilon: target,
    preset: 'quick',
    overrides: { ...DPSGD_SMALL, steps: T },
    schedule: SMALL_SCHEDULE,
    onEvent: life(13),
    launcher,
  });
  const first = await handle.done;
  assert.equal(first.status, 'interrupted', JSON.stringify(first));
  const taken0 = lives[0]!.last;
  assert.ok(stepsSpent(store, handle.runId) >= taken0, 'every step taken was paid for');
  const cp = latestCheckpoint(store, handle.runId);
  assert.equal(cp?.stage, 'stage2');
  assert.equal(cp?.step, 10);
  handle = await resumeTraining({
    store,
    dataHome: home,
    runId: handle.runId,
    onEvent: life(null),
    launcher,
  });
  const second = await handle.done;
  assert.equal(second.status, 'completed', JSON.stringify(second.error));
  assert.equal(lives[1]!.start, 10, 'resumed right after the checkpoint');
  const taken = lives.reduce((n, l) => n + (l.last - l.start), 0);
  const paid = stepsSpent(store, handle.runId);
  assert.ok(paid >= taken, `ledger ${paid} ≥ ${taken} noisy updates`);
  assert.ok(paid - taken < 2 * SMALL_SCHEDULE.reserveChunk);
  const rows = ledgerEntries(store, ds.id);
  assert.ok(rows.length >= 2 && rows.every((r) => r.spec.mechanism === 'dpsgd'));
  const run = getRun(store, handle.runId);
  const plan = (run.hyperparameters as { plan: { sigma: number } }).plan;
  const cert = await certificateOf(store, handle.runId);
  const straight = epsilonOf({
    spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma: plan.sigma, steps: T },
    delta: run.delta,
  }).epsilon;
  assert.equal(cert.steps, T);
  assert.equal(cert.epsilon, straight);
  assert.ok(cert.epsilon <= target);
});
