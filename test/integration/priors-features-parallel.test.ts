/**
 * The prior's features on worker threads (features-parallel.ts), with a tiny
 * real prior in a temporary folder: the same features as one thread, bit for
 * bit; a worker's error (altered weights) reaching the caller as the same
 * UserError; a bad DP2_FEATURE_WORKERS refused in plain words.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UserError } from '../../src-main/contract/errors';
import { loadBundledMnist, readNpz, writeNpz } from '../../src-main/data';
import { selectBackend } from '../../src-main/engine/backend';
import { SeededRng } from '../../src-main/engine/rng';
import { perRecordTransform } from '../../src-main/priors/feature-map';
import { extractFeatures, type ImageBytes } from '../../src-main/priors/features';
import {
  MIN_PIXELS_PER_WORKER,
  extractFeaturesInParallel,
  featureWorkerCount,
  plannedFeatureThreads,
} from '../../src-main/priors/features-parallel';
import { disposeNet } from '../../src-main/priors/network/feature-net';
import {
  DEFAULT_PRIOR,
  loadPrior,
  writePrior,
  type PriorManifest,
} from '../../src-main/priors/prior-file';
import {
  DEFAULT_PRETRAIN,
  pretrainPrior,
  trainingRecord,
} from '../../src-main/priors/pretrain/pretrain';
import { runCliCaptured as dp2 } from '../support/run-cli';
import { tempDir } from '../support/temp';

const tmp = tempDir('dp2-features-parallel-');
const priorDir = join(tmp.path, 'prior');
const readout = { layers: ['stage1', 'stage2'], grid: 2 };
let manifest: PriorManifest;
let images: ImageBytes;

before(async () => {
  await selectBackend();
  // A tiny prior (two steps of pre-training): fast, and real.
  const options = {
    ...DEFAULT_PRETRAIN,
    spec: { widths: [4, 4, 8], stemStride: 1 as const },
    families: ['spectral' as const],
    seed: 3,
    imagesPerFamily: 16,
    steps: 2,
    batchSize: 8,
    warmupSteps: 1,
  };
  const result = await pretrainPrior(options);
  mkdirSync(priorDir, { recursive: true });
  manifest = await writePrior(
    priorDir,
    DEFAULT_PRIOR,
    result.net,
    trainingRecord(options, result, 'test'),
  );
  disposeNet(result.net);
  const { train } = loadBundledMnist();
  const count = 50;
  images = { x: train.x.slice(0, count * 784), count, height: 28, width: 28, channels: 1 };
});

after(() => tmp.cleanup());

test('two workers give the features of one thread, bit for bit; progress grows to the count', async () => {
  const prior = loadPrior(DEFAULT_PRIOR, priorDir);
  // Batches of 8: 7 batches, so both workers get chunks.
  const one = await extractFeatures(prior.net, images, { readout, batchSize: 8 });
  disposeNet(prior.net);
  const progress: number[] = [];
  const two = await extractFeaturesInParallel(images, {
    folder: priorDir,
    readout,
    batchSize: 8,
    workers: 2,
    minPixelsPerWorker: 0,
    onProgress: (done, total) => {
      assert.equal(total, 50);
      progress.push(done);
    },
  });
  assert.equal(two.threads, 2, 'the workers ran (not the one-thread fallback)');
  assert.equal(two.dims, one.dims);
  assert.equal(two.features.length, 50 * one.dims);
  assert.deepEqual(
    new Uint8Array(two.features.buffer, two.features.byteOffset, two.features.byteLength),
    new Uint8Array(one.features.buffer, one.features.byteOffset, one.features.byteLength),
  );
  for (let i = 1; i < progress.length; i++)
    assert.ok((progress[i] as number) >= (progress[i - 1] as number), 'progress never goes back');
  assert.equal(progress.at(-1), 50);
  // One worker: the same, in this thread.
  const inThread = await extractFeaturesInParallel(images, {
    folder: priorDir,
    readout,
    batchSize: 8,
    workers: 1,
  });
  assert.equal(inThread.threads, 1);
  assert.deepEqual(inThread.features, one.features);
});

test('a feature map applied on the workers: the same rows as the map applied afterwards, and the same on one thread', async () => {
  const prior = loadPrior(DEFAULT_PRIOR, priorDir);
  const raw = await extractFeatures(prior.net, images, { readout, batchSize: 8 });
  disposeNet(prior.net);
  const d = raw.dims;
  // A public map of this prior's shape: the square root, two groups, a lower-triangular A.
  const rng = SeededRng.fromSeed(11);
  const factor = new Float32Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++)
      factor[i * d + j] = i === j ? 1 + rng.nextFloat() : (rng.nextFloat() - 0.5) / d;
  const half = Math.floor(d / 2);
  const map = {
    perRecord: { power: 0.5, groups: [half, d - half] },
    whitening: {
      mean: Float32Array.from({ length: d }, () => rng.nextFloat()),
      factor,
      dims: d,
      source: 'test',
    },
  };
  const common = { folder: priorDir, readout, batchSize: 8, map };
  const two = await extractFeaturesInParallel(images, {
    ...common,
    workers: 2,
    minPixelsPerWorker: 0,
  });
  const one = await extractFeaturesInParallel(images, { ...common, workers: 1 });
  assert.equal(two.threads, 2);
  assert.deepEqual(two.features, one.features, 'the same on two workers as on one thread');
  // The definition: per record (perRecordTransform), then A·(x − mean), in float64.
  const x = perRecordTransform(raw.features.slice(), images.count, d, map.perRecord);
  let worst = 0;
  for (let n = 0; n < images.count; n++) {
    for (let r = 0; r < d; r++) {
      let v = 0;
      for (let c = 0; c <= r; c++)
        v +=
          (factor[r * d + c] as number) *
          ((x[n * d + c] as number) - (map.whitening.mean[c] as number));
      worst = Math.max(worst, Math.abs(v - (two.features[n * d + r] as number)));
    }
  }
  assert.ok(worst < 1e-4, `mapped features differ from the definition by ${worst}`);
});

test("altered weights: the workers' UserError reaches the caller", async () => {
  const altered = join(tmp.path, 'altered');
  mkdirSync(altered);
  for (const file of [manifest.weights.file, `${DEFAULT_PRIOR}.manifest.json`])
    copyFileSync(join(priorDir, file), join(altered, file));
  const weights = join(altered, manifest.weights.file);
  const bytes = readFileSync(weights);
  bytes[100] = (bytes[100] as number) ^ 0x01;
  writeFileSync(weights, bytes);
  await assert.rejects(
    extractFeaturesInParallel(images, {
      folder: altered,
      readout,
      batchSize: 8,
      workers: 2,
      minPixelsPerWorker: 0,
    }),
    (err: unknown) =>
      err instanceof UserError &&
      err.code === 'CORRUPT_DATA' &&
      /do not match the SHA-256 .*Reinstall DP² Studio/.test(err.message),
  );
});

test('an abort stops the workers with CANCELLED', async () => {
  const controller = new AbortController();
  await assert.rejects(
    extractFeaturesInParallel(images, {
      folder: priorDir,
      readout,
      batchSize: 8,
      workers: 2,
      minPixelsPerWorker: 0,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    }),
    (err: unknown) => err instanceof UserError && err.code === 'CANCELLED',
  );
});

test('dp2 features on two threads writes what one thread writes', async () => {
  // Enough digits to repay two workers' start (MIN_PIXELS_PER_WORKER each).
  const count = Math.ceil((2 * MIN_PIXELS_PER_WORKER) / 784);
  assert.equal(plannedFeatureThreads({ count, height: 28, width: 28 }, 2), 2);
  assert.equal(plannedFeatureThreads({ count: count - 256, height: 28, width: 28 }, 2), 1);
  const { train } = loadBundledMnist();
  const input = join(tmp.path, 'digits.npz');
  writeFileSync(
    input,
    writeNpz({ x: { data: train.x.slice(0, count * 784), shape: [count, 28, 28] } }),
  );
  const run = async (workers: string): Promise<Float32Array> => {
    const out = join(tmp.path, `features-${workers}.npz`);
    const r = await dp2(['features', '--in', input, '--out', out], {
      env: { DP2_PRIORS_DIR: priorDir, DP2_FEATURE_WORKERS: workers },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(/\(2 threads\)/.test(r.stderr), workers === '2', r.stderr);
    return readNpz(readFileSync(out), out).features?.data as Float32Array;
  };
  assert.deepEqual(await run('2'), await run('1'));
});

test('DP2_FEATURE_WORKERS of 0 or "x": a plain error, no output file', async () => {
  for (const bad of ['0', 'x']) {
    assert.throws(
      () => featureWorkerCount({ DP2_FEATURE_WORKERS: bad }),
      (err: unknown) =>
        err instanceof UserError &&
        err.code === 'INVALID_INPUT' &&
        err.message.includes(`DP2_FEATURE_WORKERS is "${bad}"; it must be a whole number`),
    );
    const out = join(tmp.path, `bad-${bad}.npz`);
    const r = await dp2(['features', '--in', 'any.npz', '--out', out], {
      env: { DP2_PRIORS_DIR: priorDir, DP2_FEATURE_WORKERS: bad },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /DP2_FEATURE_WORKERS is ".+"; it must be a whole number from 1 to 64/);
    assert.equal(existsSync(out), false);
  }
  assert.equal(featureWorkerCount({ DP2_FEATURE_WORKERS: ' 3 ' }), 3);
  assert.ok(featureWorkerCount({}) >= 1);
});
