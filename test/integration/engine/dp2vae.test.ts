/**
 * Both stages of DP²-VAE end to end on a few hundred MNIST images with K = 4
 * blocks, accounted with the real accountant (src-main/privacy).
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import {
  convArchitecture,
  defaultArchitecture,
  deserializeCheckpoint,
  EncoderStore,
  generateImages,
  partitionRecords,
  selectBackend,
  serializeCheckpoint,
  Stage2Trainer,
  trainStage1,
  writeCheckpointAtomic,
  type EngineImages,
  type Stage2Options,
  type Stage2StepReport,
} from '../../../src-main/engine';
import { initFlat, splitFlat } from '../../../src-main/engine/params';
import { epsilonOf } from '../../../src-main/privacy';
import { assertAtInitialisation } from '../../support/decoder-drift';

const arch = defaultArchitecture();
const N = 400;
const K = 4;
const DELTA = 1e-5;
const partition = partitionRecords(N, K, 2024);
let data: EngineImages;
let root: string;
const stage1Loss: number[] = [];

const epsilonAfter =
  (sigma: number) =>
  (steps: number): number =>
    epsilonOf({ spec: { mechanism: 'dp2vae', blocks: K, sigma, steps }, delta: DELTA }).epsilon;

before(async () => {
  await selectBackend();
  const m = loadBundledMnist().train;
  data = { x: m.x.subarray(0, N * 784), y: m.y.subarray(0, N), count: N, height: 28, width: 28 };
  root = await mkdtemp(join(tmpdir(), 'dp2-e2e-'));
  const store = await EncoderStore.open(join(root, 'stage1'), arch, K);
  await trainStage1({
    arch,
    data,
    partition,
    store,
    options: { seed: 1, steps: 30, batchSize: 50, lr: 2e-3, clip: 5 },
    onProgress: (p) => stage1Loss.push(p.recon + p.kl),
  });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A private copy of the stage-1 encoders (stage 2 updates them in place). */
async function storeCopy(name: string): Promise<EncoderStore> {
  await cp(join(root, 'stage1'), join(root, name), { recursive: true });
  return EncoderStore.open(join(root, name), arch, K);
}

const base: Stage2Options = {
  sigma: 2,
  clip: 1,
  batchSize: 50,
  lr: 1e-3,
  steps: 6,
  blocks: K,
  seed: 77,
};

test('stage 1: the negative ELBO goes down', () => {
  assert.equal(stage1Loss.length, 30);
  const first = stage1Loss[0]!;
  const last = stage1Loss.slice(-3).reduce((a, b) => a + b, 0) / 3;
  console.log(`stage-1 loss ${first.toFixed(1)} → ${last.toFixed(1)} nats`);
  assert.ok(last < 0.75 * first, `${first} → ${last}`);
});

test('σ = 1e6: the released decoder stays at its initial distribution (it only ever saw noisy gradients)', async () => {
  const store = await storeCopy('huge-sigma');
  const lr = 1e-6;
  const steps = 5;
  const trainer = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store,
    options: { ...base, sigma: 1e6, lr, steps },
  });
  const start = trainer.decoderWeights();
  const events: string[] = [];
  const result = await trainer.run({
    epsilonAfter: epsilonAfter(1e6),
    beforeNoisyUpdate: async (s) => void events.push(`spend ${s}`),
    onStep: (r) => void events.push(`done ${r.step}`),
  });
  assert.equal(result.stepsTaken, steps);
  assert.deepEqual(
    events,
    [1, 2, 3, 4, 5].flatMap((s) => [`spend ${s}`, `done ${s}`]),
    'write-ahead order',
  );
  const end = trainer.decoderWeights();
  const fresh = splitFlat(arch, 'decoder', initFlat(arch, 'decoder', 123456));
  assertAtInitialisation(end, start, fresh, 10 * steps * lr);
  trainer.dispose();
});

test('σ = 1e6 with SGD: the decoder update is Gaussian noise of std σ·C (the clipped signal is invisible)', async () => {
  const store = await storeCopy('noise-scale');
  const lr = 1e-9;
  const sigma = 1e6;
  const clip = 0.5;
  const trainer = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store,
    options: { ...base, sigma, clip, lr, steps: 1, optimizer: 'sgd' },
  });
  const w0 = trainer.decoderWeights();
  await trainer.run({ epsilonAfter: epsilonAfter(sigma), beforeNoisyUpdate: async () => {} });
  const w1 = trainer.decoderWeights();
  let n = 0;
  let s = 0;
  let s2 = 0;
  w1.forEach((w, i) =>
    w.forEach((v, j) => {
      const noise = (w0[i]![j]! - v) / lr; // = clipped gradient + N(0, σ²C²)
      n++;
      s += noise;
      s2 += noise * noise;
    }),
  );
  const std = Math.sqrt(s2 / n - (s / n) ** 2);
  assert.ok(Math.abs(s / n) < (7 * sigma * clip) / Math.sqrt(n), `mean ${s / n}`);
  assert.ok(Math.abs(std / (sigma * clip) - 1) < 0.01, `std ${std} vs σC = ${sigma * clip}`);
  trainer.dispose();
});

