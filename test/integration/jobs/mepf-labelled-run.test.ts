/**
 * A `mepf` generator whose images a released private classifier labels
 * (`labeller`): a real `randp` run, then a `mepf` run through the runner and
 * a real worker on the tiny prior. The release's σ is set so that the
 * release and the classifier composed stay within the target; the ledger
 * gains only the release; the run keeps its own copy of the classifier and
 * exports it; the certificate states both parts and their composition, and
 * `dp2 account --certificate` recomputes every ε (and refuses an altered
 * one); the images drawn are the ones the classifier labels so. Refusals:
 * a labeller that is not a finished classifier of this data set, and a
 * target the classifier alone has spent, with nothing written.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDecoderFile } from '../../../src-main/engine/decoder-file';
import { generateImages, type ImageBatch } from '../../../src-main/engine/generate';
import { startTraining } from '../../../src-main/jobs/runner';
import { labelledEpsilon } from '../../../src-main/methods/mepf/plan';
import type { MepfPlan } from '../../../src-main/methods/mepf/plan-schema';
import { predictImages, readClassifier } from '../../../src-main/methods/randp/classifier';
import {
  certificateInWords,
  recheckCertificate,
  type DpsgdCertificate,
  type MepfCertificate,
} from '../../../src-main/privacy/certificate';
import { sampleRun } from '../../../src-main/services/samples';
import {
  getRun,
  ledgerEntries,
  listArtifacts,
  listRuns,
  type Store,
} from '../../../src-main/store';
import { runCliCaptured as dp2 } from '../../support/run-cli';
import { SMALL_SCHEDULE, tempHome, tinyPriorInstalled, twoClassDataset } from './helpers';

async function certificateOf<C>(store: Store, runId: number): Promise<{ path: string; cert: C }> {
  const path = listArtifacts(store, { runId, kind: 'certificate' })[0]!.path;
  return { path, cert: JSON.parse(await readFile(path, 'utf8')) as C };
}

test('a mepf run labelled by a private classifier: σ set for the composed target, only the release paid, the classifier kept and exported, a certificate of both parts that dp2 account rechecks', async (t) => {
  const priorSha = await tinyPriorInstalled(t);
  const { store, home } = tempHome(t);
  const ds = await twoClassDataset(store, 500, 100);
  const base = { store, dataHome: home, datasetName: 'pair', preset: 'quick' } as const;

  const classifierRun = await startTraining({
    ...base,
    method: 'randp',
    targetEpsilon: 3,
    overrides: { steps: 24, publicPerFamily: 30 },
    schedule: SMALL_SCHEDULE,
  });
  assert.equal((await classifierRun.done).status, 'completed');
  const { cert: classifierCert } = await certificateOf<DpsgdCertificate>(
    store,
    classifierRun.runId,
  );
  const rowsBefore = ledgerEntries(store, ds.id).length;

  // The classifier alone spent ε ≈ 3: a target at or below it leaves nothing; refused, nothing written.
  const runsBefore = listRuns(store).length;
  await assert.rejects(
    startTraining({
      ...base,
      method: 'mepf',
      targetEpsilon: classifierCert.epsilon,
      overrides: { labeller: classifierRun.runId, generatorSteps: 2 },
    }),
    /already spent/,
  );
  // A labeller that is not a finished classifier of this data set: refused in plain words.
  for (const labeller of [999]) {
    await assert.rejects(
      startTraining({ ...base, method: 'mepf', targetEpsilon: 4, overrides: { labeller } }),
      /no run 999/i,
    );
  }
  assert.equal(listRuns(store).length, runsBefore, 'nothing written');
  assert.equal(ledgerEntries(store, ds.id).length, rowsBefore);

  const target = 6;
  const run = await startTraining({
    ...base,
    method: 'mepf',
    targetEpsilon: target,
    overrides: {
      features: 'rff',
      labeller: classifierRun.runId,
      generatorSteps: 80,
      generatorBatch: 20,
      seed: 3,
    },
    confirmed: true,
    schedule: SMALL_SCHEDULE,
  });
  const outcome = await run.done;
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));

  // The plan records the classifier as its certificate states it.
  const plan = (getRun(store, run.runId).hyperparameters as { plan: MepfPlan }).plan;
  assert.deepEqual(plan.labeller, {
    run: classifierRun.runId,
    sampleRate: classifierCert.sample_rate,
    sigma: classifierCert.sigma,
    clip: classifierCert.clip,
    steps: classifierCert.steps,
    accountant: 'rdp',
    priorName: classifierCert.prior!.name,
    priorSha256: priorSha,
    priorStatement: classifierCert.prior!.statement,
  });

  // Only the release is paid: one more ledger row, the release's Gaussian.
  const rows = ledgerEntries(store, ds.id);
  assert.equal(rows.length, rowsBefore + 1);
  assert.deepEqual(rows[rows.length - 1]!.spec, {
    mechanism: 'dpsgd',
    sampleRate: 1,
    sigma: plan.sigma,
    steps: 1,
  });

  // The certificate: the release and the classifier, composed within the target (and close to it:
  // σ was set for it); each part as its own accountant states it.
  const { path: certPath, cert } = await certificateOf<MepfCertificate>(store, run.runId);
  assert.ok(cert.epsilon <= target + 1e-9 && cert.epsilon > 0.99 * target, String(cert.epsilon));
  assert.ok(Math.abs(cert.epsilon - labelledEpsilon(plan, cert.delta)) < 1e-9 * cert.epsilon);
  assert.ok(cert.release_epsilon! < cert.epsilon);
  assert.ok(cert.release_epsilon! + cert.labeller!.epsilon >= cert.epsilon, 'RDP beats summing');
  assert.equal(cert.labeller!.run, classifierRun.runId);
  assert.ok(Math.abs(cert.labeller!.epsilon - classifierCert.epsilon) < 1e-9);
  assert.equal(cert.labeller!.prior?.weights_sha256, priorSha);
  for (const r of recheckCertificate(cert as unknown as Record<string, unknown>))
    assert.ok(Math.abs(r.stated - r.recomputed) < 1e-9 * Math.max(1, r.recomputed), r.part);
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /labelled images: \(ε = /);
  assert.match(words, new RegExp(`private classifier \\(DP-RandP, run ${classifierRun.runId}`));

  // dp2 account --certificate: every ε recomputed; an altered certificate is refused.
  const checked = await dp2(['account', '--certificate', certPath]);
  assert.equal(checked.status, 0, checked.stderr);
  assert.match(
    checked.stdout,
    /labelled images \(both composed\): ε = [\d.]+ stated, [\d.]+ recomputed\n/,
  );
  assert.match(checked.stdout, /Every ε in the certificate follows from its own fields/);
  const altered = join(home, 'altered.json');
  await writeFile(altered, JSON.stringify({ ...cert, epsilon: cert.release_epsilon }));
  const refused = await dp2(['account', '--certificate', altered]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stdout, /DIFFERENT/);
  assert.match(refused.stderr, /altered or damaged/);

  // dp2 runs show: the run's own spend, and the ε of its labelled images.
  const shown = await dp2(['runs', 'show', String(run.runId)], { env: { DP2_HOME: home } });
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /ε spent [\d.]+ \(target 6\)/);
  assert.match(
    shown.stdout,
    /images labelled by a private classifier: ε (5\.9\d*|6) for the labelled images/,
  );

  // The run keeps its own copy of the classifier (releasable), and its export carries it.
  const [copy] = listArtifacts(store, { runId: run.runId, kind: 'classifier' });
  assert.ok(copy);
  assert.equal(copy.visibility, 'releasable');
  assert.equal(copy.path, join(home, 'runs', String(run.runId), 'classifier'));
  const out = join(home, 'export');
  const exported = await dp2(['export', '--run', String(run.runId), '--out', out], {
    env: { DP2_HOME: home },
  });
  assert.equal(exported.status, 0, exported.stderr);
  const files = await readdir(out);
  assert.ok(files.includes('classifier') && files.includes('certificate.json'), files.join());

  // The images: each class's are the candidates the classifier labels so (the generator of 80
  // steps draws both classes, so none needs filling with unlabelled ones): the classifier
  // agrees with every one, where it disagrees with some of the generator's plain draws.
  const perClass = 12;
  const drawn = await sampleRun(store, { runId: run.runId, perClass, seed: 2 });
  assert.equal(drawn.count, 2 * perClass);
  assert.deepEqual(drawn.classes, ['zero', 'one']);
  const loaded = await readClassifier(copy.path);
  const agreeing = async (images: ImageBatch): Promise<number> => {
    const { pred } = await predictImages(loaded, images);
    return Array.from(pred).filter((p, i) => p === images.y[i]).length;
  };
  const { arch, weights } = await readDecoderFile(
    listArtifacts(store, { runId: run.runId, kind: 'decoder' })[0]!.path,
  );
  const plain = await agreeing(generateImages(arch, weights, { perClass, seed: 2 }));
  const labelled = await agreeing(drawn);
  loaded.model.dispose();
  assert.equal(labelled, 2 * perClass, `plain draws: ${plain} of ${2 * perClass} agree`);

  // A generator cannot label images: refused in plain words, nothing written.
  const runsNow = listRuns(store).length;
  await assert.rejects(
    startTraining({
      ...base,
      method: 'mepf',
      targetEpsilon: 4,
      overrides: { labeller: run.runId },
    }),
    /is a mepf run, not a private classifier/,
  );
  assert.equal(listRuns(store).length, runsNow);
});
