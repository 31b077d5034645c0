/**
 * A DP²-VAE run end to end through the runner and a real worker process:
 * both stages on a few hundred MNIST images, the write-ahead ledger, the
 * released decoder and its certificate, the privacy boundary of the folders.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parameterCount, parseArchitecture } from '../../../src-main/engine';
import { startTraining, type RunEvent } from '../../../src-main/jobs/runner';
import { epsilonOf, ACCOUNTANT_VERSION } from '../../../src-main/privacy';
import { certificateInWords, type Certificate } from '../../../src-main/privacy/certificate';
import {
  getMetrics,
  getRun,
  getSampleGrid,
  ledgerEntries,
  listArtifacts,
  listCheckpoints,
  sampleGridSteps,
  stepsSpent,
} from '../../../src-main/store';
import { mnistDataset, recorder, SMALL, SMALL_SCHEDULE, stage2Steps, tempHome } from './helpers';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

test('a run end to end: both stages, ordered events, ledger = steps, decoder and certificate released', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 330, { epsilon: 20 });
  const { events, onEvent } = recorder();
  const target = 8;
  const handle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'digits',
    method: 'dp2vae',
    targetEpsilon: target,
    preset: 'quick',
    overrides: SMALL,
    schedule: SMALL_SCHEDULE,
    onEvent,
  });
  const outcome = await handle.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.stoppedBy, 'steps');
  assert.equal(outcome.steps, SMALL.steps);

  // Events in order: ready, backend, stage 1 ..., stage 2 ..., done; status changes in between.
  const kinds = events.filter((e) => e.type !== 'status').map((e) => e.type);
  assert.equal(kinds[0], 'ready');
  assert.equal(kinds[1], 'backend');
  const stageEvents = events.flatMap((e) => (e.type === 'stage' ? [e.stage] : []));
  assert.deepEqual(stageEvents, ['stage1', 'stage2']);
  assert.equal(kinds.at(-1), 'done');
  const firstStage2 = events.findIndex((e) => e.type === 'stage' && e.stage === 'stage2');
  assert.ok(
    events.slice(0, firstStage2).every((e) => !('stage' in e) || e.stage === 'stage1'),
    'no stage-2 event before stage 2 starts',
  );
  const s1 = events.flatMap((e) => (e.type === 'progress' && e.stage === 'stage1' ? [e.step] : []));
  assert.ok(
    s1.length > 0 && s1.every((s, i) => i === 0 || s > s1[i - 1]!),
    'stage-1 progress grows',
  );
  assert.deepEqual(
    stage2Steps(events),
    Array.from({ length: SMALL.steps }, (_, i) => i + 1),
    'every stage-2 step reported once, in order',
  );
  // Write-ahead: a step's progress never comes before the spend covering it.
  let paidTo = 0;
  for (const e of events) {
    if (e.type === 'spend') paidTo = Math.max(paidTo, e.toStep);
    if (e.type === 'progress' && e.stage === 'stage2')
      assert.ok(e.step <= paidTo, `step ${e.step} ran before it was paid for`);
  }
  const spends = events.filter((e) => e.type === 'spend');
  assert.equal(spends.length, Math.ceil(SMALL.steps / SMALL_SCHEDULE.reserveChunk));
  const statuses = events.flatMap((e) => (e.type === 'status' ? [e.status] : []));
  assert.deepEqual(statuses, ['running', 'completed']);

  // Ledger: exactly the steps taken (an uninterrupted run stops on a chunk boundary or the budget).
  const run = getRun(store, handle.runId);
  assert.equal(run.status, 'completed');
  assert.equal(run.backend, (events.find((e) => e.type === 'backend') as { name: string }).name);
  assert.equal(stepsSpent(store, run.id), SMALL.steps);
  const ledger = ledgerEntries(store, ds.id);
  assert.equal(ledger.length, 1, 'chunks extend one ledger row');
  const plan = (run.hyperparameters as { plan: { sigma: number; blocks: number } }).plan;
  assert.deepEqual(ledger[0]!.spec, {
    mechanism: 'dp2vae',
    blocks: SMALL.blocks,
    sigma: plan.sigma,
    steps: SMALL.steps,
  });

  // The certificate: ε recomputed from its own fields, ≤ target, σ calibrated to reach it exactly.
  const certPath = join(home, 'runs', String(run.id), 'certificate.json');
  const cert = JSON.parse(await readFile(certPath, 'utf8')) as Certificate;
  assert.deepEqual(Object.keys(cert).sort(), [
    'accountant',
    'adjacency',
    'backend',
    'blocks',
    'clip',
    'created',
    'dataset_id',
    'delta',
    'epsilon',
    'mechanism',
    'method',
    'public',
    'sigma',
    'steps',
    'version',
  ]);
  const recomputed = epsilonOf({
    spec: { mechanism: 'dp2vae', blocks: cert.blocks, sigma: cert.sigma, steps: cert.steps },
    delta: cert.delta,
  }).epsilon;
  assert.equal(cert.epsilon, recomputed);
  assert.ok(cert.epsilon <= target && cert.epsilon > target * 0.999, `ε = ${cert.epsilon}`);
  assert.equal(cert.accountant, ACCOUNTANT_VERSION);
  assert.equal(cert.dataset_id, ds.publicId);
  assert.ok(!JSON.stringify(cert).includes(ds.fingerprint), 'no fingerprint of the images');
  assert.equal(cert.adjacency, 'replace-one');
  assert.equal(cert.steps, SMALL.steps);
  assert.equal(cert.blocks, SMALL.blocks);
  assert.deepEqual(outcome.certificate?.epsilon, cert.epsilon);
  const done = events.find((e) => e.type === 'done') as Extract<RunEvent, { type: 'done' }>;
  assert.equal(done.epsilon, cert.epsilon);
  const words = certificateInWords(cert);
  assert.ok(words.some((l) => l.includes(`ε = ${Number(cert.epsilon.toPrecision(3))}`)));

  // Privacy boundary: decoder + certificate releasable; encoders, checkpoints, arrays private.
  const byKind = (kind: string) =>
    listArtifacts(store, { runId: run.id }).filter((a) => a.kind === kind);
  const decoder = byKind('decoder');
  assert.equal(decoder.length, 1);
  assert.equal(decoder[0]!.visibility, 'releasable');
  assert.equal(byKind('certificate')[0]?.visibility, 'releasable');
  assert.equal(byKind('certificate')[0]?.path, certPath);
  for (const kind of ['encoders', 'checkpoint']) {
    const a = byKind(kind);
    assert.equal(a.length, 1, kind);
    assert.equal(a[0]!.visibility, 'private', kind);
  }
  const arrays = listArtifacts(store, { datasetId: ds.id, kind: 'dataset-arrays' });
  assert.equal(arrays.length, 1);
  assert.equal(arrays[0]!.visibility, 'private');
  assert.equal(arrays[0]!.path, ds.filesDir);
  assert.equal(
    listArtifacts(store, { visibility: 'releasable' }).length,
    2,
    'nothing else is releasable',
  );

  // The decoder files.
  const desc = JSON.parse(await readFile(join(decoder[0]!.path, 'architecture.json'), 'utf8'));
  const arch = parseArchitecture(desc.architecture);
  assert.deepEqual(arch, parseArchitecture(run.architecture));
  const wBytes = (await stat(join(decoder[0]!.path, 'weights.bin'))).size;
  assert.equal(wBytes, 4 * parameterCount(arch, 'decoder'));

  // Checkpoints, grids, metrics.
  const cps = listCheckpoints(store, run.id);
  assert.deepEqual(
    cps.map((c) => [c.stage, c.step]),
    [
      ['stage1', cps[0]!.step],
      ['stage2', 10],
      ['stage2', 20],
      ['stage2', 30],
      ['stage2', 40],
    ],
  );
  assert.deepEqual(sampleGridSteps(store, run.id), [20, 40]);
  const g = getSampleGrid(store, run.id, 40)!;
  assert.ok(Buffer.from(g.png.subarray(0, 4)).equals(PNG));
  const gridEvent = events.find((e) => e.type === 'grid') as Extract<RunEvent, { type: 'grid' }>;
  assert.equal(gridEvent.perClass, SMALL_SCHEDULE.gridPerClass);
  // 10 rows (classes) × 2 columns of 28×28 images.
  const png = Buffer.from(gridEvent.png, 'base64');
  assert.equal(png.readUInt32BE(16), 2 * 28);
  assert.equal(png.readUInt32BE(20), 10 * 28);
  const recon = getMetrics(store, run.id, { stage: 'stage2', name: 'recon' });
  assert.equal(recon.length, SMALL.steps);
  assert.ok(getMetrics(store, run.id, { stage: 'stage1', name: 'recon' }).length > 0);
  const eps = getMetrics(store, run.id, { name: 'epsilon' });
  assert.ok(eps.length >= SMALL.steps / SMALL_SCHEDULE.epsilonEvery);
  assert.ok(eps.every((r) => r.value <= target));
});
