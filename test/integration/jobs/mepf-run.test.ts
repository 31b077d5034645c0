/**
 * `mepf` runs through the runner and a real worker process, with the shipped
 * random-process prior: the one write-ahead spend, the release registered as
 * a releasable artifact (and nothing per-record on disk), the generator as
 * post-processing, the certificate; then a second generator trained from the
 * first run's release with the ledger unchanged, and the refusals of a bad
 * `fromRelease`, with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprintImages, writeDatasetFiles } from '../../../src-main/data';
import { readDecoderFile } from '../../../src-main/engine/decoder-file';
import {
  forkWorker,
  resumeTraining,
  startTraining,
  type RunEvent,
  type WorkerChannel,
} from '../../../src-main/jobs/runner';
import { releaseEpsilon, releaseFromJson } from '../../../src-main/methods/mepf/release';
import { sampleRun } from '../../../src-main/services/samples';
import type { MepfCertificate } from '../../../src-main/privacy/certificate';
import { readPriorManifest } from '../../../src-main/priors/prior-file';
import {
  getRun,
  insertDataset,
  latestCheckpoint,
  ledgerEntries,
  listArtifacts,
  listRuns,
  stepsSpent,
  type Store,
} from '../../../src-main/store';
import { mnistDataset, mnistSubset, recorder, SMALL_SCHEDULE, tempHome } from './helpers';

const GENERATOR = { features: 'prior', generatorSteps: 6, generatorBatch: 20, seed: 3 } as const;

async function certificateOf(store: Store, runId: number): Promise<MepfCertificate> {
  const path = listArtifacts(store, { runId, kind: 'certificate' })[0]!.path;
  return JSON.parse(await readFile(path, 'utf8')) as MepfCertificate;
}

const ledgerRows = (store: Store, datasetId: number) =>
  ledgerEntries(store, datasetId).map((e) => ({ runId: e.runId, spec: e.spec, from: e.fromStep }));

test('a mepf run: one paid release, registered releasable; a generator; a certificate of one Gaussian mechanism with the prior named; a second generator from the same release spends nothing', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 240, { epsilon: 30 });
  const { events, onEvent } = recorder();
  const request = {
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'mepf',
    targetEpsilon: 1,
    preset: 'quick',
    overrides: GENERATOR,
  } as const;
  // About 23 images a class: the noise passes the signal, so the run waits for a confirmation.
  await assert.rejects(startTraining(request), /too few training images/);
  assert.equal(listRuns(store).length, 0, 'nothing written');
  const first = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'mepf',
    targetEpsilon: 1,
    preset: 'quick',
    overrides: GENERATOR,
    confirmed: true,
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 4, gridEvery: 3 },
    onEvent,
  });
  const outcome = await first.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.steps, 1, 'one noisy step: the release');

  // The release is paid for before it exists: the spend comes before the release event.
  const order = events.map((e) => e.type);
  assert.ok(order.indexOf('spend') < order.indexOf('release'));
  assert.deepEqual(
    events
      .filter((e): e is Extract<RunEvent, { type: 'stage' }> => e.type === 'stage')
      .map((e) => e.stage),
    ['stage1', 'stage2'],
  );
  const plan = (getRun(store, first.runId).hyperparameters as { plan: Record<string, unknown> })
    .plan;
  assert.equal(plan.method, 'mepf');
  assert.equal(plan.features, 'prior');
  assert.equal(stepsSpent(store, first.runId), 1);
  const rows = ledgerRows(store, ds.id);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.spec, {
    mechanism: 'dpsgd',
    sampleRate: 1,
    sigma: plan.sigma,
    steps: 1,
  });

  // The release: registered releasable, readable, of the data set's 10 classes.
  const [release] = listArtifacts(store, { runId: first.runId, kind: 'release' });
  assert.ok(release);
  assert.equal(release.visibility, 'releasable');
  const parsed = releaseFromJson(await readFile(release.path, 'utf8'));
  assert.equal(parsed.release.classes, 10);
  assert.equal(parsed.release.sigma, plan.sigma);
  // Nothing per-record on disk: the run's folder holds the release, checkpoints, decoder and certificate.
  const runDir = join(home, 'runs', String(first.runId));
  assert.deepEqual((await readdir(runDir)).sort(), [
    'certificate.json',
    'checkpoints',
    'decoder',
    'release',
  ]);

  // The certificate: ε of one Gaussian mechanism at σ, within the target; the prior named.
  const cert = await certificateOf(store, first.runId);
  assert.equal(cert.method, 'mepf');
  assert.equal(cert.steps, 1);
  assert.equal(cert.sample_rate, 1);
  assert.ok(cert.epsilon <= 1 + 1e-9 && cert.epsilon > 0.9, String(cert.epsilon));
  const gaussian = releaseEpsilon({ sigma: cert.sigma, delta: cert.delta }).epsilon;
  assert.ok(Math.abs(cert.epsilon - gaussian) < 1e-6 * gaussian, `${cert.epsilon} vs ${gaussian}`);
  assert.equal(cert.features.source, 'prior');
  assert.equal(cert.features.prior?.weights_sha256, readPriorManifest().weights.sha256);
  assert.ok(!JSON.stringify(cert).includes('"counts"'));

  // Train again from the release: the ledger does not change.
  const before = ledgerRows(store, ds.id);
  const again = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'mepf',
    targetEpsilon: 1,
    preset: 'quick',
    overrides: { fromRelease: first.runId, generatorSteps: 4, generatorBatch: 20, seed: 9 },
    schedule: SMALL_SCHEDULE,
  });
  const second = await again.done;
  assert.equal(second.status, 'completed', JSON.stringify(second.error));
  assert.deepEqual(
    ledgerRows(store, ds.id),
    before,
    'a generator from an existing release spends nothing',
  );
  assert.equal(stepsSpent(store, again.runId), 0);
  const secondPlan = (
    getRun(store, again.runId).hyperparameters as { plan: Record<string, unknown> }
  ).plan;
  assert.equal(secondPlan.steps, 0);
  assert.equal(secondPlan.sigma, plan.sigma);
  assert.equal(secondPlan.fromRelease, first.runId);
  const cert2 = await certificateOf(store, again.runId);
  assert.equal(cert2.epsilon, cert.epsilon);
  assert.equal(cert2.sigma, cert.sigma);
  assert.equal(listArtifacts(store, { runId: again.runId, kind: 'release' }).length, 0);

  // Images are drawn by the release each generator was trained on (its own, or its source's).
  for (const runId of [first.runId, again.runId]) {
    const drawn = await sampleRun(store, { runId, perClass: 3, seed: 2 });
    assert.equal(drawn.count, 30);
    assert.deepEqual(drawn.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  }

  // A run to train from that made no release, or that does not exist: refused, nothing written.
  const runsBefore = listRuns(store).length;
  for (const fromRelease of [again.runId, 999]) {
    await assert.rejects(
      startTraining({
        store,
        dataHome: home,
        datasetName: 'digits',
        method: 'mepf',
        targetEpsilon: 1,
        preset: 'quick',
        overrides: { fromRelease, generatorSteps: 2 },
      }),
      (err: Error & { code?: string }) =>
        /release|no run/i.test(err.message) && err.code !== 'INTERNAL',
    );
  }
  assert.equal(listRuns(store).length, runsBefore);
  assert.deepEqual(ledgerRows(store, ds.id), before);
});

/** `n` MNIST digits of two classes as 32×32 colour images (tinted per class), stored as a data set. */
async function colourDataset(store: Store, name: string, n: number) {
  const m = mnistSubset(4 * n);
  const keep: number[] = [];
  for (let i = 0; i < m.count && keep.length < n; i++)
    if (m.y[i] === 3 || m.y[i] === 7) keep.push(i);
  const x = new Uint8Array(keep.length * 32 * 32 * 3);
  keep.forEach((j, k) => {
    const tint = m.y[j] === 3 ? [1, 0.5, 0.2] : [0.2, 0.6, 1];
    for (let r = 0; r < 28; r++)
      for (let c = 0; c < 28; c++) {
        const v = m.x[j * 784 + r * 28 + c] as number;
        for (let ch = 0; ch < 3; ch++)
          x[((k * 32 + r + 2) * 32 + c + 2) * 3 + ch] = Math.round(v * (tint[ch] as number));
      }
  });
  const images = {
    x,
    y: Uint8Array.from(keep, (j) => (m.y[j] === 3 ? 0 : 1)),
    count: keep.length,
    height: 32,
    width: 32,
    channels: 3,
    classes: ['three', 'seven'],
  };
  const dir = join(store.home, 'datasets', name);
  const all = Uint32Array.from({ length: images.count }, (_, i) => i);
  await writeDatasetFiles(dir, { images, split: { train: all.slice(10), test: all.slice(0, 10) } });
  return insertDataset(store, {
    name,
    fingerprint: fingerprintImages(images),
    format: 'npz',
    preprocessing: { size: 32, channels: 3 },
    splitSeed: 0,
    trainCount: images.count - 10,
    testCount: 10,
    classNames: images.classes,
    filesDir: dir,
    budgetEpsilon: null,
    budgetDelta: 1e-5,
  });
}

