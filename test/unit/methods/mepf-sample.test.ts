/**
 * Drawing from a `mepf` generator by its release: as many images as asked,
 * class-major and labelled, chosen among three candidates per image as the
 * ones the release places most firmly in their class; the same seed gives
 * the same images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import { generateImages } from '../../../src-main/engine/generate';
import { initParams } from '../../../src-main/engine/params';
import { rffEmbedding } from '../../../src-main/methods/mepf/embedding';
import {
  defaultGeneratorArchitecture,
  matchTarget,
  releaseMargins,
} from '../../../src-main/methods/mepf/generator';
import type { MepfPlan } from '../../../src-main/methods/mepf/plan-schema';
import {
  classStatistic,
  releaseStatistic,
  releaseToJson,
} from '../../../src-main/methods/mepf/release';
import { sampleByRelease } from '../../../src-main/methods/mepf/sample';

test('images kept by the release: the firmest of three candidates per image, class by class', async (t) => {
  await selectBackend();
  const dir = mkdtempSync(join(tmpdir(), 'dp2-mepf-sample-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = { height: 28, width: 28, channels: 1 };
  const mnist = loadBundledMnist().train;
  const n = 300;
  const embedding = rffEmbedding(image, { seed: 5, frequencies: 500 });
  const stat = await classStatistic(
    embedding,
    { x: mnist.x.subarray(0, n * 784), y: mnist.y.subarray(0, n), count: n, ...image },
    { classes: 10 },
  );
  const release = releaseStatistic(stat, { sigma: 2, countWeight: 0.1 });
  const file = join(dir, 'release.json');
  writeFileSync(file, releaseToJson(release, embedding.description));
  const plan = {
    method: 'mepf',
    features: 'rff',
    sigma: 2,
    countWeight: 0.1,
    steps: 1,
    generatorSteps: 1,
    generatorBatch: 10,
    lr: 1e-3,
    lrSchedule: 'constant',
    estimator: 'moving-average',
    seed: 5,
  } satisfies MepfPlan;
  const arch = defaultGeneratorArchitecture(image, 10);
  const params = initParams(arch, 'decoder', [3]).tensors;
  const weights = params.map((p) => Float32Array.from(p.dataSync() as Float32Array));
  for (const p of params) p.dispose();

  const perClass = 4;
  const kept = await sampleByRelease({ arch, weights, plan, perClass, seed: 9, release: file });
  assert.equal(kept.count, 40);
  assert.deepEqual(
    Array.from(kept.y),
    Array.from({ length: 40 }, (_, i) => Math.floor(i / perClass)),
  );
  const again = await sampleByRelease({ arch, weights, plan, perClass, seed: 9, release: file });
  assert.deepEqual(again.x, kept.x, 'the same seed, the same images');

  // They are the three-fold pool's best by the release's margin, class by class.
  const pool = generateImages(arch, weights, { perClass: 3 * perClass, seed: 9 });
  const target = matchTarget(release);
  const margin = (x: Uint8Array, count: number, k: number): Float32Array => {
    const batch = tf.tidy(() =>
      tf.div(tf.tensor4d(Float32Array.from(x), [count, 28, 28, 1]), 255),
    ) as tf.Tensor4D;
    const m = releaseMargins(embedding, target, batch, new Int32Array(count).fill(k));
    batch.dispose();
    return m;
  };
  for (let k = 0; k < 10; k++) {
    const all = margin(pool.x.subarray(k * 12 * 784, (k + 1) * 12 * 784), 12, k);
    const mine = margin(kept.x.subarray(k * 4 * 784, (k + 1) * 4 * 784), 4, k);
    const best = Array.from(all)
      .sort((a, b) => b - a)
      .slice(0, 4);
    assert.deepEqual(
      Array.from(mine).map((v) => v.toFixed(4)),
      best.map((v) => v.toFixed(4)),
      `class ${k}`,
    );
  }
  embedding.dispose();
});
