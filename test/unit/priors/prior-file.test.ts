import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  featureLayers,
  parameterCount,
  MAX_PRIOR_PARAMETERS,
} from '../../../src-main/priors/network/architecture';
import { readFeatures } from '../../../src-main/priors/network/feature-net';
import {
  DEFAULT_PRIOR,
  PRIOR_STATEMENT,
  loadPrior,
  priorsFolder,
  serializeWeights,
  sha256,
  writePrior,
} from '../../../src-main/priors/prior-file';
import {
  DEFAULT_PRETRAIN,
  pretrainPrior,
  trainingRecord,
  type PretrainOptions,
} from '../../../src-main/priors/pretrain/pretrain';

const options: PretrainOptions = {
  ...DEFAULT_PRETRAIN,
  spec: { widths: [4, 6, 8], stemStride: 1 },
  families: ['spectral', 'dead-leaves'],
  seed: 4,
  imagesPerFamily: 24,
  steps: 12,
  batchSize: 12,
  warmupSteps: 2,
  learningRate: 5e-3,
};

describe('random-process prior: pre-training and the prior file', () => {
  let dir: string;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = mkdtempSync(join(tmpdir(), 'dp2-prior-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('pre-training is reproducible from its seed and lowers the contrastive loss', async () => {
    const a = await pretrainPrior(options);
    const b = await pretrainPrior(options);
    assert.equal(sha256(serializeWeights(a.net)), sha256(serializeWeights(b.net)));
    const c = await pretrainPrior({ ...options, seed: 5 });
    assert.notEqual(sha256(serializeWeights(a.net)), sha256(serializeWeights(c.net)));
    const curve = a.lossCurve;
    assert.equal(curve.length, options.steps);
    const head = (curve[0]! + curve[1]! + curve[2]!) / 3;
    const tail = (curve.at(-1)! + curve.at(-2)! + curve.at(-3)!) / 3;
    assert.ok(tail < head, `loss ${head.toFixed(3)} → ${tail.toFixed(3)}`);
  });

  it('writes weights and a manifest that load back with the same features; an altered byte is refused', async () => {
    const r = await pretrainPrior({ ...options, steps: 2 });
    const manifest = await writePrior(dir, 'p', r.net, trainingRecord(options, r, tf.getBackend()));
    assert.equal(manifest.statement, PRIOR_STATEMENT);
    assert.equal(manifest.parameters, parameterCount(options.spec));
    const loaded = loadPrior('p', dir);
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const readout = { layers: featureLayers(options.spec), grid: 2 };
    assert.deepEqual(
      Array.from(readFeatures(loaded.net, x, readout).dataSync()),
      Array.from(readFeatures(r.net, x, readout).dataSync()),
    );
    const weights = join(dir, manifest.weights.file);
    const bytes = readFileSync(weights);
    bytes[100] = (bytes[100] as number) ^ 1;
    writeFileSync(weights, bytes);
    assert.throws(
      () => loadPrior('p', dir),
      (e: Error & { code?: string }) =>
        e.code === 'CORRUPT_DATA' &&
        /SHA-256/.test(e.message) &&
        /Reinstall DP² Studio/.test(e.message),
    );
    writeFileSync(weights, bytes.subarray(0, 40));
    assert.throws(() => loadPrior('p', dir), /damaged\. Reinstall/);
    rmSync(weights);
    assert.throws(
      () => loadPrior('p', dir),
      (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && /Reinstall/.test(e.message),
    );
    assert.throws(
      () => loadPrior('absent', dir),
      /is missing: there is no .*absent\.manifest\.json\. Reinstall/,
    );
    writeFileSync(join(dir, 'bad.manifest.json'), '{"format":"dp2-prior"}');
    assert.throws(
      () => loadPrior('bad', dir),
      (e: Error & { code?: string }) => e.code === 'CORRUPT_DATA',
    );
  });

  it('the shipped prior is in resources/priors, matches its SHA-256 and says it saw no real data', () => {
    assert.ok(existsSync(join(priorsFolder({}), `${DEFAULT_PRIOR}.manifest.json`)));
    const prior = loadPrior(DEFAULT_PRIOR, priorsFolder({}));
    assert.equal(
      prior.manifest.statement,
      'Trained only on procedurally generated images; no real data.',
    );
    assert.ok(prior.manifest.parameters <= MAX_PRIOR_PARAMETERS);
    assert.ok(prior.manifest.training.lossCurve.length > 10);
    assert.ok(prior.manifest.training.lossCurve.at(-1)! < prior.manifest.training.lossCurve[0]!);
  });
});