test('ε never exceeds the target: training stops before the step that would pass it', async () => {
  const store = await storeCopy('target');
  const eps = epsilonAfter(base.sigma);
  const target = (eps(4) + eps(5)) / 2;
  const trainer = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store,
    options: { ...base, steps: 100, targetEpsilon: target },
  });
  const spent: number[] = [];
  const reports: Stage2StepReport[] = [];
  const result = await trainer.run({
    epsilonAfter: eps,
    beforeNoisyUpdate: async (s) => void spent.push(s),
    onStep: (r) => void reports.push(r),
  });
  assert.equal(result.stoppedBy, 'epsilon');
  assert.equal(result.stepsTaken, 4);
  assert.deepEqual(spent, [1, 2, 3, 4], 'no spend is recorded for the refused step');
  assert.ok(reports.every((r) => r.epsilon <= target && Number.isFinite(r.recon + r.kl)));
  assert.ok(result.epsilon <= target);
  trainer.dispose();
});

test('resume from a checkpoint mid-stage-2 gives the same step count and ε trajectory', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const eps = epsilonAfter(base.sigma);
  // Uninterrupted run.
  const straight = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store: await storeCopy('straight'),
    options: base,
  });
  const trajectory: [number, number][] = [];
  await straight.run({
    epsilonAfter: eps,
    beforeNoisyUpdate: async () => {},
    onStep: (r) => void trajectory.push([r.step, r.epsilon]),
  });
  straight.dispose();

  // Interrupted run: checkpoint after step 3, carry on to step 5, then "crash".
  const dir = 'interrupted';
  const path = join(root, 'run.ckpt');
  const first = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store: await storeCopy(dir),
    options: base,
  });
  const seen: [number, number][] = [];
  const ctrl = new AbortController();
  let saved: Float32Array[] = [];
  await first.run({
    epsilonAfter: eps,
    beforeNoisyUpdate: async () => {},
    signal: ctrl.signal,
    onStep: async (r) => {
      seen.push([r.step, r.epsilon]);
      if (r.step === 3) {
        const { state, commit } = await first.checkpoint({ run: 'test' });
        await writeCheckpointAtomic(path, serializeCheckpoint(state));
        await commit();
        saved = state.decoder;
      }
      if (r.step === 5) ctrl.abort();
    },
  });
  assert.equal(first.step, 5);
  first.dispose(); // the process dies; steps 4–5 are lost

  const checkpoint = deserializeCheckpoint(new Uint8Array(await readFile(path)));
  assert.equal(checkpoint.step, 3);
  const resumed = await Stage2Trainer.resume({
    data,
    partition,
    store: await EncoderStore.open(join(root, dir), arch, K),
    checkpoint,
  });
  assert.equal(resumed.step, 3);
  resumed
    .decoderWeights()
    .forEach((w, i) => assert.deepEqual(w, saved[i]), 'decoder restored bit for bit');
  assert.equal(
    (await readdir(join(root, dir))).length,
    K,
    'encoder updates after the checkpoint were discarded',
  );
  const rest: [number, number][] = [];
  const result = await resumed.run({
    epsilonAfter: eps,
    beforeNoisyUpdate: async () => {},
    onStep: (r) => void rest.push([r.step, r.epsilon]),
  });
  assert.equal(result.stoppedBy, 'steps');
  assert.equal(result.stepsTaken, 6);
  assert.deepEqual([...seen.slice(0, 3), ...rest], trajectory);
  assert.equal(result.epsilon, trajectory[5]![1]);
  resumed.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor is leaked');
});

test('the released decoder generates images; σ = 0 is refused by the public API', async () => {
  const store = await storeCopy('gen');
  await assert.rejects(
    Stage2Trainer.start({ arch, data, partition, store, options: { ...base, sigma: 0 } }),
    /σ/,
  );
  const trainer = await Stage2Trainer.start({
    arch,
    data,
    partition,
    store,
    options: { ...base, steps: 2 },
  });
  await trainer.run({ epsilonAfter: epsilonAfter(base.sigma), beforeNoisyUpdate: async () => {} });
  const images = generateImages(arch, trainer.decoderWeights(), { perClass: 2, seed: 5 });
  assert.equal(images.count, 20);
  trainer.dispose();
});

test('the convolutional variant (32×32×3) trains through both stages', async () => {
  const conv = convArchitecture({ height: 32, width: 32, channels: 3 }, 2);
  const n = 24;
  const x = new Uint8Array(n * 32 * 32 * 3);
  for (let i = 0; i < x.length; i++) x[i] = (i * 2654435761) >>> 24;
  const images: EngineImages = {
    x,
    y: Uint8Array.from({ length: n }, (_, i) => i % 2),
    count: n,
    height: 32,
    width: 32,
    channels: 3,
  };
  const part = partitionRecords(n, 2, 3);
  const store = await EncoderStore.open(join(root, 'conv'), conv, 2);
  const losses: number[] = [];
  await trainStage1({
    arch: conv,
    data: images,
    partition: part,
    store,
    options: { seed: 4, steps: 2, batchSize: 6, groupSize: 2 },
    onProgress: (p) => losses.push(p.recon + p.kl),
  });
  assert.equal(losses.length, 2);
  const trainer = await Stage2Trainer.start({
    arch: conv,
    data: images,
    partition: part,
    store,
    options: { sigma: 1, clip: 1, batchSize: 6, lr: 1e-3, steps: 2, blocks: 2, seed: 1 },
  });
  const r = await trainer.run({ epsilonAfter: (s) => s, beforeNoisyUpdate: async () => {} });
  assert.equal(r.stepsTaken, 2);
  assert.equal(
    generateImages(conv, trainer.decoderWeights(), { perClass: 1, seed: 1 }).x.length,
    2 * 32 * 32 * 3,
  );
  trainer.dispose();
});
