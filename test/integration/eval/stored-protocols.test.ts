/**
 * Stored evaluations of every protocol version stay readable through the
 * services (`eval.forRun`, `eval.history`, response schema checked): an
 * older version's figures come back labelled as not comparable, without the
 * figures it never measured; version 3's come back with the majority rate,
 * the balanced accuracies, the real-vs-real fidelity and the feature network.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatEvaluation } from '../../../src-main/cli/commands/eval';
import { dispatch } from '../../../src-main/contract/dispatch';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { saveEvaluation, type NewEvaluation } from '../../../src-main/store';
import { seed } from '../../unit/store/helpers';

function stored(runId: number, version: number, extra: Partial<NewEvaluation> = {}): NewEvaluation {
  return {
    runId,
    protocol: 'dp2vae-table1',
    protocolVersion: version,
    realTest: 'Chest X-rays',
    nSynthetic: 2000,
    nTest: 500,
    seeds: [0, 1, 2],
    trainConfigs: { cnn: { epochs: 2, batchSize: 128, learningRate: 0.003 } },
    lr: { mean: 70, std: 1, runs: [69, 70, 71] },
    mlp: null,
    cnn: { mean: 80, std: 0.5, runs: [79.5, 80, 80.5] },
    fidelity: {
      fld: 0.02,
      featureSpace: 'CNN features',
      featureDims: 64,
      extractorAccuracy: 90,
      precision: 0.5,
      recall: 0.4,
      k: 3,
      perClass: [{ label: 0, real: 100, synthetic: 100, precision: 0.5, recall: 0.4 }],
    },
    audit: null,
    backend: 'wasm',
    durationMs: 1000,
    ...extra,
  };
}

test('older protocol versions read back labelled; version 3 with its added figures', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'dp2-eval-stored-'));
  const ctx = new ServiceContext(home);
  t.after(() => {
    ctx.close();
    rmSync(home, { recursive: true, force: true });
  });
  const { run } = seed(ctx.store);
  const handlers = createServices(ctx);
  saveEvaluation(ctx.store, stored(run.id, 2));
  const old = await dispatch(handlers, 'eval.forRun', { runId: run.id });
  assert.ok(old.ok && old.value, JSON.stringify(old));
  assert.equal(old.value.protocol.version, 2);
  assert.match(old.value.protocol.note, /older protocol \(version 2/);
  assert.equal(old.value.majority_rate, null, 'not measured then: absent, not invented');
  assert.equal(old.value.fld_real, null);
  assert.equal(old.value.fidelity?.reference, null);
  assert.equal(old.value.utility[0]?.balanced, null);
  assert.equal(old.value.cnn?.mean, 80, 'its own figures are kept');
  assert.match(formatEvaluation(old.value), /older protocol \(version 2/);

  saveEvaluation(
    ctx.store,
    stored(run.id, 3, {
      details: {
        majorityLabel: 0,
        majorityRate: 90,
        imbalanced: true,
        balanced: {
          lr: { mean: 55, std: 2, runs: [53, 55, 57] },
          cnn: { mean: 60, std: 1, runs: [59, 60, 61] },
        },
        reference: { fld: 0.004, precision: 0.7, recall: 0.75, nRealTrain: 2000 },
        featureNetwork: 'protocol CNN trained on the real training split',
      },
    }),
  );
  const history = await dispatch(handlers, 'eval.history', { runId: run.id });
  assert.ok(history.ok, JSON.stringify(history));
  const [v3, v2] = history.value;
  assert.equal(v2?.protocol.version, 2);
  assert.ok(v3);
  assert.deepEqual(v3.protocol, { name: 'dp2vae-table1', version: 3, note: '' });
  assert.equal(v3.majority_rate, 90);
  assert.equal(v3.imbalanced, true);
  assert.deepEqual(v3.balanced_accuracy, {
    lr: { mean: 55, std: 2 },
    mlp: null,
    cnn: { mean: 60, std: 1 },
  });
  assert.equal(v3.fld_real, 0.004);
  assert.equal(v3.fidelity?.reference?.nRealTrain, 2000);
  assert.equal(v3.feature_network, 'protocol CNN trained on the real training split');
  const text = formatEvaluation(v3);
  assert.match(text, /commonest class scores 90\.0 %/);
  assert.match(
    text,
    /the classes are imbalanced: read this one\): LR 55\.0 ± 2\.0, MLP —, CNN 60\.0 ± 1\.0/,
  );
  assert.match(
    text,
    /0\.02 against 0\.004 for 2000 real training images \(real vs real; 5× that\)/,
  );
});
