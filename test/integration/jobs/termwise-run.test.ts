/**
 * Term-wise DP-SGD through the runner and a real worker process: it trains,
 * checkpoints, is killed (-9), resumes right after its checkpoint, and
 * releases the decoder with a certificate that states each term's mechanism;
 * ε is the accountant's for the pair's σ, the same as an uninterrupted run's.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { readDecoderFile } from '../../../src-main/engine/decoder-file';
import type { DpsgdCertificate } from '../../../src-main/privacy/certificate';
import { certificateInWords } from '../../../src-main/privacy/certificate';
import { effectiveSigma, splitSigma } from '../../../src-main/privacy/termwise';
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
import { mnistDataset, SMALL_SCHEDULE, tempHome } from './helpers';

const SMALL = {
  steps: 24,
  batchSize: 32,
  lr: 5e-3,
  seed: 11,
  divergence: 'mmd-imq',
  divergenceClip: 0.5,
} as const;

test('term-wise DP-SGD: trains, is killed, resumes after its checkpoint, and releases a decoder with a per-term certificate', async (t) => {
  const { store, home } = tempHome(t);
  const ds = await mnistDataset(store, 'digits', 330, { epsilon: 30 });
  const target = 10;
  let channel: WorkerChannel | null = null;
  const launcher = (): WorkerChannel => (channel = forkWorker());
  const lives: { start: number; last: number }[] = [];
  const stages: string[] = [];
  const life = (killAt: number | null) => {
    const l = { start: -1, last: -1 };
    lives.push(l);
    let killed = false;
    return (e: RunEvent): void => {
      if (e.type === 'stage') stages.push(`${e.stage}:${String(e.method)}`);
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
    method: 'termwise',
    targetEpsilon: target,
    preset: 'quick',
    overrides: SMALL,
    schedule: SMALL_SCHEDULE,
    onEvent: life(13),
    launcher,
  });
  const first = await handle.done;
  assert.equal(first.status, 'interrupted', JSON.stringify(first));
  assert.equal(latestCheckpoint(store, handle.runId)?.step, 10);
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
  assert.deepEqual([...new Set(stages)], ['stage2:termwise']);

  const run = getRun(store, handle.runId);
  assert.equal(run.method, 'termwise');
  const plan = (run.hyperparameters as { plan: Record<string, unknown> }).plan;
  assert.equal(plan.method, 'termwise');
  assert.equal(plan.mode, 'termwise');
  assert.equal(plan.divergence, 'mmd-imq');
  const sigma = plan.sigma as number;
  assert.ok(stepsSpent(store, run.id) >= SMALL.steps);
  const rows = ledgerEntries(store, ds.id);
  assert.ok(rows.every((r) => r.spec.mechanism === 'dpsgd' && r.spec.sigma === sigma));

  // The certificate: per-term mechanism; ε from the pair's σ, equal to an uninterrupted run's.
  const certPath = listArtifacts(store, { runId: run.id, kind: 'certificate' })[0]!.path;
  const cert = JSON.parse(await readFile(certPath, 'utf8')) as DpsgdCertificate;
  assert.equal(cert.method, 'termwise');
  assert.equal(cert.adjacency, 'add-remove');
  assert.equal(cert.steps, SMALL.steps);
  const terms = cert.terms!;
  assert.deepEqual(
    terms.map((x) => [x.term, x.sensitivity]),
    [
      ['per-record', plan.clip],
      ['divergence', 2 * SMALL.divergenceClip],
    ],
  );
  const split = splitSigma(sigma, plan.clip as number, 2 * SMALL.divergenceClip);
  assert.ok(Math.abs(terms[0]!.sigma - split.sigma1) < 1e-12);
  assert.ok(Math.abs(effectiveSigma(terms.map((x) => x.sigma)) - cert.sigma) < 1e-9);
  const straight = epsilonOf({
    spec: { mechanism: 'dpsgd', sampleRate: 0.1, sigma, steps: SMALL.steps },
    delta: run.delta,
  }).epsilon;
  assert.equal(cert.epsilon, straight);
  assert.ok(cert.epsilon <= target);
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /term-wise DP-SGD/);
  assert.match(words, /pull of the codes towards the prior/);

  // Released: the decoder, readable as every method's.
  const decoder = listArtifacts(store, { runId: run.id, kind: 'decoder' });
  assert.equal(decoder.length, 1);
  const { weights } = await readDecoderFile(decoder[0]!.path);
  assert.ok(weights.length > 0);
});
