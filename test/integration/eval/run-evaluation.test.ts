/**
 * `eval.run` on a tiny real trained run (a few hundred MNIST digits, tens of
 * steps, through the real worker): the evaluation is stored with the run,
 * whole, with its membership audit against the run's (ε, δ) recomputed by
 * the accountant; `eval.forRun` and `eval.history` read it back; a
 * --synthetic file is evaluated but not stored and not audited; the human
 * report of `dp2 eval` has the table's layout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatEvaluation } from '../../../src-main/cli/commands/eval';
import { dispatch } from '../../../src-main/contract/dispatch';
import { DP2VAE_TABLE1_MNIST } from '../../../src-main/eval/paper-table';
import { startTraining } from '../../../src-main/jobs/runner';
import { epsilonOf } from '../../../src-main/privacy';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { releasedOf } from '../../../src-main/services/samples';
import { latestEvaluation, listEvaluations } from '../../../src-main/store';
import { mnistDataset, SMALL } from '../jobs/helpers';

test(
  'eval.run on a trained run stores the evaluation and its audit; a synthetic file is not stored',
  { timeout: 600_000 },
  async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'dp2-eval-run-'));
    // The plumbing is under test here (storage, audit, read-back); the protocol's own
    // budgets are measured on real data in test/unit/eval and docs/evaluation.md.
    const small = { minSteps: 200, epochs: 1 };
    const ctx = new ServiceContext(home, {
      evalConfigs: { lr: small, mlp: small, cnn: small },
      extractorConfig: { minSteps: 100 },
    });
    t.after(() => {
      ctx.close();
      rmSync(home, { recursive: true, force: true });
    });
    await mnistDataset(ctx.store, 'digits', 330, { epsilon: 60 });
    const handle = await startTraining({
      store: ctx.store,
      dataHome: home,
      datasetName: 'digits',
      method: 'dp2vae',
      targetEpsilon: 8,
      preset: 'quick',
      overrides: SMALL,
    });
    const outcome = await handle.done;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome.error));
    const runId = handle.runId;
    const handlers = createServices(ctx);

    const none = await dispatch(handlers, 'eval.forRun', { runId });
    assert.deepEqual(none, { ok: true, value: null }, 'no evaluation before the first');

    const reply = await dispatch(handlers, 'eval.run', { runId, perClass: 20, seeds: 2 });
    assert.ok(reply.ok, JSON.stringify(!reply.ok && reply.error));
    const r = reply.value;
    // DESIGN.md's documented fields are all there, beside the new ones.
    for (const key of ['lr', 'mlp', 'cnn', 'fld', 'n_synthetic', 'n_test', 'seeds'])
      assert.ok(key in r, key);
    assert.equal(r.n_synthetic, 200);
    assert.equal(r.n_test, 10, 'judged on the data set’s own held-out split');
    assert.deepEqual(r.seeds, [0, 1]);
    assert.equal(r.runId, runId);
    assert.ok(r.evaluationId !== null && r.evaluationId >= 1);
    assert.deepEqual(
      r.utility.map((u) => [u.label, u.runs.length]),
      [
        ['LR', 2],
        ['MLP', 2],
        ['CNN', 2],
      ],
    );
    assert.equal(r.fidelity?.label, 'Fréchet distance, real-data CNN features');
    assert.equal(r.fidelity?.value, r.fld);
    // Protocol v3: the baselines and the real-vs-real fidelity beside the figures.
    assert.deepEqual(r.protocol, { name: 'dp2vae-table1', version: 3, note: '' });
    assert.ok(r.majority_rate !== null && r.majority_rate >= 10 && r.majority_rate <= 100);
    assert.ok(r.utility.every((u) => u.balanced !== null));
    assert.equal(r.fidelity?.reference?.value, r.fld_real);
    assert.equal(r.fidelity?.reference?.nRealTrain, 200, 'as many real training images as samples');
    assert.equal(r.fidelity?.network, r.feature_network);
    assert.match(r.feature_network ?? '', /real training split/);
    // One row per class of the 10 held-out images, named by the data set's class names.
    const perClass = r.fidelity?.perClass ?? [];
    assert.ok(perClass.length >= 1 && perClass.length <= 10);
    assert.ok(perClass.every((c) => c.name === String(c.label)));
    assert.equal(r.reference, null, 'the MNIST rows only beside an MNIST evaluation');

    // The audit: 10 training records against the 10 held-out ones, bound from the accountant.
    const audit = r.audit;
    assert.ok(audit, 'a run is audited');
    assert.equal(audit.members, 10);
    assert.equal(audit.nonMembers, 10);
    assert.ok(audit.auc >= 0 && audit.auc <= 1);
    const cert = JSON.parse(readFileSync(releasedOf(ctx.store, runId).certificate, 'utf8')) as {
      blocks: number;
      sigma: number;
      steps: number;
      delta: number;
      epsilon: number;
    };
    const epsilon = epsilonOf({
      spec: { mechanism: 'dp2vae', blocks: cert.blocks, sigma: cert.sigma, steps: cert.steps },
      delta: cert.delta,
    }).epsilon;
    assert.equal(audit.bound.epsilon, epsilon, 'ε of the bound is the accountant’s');
    assert.equal(audit.bound.epsilon, cert.epsilon, 'and the certificate’s');
    assert.equal(audit.bound.delta, cert.delta);
    // The images' ε beside the scores: what the run's ledger rows spent (never below the certificate).
    assert.ok(r.imagesEpsilon !== null && r.imagesEpsilon >= cert.epsilon * (1 - 1e-9));
    assert.ok(audit.bound.tprAtFpr > audit.fpr, 'the bound is above guessing for ε > 0');
    console.log(
      `tiny run: LR ${r.lr?.mean} MLP ${r.mlp?.mean} CNN ${r.cnn?.mean} FLD ${r.fld}; ` +
        `audit AUC ${audit.auc} TPR@1% ${audit.tprAtFpr} (bound ${audit.bound.tprAtFpr}, ε ${epsilon})`,
    );

    // Stored with the run, whole.
    const stored = latestEvaluation(ctx.store, runId);
    assert.equal(stored?.id, r.evaluationId);
    assert.deepEqual(stored?.audit?.bound, audit.bound);
    assert.deepEqual(stored?.cnn?.runs, r.utility[2]?.runs);
    const read = await dispatch(handlers, 'eval.forRun', { runId });
    assert.deepEqual(read, { ok: true, value: r }, 'eval.forRun gives back what eval.run said');

    // A synthetic file: evaluated, not audited, not stored.
    const out = join(home, 'samples', 'samples.npz');
    const generated = await dispatch(handlers, 'runs.generate', {
      runId,
      perClass: 10,
      seed: 0,
      out,
    });
    assert.ok(generated.ok);
    const file = await dispatch(handlers, 'eval.run', {
      synthetic: out,
      realTest: 'digits',
      seeds: 1,
    });
    assert.ok(file.ok, JSON.stringify(!file.ok && file.error));
    assert.equal(file.value.evaluationId, null);
    assert.equal(file.value.runId, null);
    assert.equal(file.value.audit, null);
    assert.equal(file.value.n_synthetic, 100);
    assert.equal(listEvaluations(ctx.store, runId).length, 1, 'nothing stored for a file');
    const history = await dispatch(handlers, 'eval.history', { runId });
    assert.ok(history.ok && history.value.length === 1);

    // The human report of `dp2 eval`: the table's rows, fidelity per class, the audit.
    const text = formatEvaluation(r);
    assert.match(text, /this run \(ε = [\d.]+\)\s+[\d.]+ ± [\d.]+/);
    assert.match(text, /Fréchet distance, real-data CNN features: /);
    assert.match(text, /\(real vs real/);
    assert.match(text, /Feature network: /);
    assert.match(text, /majority-class rate/);
    assert.match(text, /Protocol dp2vae-table1, version 3\./);
    assert.match(text, /Membership audit \(10 training records against 10 held-out ones\)/);
    assert.match(text, new RegExp(`Stored with run ${runId} as evaluation ${r.evaluationId}`));
    assert.match(
      formatEvaluation({ ...r, reference: DP2VAE_TABLE1_MNIST }),
      /DP²-VAE \(ε = 10\), published\s+78\.4\s+77\.8\s+81\.2/,
    );

    // A private classifier of the same data set sees this evaluated generator as the other
    // route when it spent no more ε, and none when its own budget is smaller.
    const classifier = async (targetEpsilon: number) => {
      const h = await startTraining({
        store: ctx.store,
        dataHome: home,
        datasetName: 'digits',
        method: 'randp',
        targetEpsilon,
        preset: 'quick',
        overrides: { steps: 6, publicPerFamily: 30 },
      });
      const done = await h.done;
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
      const shown = await dispatch(handlers, 'runs.show', { runId: h.runId });
      assert.ok(shown.ok);
      return shown.value;
    };
    const wide = await classifier(8);
    assert.deepEqual(wide.syntheticRoute, {
      runId,
      method: 'dp2vae',
      epsilon: wide.syntheticRoute?.epsilon,
      cnn: r.cnn?.mean,
    });
    assert.ok((wide.syntheticRoute?.epsilon ?? 99) <= 8);
    assert.equal((await classifier(2)).syntheticRoute, null);
    const generator = await dispatch(handlers, 'runs.show', { runId });
    assert.ok(generator.ok && generator.value.syntheticRoute === null, 'only for classifiers');
  },
);