test('mepf, kill -9 in the release and in the generator, then resume: a release killed before it was written is paid again; once written it is reused and nothing more is paid; colour 32×32', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await colourDataset(store, 'colour', 1200);
  let channel: WorkerChannel | null = null;
  const launcher = (): WorkerChannel => (channel = forkWorker());
  const killAt = (stage: 'stage1' | 'stage2', step: number) => {
    let killed = false;
    return (e: RunEvent): void => {
      if (!killed && e.type === 'progress' && e.stage === stage && e.step >= step) {
        killed = true;
        channel?.kill('SIGKILL');
      }
    };
  };
  const started = await startTraining({
    store,
    dataHome: home,
    datasetName: 'colour',
    method: 'mepf',
    targetEpsilon: 3,
    preset: 'quick',
    overrides: { generatorSteps: 12, generatorBatch: 10, seed: 4 },
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 4, gridEvery: 6 },
    onEvent: killAt('stage1', 500),
    launcher,
  });
  const runId = started.runId;
  const releaseFile = join(home, 'runs', String(runId), 'release', 'release.json');
  let outcome = await started.done;
  assert.equal(outcome.status, 'interrupted', JSON.stringify(outcome));
  assert.equal(stepsSpent(store, runId), 1, 'paid before the first image was read');
  assert.ok(!existsSync(releaseFile), 'killed before its release existed');

  // Second life: pays again for a fresh release, then is killed in the generator after a checkpoint.
  let handle = await resumeTraining({
    store,
    dataHome: home,
    runId,
    onEvent: killAt('stage2', 6),
    launcher,
  });
  outcome = await handle.done;
  assert.equal(outcome.status, 'interrupted', JSON.stringify(outcome));
  assert.equal(stepsSpent(store, runId), 2, 'the second release was paid again');
  assert.ok(existsSync(releaseFile));
  const release = await readFile(releaseFile, 'utf8');
  assert.equal(latestCheckpoint(store, runId)?.step, 4);
  assert.ok(outcome.epsilon > 0);

  // Third life: the release is read back; nothing more is paid; the generator resumes at step 4.
  const steps: number[] = [];
  handle = await resumeTraining({
    store,
    dataHome: home,
    runId,
    onEvent: (e) => {
      if (e.type === 'progress' && e.stage === 'stage2') steps.push(e.step);
      assert.ok(e.type !== 'spend', 'no spend after the release');
    },
    launcher,
  });
  outcome = await handle.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(steps[0], 5);
  assert.equal(steps.at(-1), 12);
  assert.equal(stepsSpent(store, runId), 2);
  assert.equal(await readFile(releaseFile, 'utf8'), release, 'the same release');
  assert.equal(ledgerEntries(store, ds.id).length, 2);
  const parsed = releaseFromJson(release);
  assert.equal(parsed.release.classes, 2);
  const decoder = await readDecoderFile(join(home, 'runs', String(runId), 'decoder'));
  assert.deepEqual(decoder.arch.image, { height: 32, width: 32, channels: 3 });
  const cert = await certificateOf(store, runId);
  assert.equal(cert.steps, 1, 'the decoder rests on one release');
  assert.ok(Math.abs(cert.epsilon - 3) < 0.01, String(cert.epsilon));
});

test('mepf cancelled during its release: the spend stays in the ledger, nothing is released', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 1510);
  // The handler may run before startTraining has returned: it reads the handle from a box.
  const box: { handle?: Awaited<ReturnType<typeof startTraining>> } = {};
  let asked = false;
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'mepf',
    targetEpsilon: 8,
    preset: 'quick',
    overrides: { generatorSteps: 50, generatorBatch: 10 },
    schedule: SMALL_SCHEDULE,
    onEvent: (e) => {
      if (!asked && box.handle && e.type === 'progress' && e.stage === 'stage1') {
        asked = true;
        box.handle?.cancel();
      }
    },
  });
  box.handle = handle;
  const outcome = await handle.done;
  assert.equal(outcome.status, 'cancelled', JSON.stringify(outcome));
  assert.equal(ledgerEntries(store, ds.id).length, 1, 'the paid release stays paid');
  assert.deepEqual(listArtifacts(store, { runId: handle.runId, visibility: 'releasable' }), []);
  const runDir = join(home, 'runs', String(handle.runId));
  assert.ok(!existsSync(join(runDir, 'release')) && !existsSync(join(runDir, 'decoder')));
});
