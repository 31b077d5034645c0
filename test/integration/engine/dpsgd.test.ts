/**
 * DP-SGD of the whole conditional VAE (engine/dpsgd.ts) on a few hundred
 * MNIST images with real tfjs: Poisson batches, noise-only steps, the decoder
 * under huge noise, write-ahead order, stopping at the target ε, learning
 * under moderate noise, and checkpoints that resume exactly.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import {
  defaultArchitecture,
  deserializeDpsgdCheckpoint,
  DpsgdTrainer,
  parseArchitecture,
  securePoissonSample,
  selectBackend,
  serializeDpsgdCheckpoint,
  type DpsgdOptions,
  type DpsgdStepReport,
  type EngineImages,
} from '../../../src-main/engine';
import { initFlat, splitFlat } from '../../../src-main/engine/params';
import { epsilonOf } from '../../../src-main/privacy';
import { assertAtInitialisation } from '../../support/decoder-drift';

const N = 400;
const DELTA = 1e-5;
/** A small model keeps the tests fast; the mechanism is the same for any widths. */
const arch = parseArchitecture({
  ...defaultArchitecture(),
  encoderHidden: [64, 32],
  decoderHidden: [32, 64],
});
let data: EngineImages;

before(async () => {
  await selectBackend();
  const m = loadBundledMnist().train;
  data = { x: m.x.subarray(0, N * 784), y: m.y.subarray(0, N), count: N, height: 28, width: 28 };
});

const base: DpsgdOptions = { sampleRate: 0.1, sigma: 1, clip: 1, lr: 1e-3, steps: 5, seed: 3 };
const epsilonAfter =
  (q: number, sigma: number) =>
  (steps: number): number =>
    epsilonOf({ spec: { mechanism: 'dpsgd', sampleRate: q, sigma, steps }, delta: DELTA }).epsilon;

async function runAll(trainer: DpsgdTrainer, q: number, sigma: number) {
  const reports: DpsgdStepReport[] = [];
  const events: string[] = [];
  const result = await trainer.run({
    epsilonAfter: epsilonAfter(q, sigma),
    beforeNoisyUpdate: async (s) => void events.push(`spend ${s}`),
    onStep: (r) => {
      events.push(`done ${r.step}`);
      reports.push(r);
    },
  });
  return { reports, events, result };
}

test('Poisson sampling from the CSPRNG: independent records, the batch size varies around q·N', () => {
  const sizes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = securePoissonSample(1000, 0.05);
    for (let j = 1; j < s.length; j++) assert.ok(s[j]! > s[j - 1]!, 'sorted, no repeats');
    sizes.push(s.length);
  }
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  const sd = Math.sqrt(sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / (sizes.length - 1));
  // Binomial(1000, 0.05): mean 50, sd ≈ 6.9.
  assert.ok(Math.abs(mean - 50) < 3, `mean ${mean}`);
  assert.ok(sd > 4 && sd < 10, `sd ${sd}`);
  assert.ok(new Set(sizes).size > 10, 'sizes vary');
  assert.equal(securePoissonSample(7, 1).length, 7);
  assert.throws(() => securePoissonSample(10, 0), /rate/);
});

test('each step is one Poisson sample: batch sizes vary, spend comes before every update', async () => {
  const trainer = DpsgdTrainer.start({ arch, data, options: { ...base, steps: 12 } });
  const { reports, events, result } = await runAll(trainer, 0.1, 1);
  assert.equal(result.stepsTaken, 12);
  assert.equal(result.stoppedBy, 'steps');
  assert.deepEqual(
    events,
    Array.from({ length: 12 }, (_, i) => [`spend ${i + 1}`, `done ${i + 1}`]).flat(),
  );
  const sizes = reports.map((r) => r.batchSize);
  assert.ok(new Set(sizes).size > 2, `batch sizes ${sizes}`);
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  assert.ok(mean > 25 && mean < 55, `mean batch ${mean} (expected 40)`);
  trainer.dispose();
});

test('an empty Poisson sample is a noise-only step', async () => {
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { ...base, sampleRate: 1e-9, steps: 2 },
  });
  const before = trainer.decoderWeights();
  const { reports } = await runAll(trainer, 1e-9, 1);
  assert.deepEqual(
    reports.map((r) => r.batchSize),
    [0, 0],
  );
  assert.ok(reports.every((r) => r.recon === 0 && r.kl === 0));
  const after = trainer.decoderWeights();
  assert.ok(
    after.some((w, i) => w.some((v, j) => v !== before[i]![j])),
    'the noise moved the parameters',
  );
  trainer.dispose();
});

test('σ = 1e6: the released decoder stays at its initial distribution (it never saw an un-noised gradient)', async () => {
  const lr = 1e-6;
  const steps = 4;
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { ...base, sigma: 1e6, lr, steps, sampleRate: 0.5 },
  });
  const start = trainer.decoderWeights();
  await runAll(trainer, 0.5, 1e6);
  const end = trainer.decoderWeights();
  const fresh = splitFlat(arch, 'decoder', initFlat(arch, 'decoder', 98765));
  assertAtInitialisation(end, start, fresh, 10 * steps * lr);
  trainer.dispose();
});

