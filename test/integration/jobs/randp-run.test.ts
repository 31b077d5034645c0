/**
 * `randp` runs through the runner and a real worker process, on a tiny
 * random-process prior (DP2_PRIORS_DIR) and an easy two-class set of MNIST
 * digits: every noisy step paid for write-ahead in the ledger ('dpsgd' rows),
 * the classifier registered releasable as kind 'classifier' (no decoder, no
 * grids), the certificate (method randp, ε within the target, the prior
 * named), a model card with no private figure, the private test accuracy
 * kept in the app; then `dp2 export` and `dp2 predict` on the released
 * folder, including images of another size, and the refusal of an altered
 * folder with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpz } from '../../../src-main/data';
import { writeNpz } from '../../../src-main/data/npz';
import {
  forkWorker,
  resumeTraining,
  startTraining,
  TEST_ACCURACY,
  type RunEvent,
  type RunHandle,
  type WorkerChannel,
} from '../../../src-main/jobs/runner';
import {
  CLASSIFIER_GRAPH,
  CLASSIFIER_WEIGHTS,
  MODEL_CARD,
  ModelCard,
} from '../../../src-main/methods/randp/classifier';
import { certificateInWords, type DpsgdCertificate } from '../../../src-main/privacy/certificate';
import {
  getMetrics,
  latestCheckpoint,
  ledgerEntries,
  listArtifacts,
  stepsSpent,
} from '../../../src-main/store';
import { runCliCaptured as dp2 } from '../../support/run-cli';
import {
  recorder,
  SMALL_SCHEDULE,
  tempHome,
  tinyPriorInstalled,
  twoClassDataset,
  zerosAndOnes,
} from './helpers';

test('a randp run: steps paid write-ahead, a releasable classifier with its certificate and model card; dp2 export and dp2 predict; an altered folder is refused', async (t) => {
  const priorSha = await tinyPriorInstalled(t);

  const { store, home } = tempHome(t);
  const ds = await twoClassDataset(store, 500, 100);
  const { events, onEvent } = recorder();
  const started = await startTraining({
    store,
    dataHome: home,
    datasetName: 'pair',
    method: 'randp',
    targetEpsilon: 4,
    preset: 'quick',
    overrides: { steps: 24, publicPerFamily: 30 },
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 7, reserveChunk: 5 },
    onEvent,
  });
  const outcome = await started.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
  assert.equal(outcome.steps, 24);

  // Write-ahead: every step's spend is recorded before the step is reported.
  let paidTo = 0;
  for (const e of events) {
    if (e.type === 'spend') paidTo = Math.max(paidTo, e.toStep);
    if (e.type === 'progress' && e.stage === 'stage2') {
      assert.ok(e.step <= paidTo, `step ${e.step} reported with only ${paidTo} paid`);
    }
  }
  const stages = events
    .filter((e): e is Extract<RunEvent, { type: 'stage' }> => e.type === 'stage')
    .map((e) => e.stage);
  assert.deepEqual(stages, ['stage1', 'stage2']);
  assert.ok(!events.some((e) => e.type === 'grid'), 'a classifier draws no grids');

  const rows = ledgerEntries(store, ds.id);
  assert.ok(rows.length >= 1);
  assert.ok(events.filter((e) => e.type === 'spend').length >= 5, 'paid in chunks of 5 steps');
  const plan = rows[0]!.spec as unknown as { mechanism: string; sampleRate: number; sigma: number };
  for (const r of rows) {
    assert.equal(r.spec.mechanism, 'dpsgd');
    assert.deepEqual(r.spec, { ...plan, steps: r.spec.steps });
  }
  assert.ok(stepsSpent(store, started.runId) >= outcome.steps);

  // The release: a classifier folder, registered releasable; no decoder.
  const [classifier] = listArtifacts(store, { runId: started.runId, kind: 'classifier' });
  assert.ok(classifier);
  assert.equal(classifier.visibility, 'releasable');
  assert.deepEqual(listArtifacts(store, { runId: started.runId, kind: 'decoder' }), []);
  assert.deepEqual(
    (await readdir(classifier.path)).sort(),
    [MODEL_CARD, CLASSIFIER_GRAPH, CLASSIFIER_WEIGHTS].sort(),
  );

  // The certificate: DP-SGD's, naming the classifier and its prior; ε within the target.
  const [certArtifact] = listArtifacts(store, { runId: started.runId, kind: 'certificate' });
  const cert = JSON.parse(await readFile(certArtifact!.path, 'utf8')) as DpsgdCertificate;
  assert.equal(cert.method, 'randp');
  assert.equal(cert.steps, 24);
  assert.equal(cert.sample_rate, plan.sampleRate);
  assert.equal(cert.sigma, plan.sigma);
  assert.ok(cert.epsilon <= 4 + 1e-9, String(cert.epsilon));
  assert.equal(cert.prior?.weights_sha256, priorSha);
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /This classifier was trained with DP-RandP/);
  assert.ok(words.includes(priorSha));

  // The model card: what it takes, the prior, the privacy; nothing computed from the images without noise.
  const cardText = await readFile(join(classifier.path, MODEL_CARD), 'utf8');
  const card = ModelCard.parse(JSON.parse(cardText));
  assert.deepEqual(card.classes, ['zero', 'one']);
  assert.deepEqual([card.input.height, card.input.width, card.input.channels], [28, 28, 1]);
  assert.equal(card.prior.weights_sha256, priorSha);
  assert.equal(card.privacy.steps, 24);
  assert.ok(Math.abs(card.privacy.epsilon - cert.epsilon) < 1e-9 * cert.epsilon);
  const keys = (v: unknown): string[] =>
    v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...keys(x)]) : [];
  assert.deepEqual(
    keys(JSON.parse(cardText)).filter((k) => /accura|count$|counts|loss|^n$|size$/i.test(k)),
    [],
    'no private figure in the card',
  );
  assert.doesNotMatch(cardText, /accuracy|\bloss\b/i);

  // The analyst's figure: the accuracy on the held-out split, kept among the run's private metrics.
  const [accuracy] = getMetrics(store, started.runId, { name: TEST_ACCURACY });
  assert.ok(accuracy && accuracy.value !== null && accuracy.value > 80, JSON.stringify(accuracy));
  const shown = await dp2(['runs', 'show', String(started.runId)], { env: { DP2_HOME: home } });
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /accuracy on the 100 held-out test images: [\d.]+ % \(private/);

  // dp2 export: the classifier and its certificate, nothing else.
  const out = join(home, 'export');
  const exported = await dp2(['export', '--run', String(started.runId), '--out', out], {
    env: { DP2_HOME: home },
  });
  assert.equal(exported.status, 0, exported.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['certificate.json', 'classifier']);
  const exportedText = (
    await Promise.all(
      [join(out, 'certificate.json'), join(out, 'classifier', MODEL_CARD)].map((p) =>
        readFile(p, 'utf8'),
      ),
    )
  ).join('\n');
  // The private accuracy stays inside: no such field leaves, nor its value where it is
  // distinctive (a round figure such as 100 may stand in the files for something else).
  assert.doesNotMatch(exportedText, /accuracy|\bloss\b/i);
  if (!Number.isInteger(accuracy.value)) {
    assert.ok(!exportedText.includes(String(accuracy.value)), 'the private accuracy stays inside');
  }

  // dp2 predict on unseen zeros and ones: well above chance (50 %).
  const fresh = zerosAndOnes(200, 20_000);
  const input = join(home, 'x.npz');
  await writeFile(input, writeNpz({ x: { data: fresh.x, shape: [fresh.count, 28, 28] } }));
  const predOut = join(home, 'p.npz');
  const model = join(out, 'classifier');
  const predicted = await dp2(['predict', '--model', model, '--in', input, '--out', predOut]);
  assert.equal(predicted.status, 0, predicted.stderr);
  const p = readNpz(new Uint8Array(await readFile(predOut)), predOut);
  assert.deepEqual(p.pred?.shape, [fresh.count]);
  assert.deepEqual(p.prob?.shape, [fresh.count, 2]);
  const pred = p.pred!.data as Uint8Array;
  const prob = p.prob!.data as Float32Array;
  let right = 0;
  for (let i = 0; i < fresh.count; i++) {
    if (pred[i] === fresh.y[i]) right++;
    assert.ok(Math.abs((prob[2 * i] as number) + (prob[2 * i + 1] as number) - 1) < 1e-5);
    assert.equal(pred[i], (prob[2 * i + 1] as number) > (prob[2 * i] as number) ? 1 : 0);
  }
  assert.ok(right / fresh.count > 0.8, `accuracy ${right / fresh.count}`);

  // Images of another size (32×32, colour) are brought to the model's input, as the card says.
  const big = new Uint8Array(fresh.count * 32 * 32 * 3);
  for (let i = 0; i < fresh.count; i++) {
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        const v = fresh.x[
          i * 784 +
            Math.min(27, Math.floor((r * 28) / 32)) * 28 +
            Math.min(27, Math.floor((c * 28) / 32))
        ] as number;
        for (let k = 0; k < 3; k++) big[((i * 32 + r) * 32 + c) * 3 + k] = v;
      }
    }
  }
  const bigIn = join(home, 'big.npz');
  await writeFile(bigIn, writeNpz({ x: { data: big, shape: [fresh.count, 32, 32, 3] } }));
  const bigOut = join(home, 'big-p.npz');
  const resized = await dp2(['predict', '--model', model, '--in', bigIn, '--out', bigOut]);
  assert.equal(resized.status, 0, resized.stderr);
  assert.match(resized.stderr, /32×32×3 .*brought to 28×28×1 as the model card says/);
  const q = readNpz(new Uint8Array(await readFile(bigOut)), bigOut);
  assert.deepEqual(q.prob?.shape, [fresh.count, 2]);
  const qPred = q.pred!.data as Uint8Array;
  let qRight = 0;
  for (let i = 0; i < fresh.count; i++) if (qPred[i] === fresh.y[i]) qRight++;
  assert.ok(qRight / fresh.count > 0.7, `accuracy after resizing ${qRight / fresh.count}`);

  // An altered folder: refused, nothing written.
  const weightsPath = join(model, CLASSIFIER_WEIGHTS);
  const weights = new Uint8Array(await readFile(weightsPath));
  weights[0] = (weights[0] as number) ^ 1;
  await writeFile(weightsPath, weights);
  const alteredOut = join(home, 'altered.npz');
  const refused = await dp2(['predict', '--model', model, '--in', input, '--out', alteredOut]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /SHA-256 of weights\.bin differs/);
  assert.equal(existsSync(alteredOut), false, 'nothing written');
});

test('a randp run killed mid-way resumes from its checkpoint: every step paid, the certificate an uninterrupted run’s', async (t) => {
  await tinyPriorInstalled(t);
  const { store, home } = tempHome(t);
  await twoClassDataset(store, 300, 50);
  const T = 20;
  let channel: WorkerChannel | null = null;
  const launcher = (): WorkerChannel => (channel = forkWorker());
  const steps: number[][] = [];
  const life = (killAt: number | null) => {
    const seen: number[] = [];
    steps.push(seen);
    return (e: RunEvent): void => {
      if (e.type !== 'progress' || e.stage !== 'stage2') return;
      seen.push(e.step);
      if (killAt !== null && e.step === killAt) channel?.kill('SIGKILL');
    };
  };
  let handle: RunHandle = await startTraining({
    store,
    dataHome: home,
    datasetName: 'pair',
    method: 'randp',
    targetEpsilon: 4,
    preset: 'quick',
    overrides: { steps: T, publicPerFamily: 30 },
    schedule: { ...SMALL_SCHEDULE, checkpointEvery: 7, reserveChunk: 5 },
    onEvent: life(9),
    launcher,
  });
  const first = await handle.done;
  assert.equal(first.status, 'interrupted', JSON.stringify(first));
  assert.equal(latestCheckpoint(store, handle.runId)?.step, 7);
  assert.ok(stepsSpent(store, handle.runId) >= Math.max(...steps[0]!));
  handle = await resumeTraining({
    store,
    dataHome: home,
    runId: handle.runId,
    onEvent: life(null),
    launcher,
  });
  const second = await handle.done;
  assert.equal(second.status, 'completed', JSON.stringify(second.error));
  assert.equal(steps[1]![0], 8, 'resumed right after the checkpoint');
  const taken = steps[0]!.length + steps[1]!.length;
  assert.ok(stepsSpent(store, handle.runId) >= taken, 'every noisy update paid for');
  const [certArtifact] = listArtifacts(store, { runId: handle.runId, kind: 'certificate' });
  const cert = JSON.parse(await readFile(certArtifact!.path, 'utf8')) as DpsgdCertificate;
  assert.equal(cert.steps, T, 'the released trajectory’s steps, as uninterrupted');
  assert.ok(cert.epsilon <= 4 + 1e-9);
  assert.equal(listArtifacts(store, { runId: handle.runId, kind: 'classifier' }).length, 1);
});
