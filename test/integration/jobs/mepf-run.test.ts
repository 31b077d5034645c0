/**
 * `mepf` runs through the runner and a real worker process, with the shipped
 * random-process prior: the one write-ahead spend, the release registered as
 * a releasable artifact (and nothing per-record on disk), the generator as
 * post-processing, the certificate; then a second generator trained from the
 * first run's release with the ledger unchanged, and the refusals of a bad
 * `fromRelease`, with nothing written.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTraining, type RunEvent } from '../../../src-main/jobs/runner';
import { releaseEpsilon, releaseFromJson } from '../../../src-main/methods/mepf/release';
import type { MepfCertificate } from '../../../src-main/privacy/certificate';
import { readPriorManifest } from '../../../src-main/priors/prior-file';
import {
  getRun,
  ledgerEntries,
  listArtifacts,
  listRuns,
  stepsSpent,
  type Store,
} from '../../../src-main/store';
import { mnistDataset, recorder, SMALL_SCHEDULE, tempHome } from './helpers';

const GENERATOR = { generatorSteps: 6, generatorBatch: 20, seed: 3 } as const;

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