test('σ = 1e6 with SGD: the update is Gaussian noise of std lr·σC/(qN) (the clipped signal is invisible)', async () => {
  const lr = 1e-9;
  const sigma = 1e6;
  const clip = 0.5;
  const q = 0.25;
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { ...base, sigma, clip, lr, steps: 1, sampleRate: q, optimizer: 'sgd' },
  });
  const start = trainer.decoderWeights();
  await runAll(trainer, q, sigma);
  const end = trainer.decoderWeights();
  let s2 = 0;
  let n = 0;
  end.forEach((w, i) => {
    for (let j = 0; j < w.length; j++) {
      s2 += (w[j]! - start[i]![j]!) ** 2;
      n++;
    }
  });
  const std = Math.sqrt(s2 / n);
  const expected = (lr * sigma * clip) / (q * N);
  assert.ok(Math.abs(std / expected - 1) < 0.05, `update std ${std} vs ${expected}`);
  trainer.dispose();
});

test('stops before a step that would pass the target ε, never after it', async () => {
  const sigma = 1;
  const q = 0.1;
  const eps = epsilonAfter(q, sigma);
  const target = (eps(6) + eps(7)) / 2;
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { ...base, sigma, steps: 50, sampleRate: q, targetEpsilon: target },
  });
  const { result, reports } = await runAll(trainer, q, sigma);
  assert.equal(result.stoppedBy, 'epsilon');
  assert.equal(result.stepsTaken, 6);
  assert.ok(result.epsilon <= target);
  assert.ok(reports.every((r) => r.epsilon <= target));
  trainer.dispose();
});

test('learns under moderate noise: the −ELBO falls well below a random decoder’s', async () => {
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { sampleRate: 0.25, sigma: 0.5, clip: 1, lr: 1e-2, steps: 40, seed: 5 },
  });
  const { reports } = await runAll(trainer, 0.25, 0.5);
  const loss = (r: DpsgdStepReport) => r.recon + r.kl;
  const first = loss(reports[0]!);
  const last = reports.slice(-5).reduce((a, r) => a + loss(r), 0) / 5;
  console.log(`DP-SGD loss ${first.toFixed(1)} → ${last.toFixed(1)} nats`);
  assert.ok(last < 0.6 * first, `${first} → ${last}`);
  trainer.dispose();
});

test('checkpoint: exact round trip, and a resumed run continues from the same state', async () => {
  const trainer = DpsgdTrainer.start({ arch, data, options: { ...base, steps: 6 } });
  const stopAt3 = new AbortController();
  await trainer.run({
    epsilonAfter: epsilonAfter(0.1, 1),
    beforeNoisyUpdate: async () => {},
    onStep: (r) => {
      if (r.step === 3) stopAt3.abort();
    },
    signal: stopAt3.signal,
  });
  assert.equal(trainer.step, 3);
  const cp = trainer.checkpoint({ runId: 7 });
  const bytes = serializeDpsgdCheckpoint(cp);
  const back = deserializeDpsgdCheckpoint(bytes);
  assert.deepEqual(serializeDpsgdCheckpoint(back), bytes, 'serialise(deserialise(b)) = b');
  assert.equal(back.step, 3);
  assert.deepEqual(back.meta, { runId: 7 });
  assert.equal(back.optimizer.t, 3);
  const resumed = DpsgdTrainer.resume({ data, checkpoint: back });
  assert.equal(resumed.step, 3);
  assert.deepEqual(resumed.decoderWeights(), trainer.decoderWeights());
  assert.deepEqual(resumed.encoderWeights(), trainer.encoderWeights());
  assert.deepEqual(resumed.checkpoint({ runId: 7 }), cp);
  const { result } = await runAll(resumed, 0.1, 1);
  assert.equal(result.stepsTaken, 6);
  // A corrupted file is refused in plain words; so is another data set's checkpoint.
  const broken = Uint8Array.from(bytes);
  broken[broken.length - 40]! ^= 1;
  assert.throws(() => deserializeDpsgdCheckpoint(broken), /checksum/);
  assert.throws(
    () =>
      DpsgdTrainer.resume({
        data: { ...data, count: 300, x: data.x.subarray(0, 300 * 784), y: data.y.subarray(0, 300) },
        checkpoint: back,
      }),
    /300/,
  );
  trainer.dispose();
  resumed.dispose();
});

test('options are checked: σ = 0, q outside (0, 1] and a bad C are refused', () => {
  for (const bad of [{ sigma: 0 }, { sampleRate: 0 }, { sampleRate: 1.5 }, { clip: -1 }]) {
    assert.throws(
      () => DpsgdTrainer.start({ arch, data, options: { ...base, ...bad } }),
      (e: Error) => e.name === 'UserError' || /must/.test(e.message),
    );
  }
});
