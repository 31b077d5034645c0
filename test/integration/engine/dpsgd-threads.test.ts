/**
 * Data-parallel DP-SGD (engine/dpsgd-threads.ts, issue 24): spreading a
 * step's records over worker threads changes nothing but the order of the
 * float32 additions. On fixed inputs and keyed record noise, the clipped sum
 * (and, with per-record encoders, every refined posterior) is the same with
 * one, two and three threads; whole steps with negligible mechanism noise
 * give the same parameters; and the noise each thread draws for its range of
 * coordinates has the law the accounting assumes. Term-wise DP-SGD takes its
 * sums the same way: its coupled term too is the same on one or two threads,
 * and each coordinate's noise is the sum of the terms' noises.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  DpsgdTrainer,
  keyedRecordNoise,
  selectBackend,
  type DpsgdOptions,
  type EngineImages,
} from '../../../src-main/engine';
import { TermwiseTrainer, type TermwiseOptions } from '../../../src-main/engine/termwise';
import * as tf from '@tensorflow/tfjs';
import { firstDigits, SMALL_ARCH } from '../../support/small-model';

const N = 48;
const arch = SMALL_ARCH;
let data: EngineImages;

before(async () => {
  await selectBackend({ env: { DP2_BACKEND: 'wasm' } });
  data = firstDigits(N);
});

const network: DpsgdOptions = { sampleRate: 0.5, sigma: 1, clip: 1, lr: 1e-3, steps: 4, seed: 3 };
const perRecord: DpsgdOptions = {
  ...network,
  encoders: 'per-record',
  refine: { steps: 2, firstVisitSteps: 3, lr: 0.05, samples: 2 },
};

/** max |a − b| relative to max |b|. */
function relativeGap(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    gap = Math.max(gap, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  assert.ok(scale > 0, 'the reference is all zeros');
  return gap / scale;
}

const flat = (arrays: Float32Array[]): Float32Array =>
  Float32Array.from(arrays.flatMap((a) => Array.from(a)));

for (const [name, options] of [
  ['an encoder network', network],
  ['per-record encoders', perRecord],
] as const) {
  test(`one, two and three threads give the same clipped sum (${name})`, async () => {
    // Record 0 is far from the others (a white image): it is clipped hardest.
    const odd: EngineImages = { ...data, x: Uint8Array.from(data.x) };
    odd.x.fill(255, 0, 784);
    const records = Uint32Array.from([0, 2, 3, 5, 8, 13, 21, 22, 30, 34, 40, 47]);
    const trainers = [1, 2, 3].map((threads) =>
      DpsgdTrainer.start({ arch, data: odd, options, recordNoise: keyedRecordNoise(9), threads }),
    );
    try {
      for (const step of [1, 2]) {
        const sums = [];
        for (const t of trainers) sums.push(await t.clippedSumOfRecords(records, step));
        assert.deepEqual(
          trainers.map((t) => t.threads),
          [1, 2, 3],
        );
        for (const s of sums.slice(1)) {
          assert.ok(relativeGap(s, sums[0] as Float32Array) < 1e-5, `step ${step}`);
        }
      }
      const tables = trainers.map((t) => t.posteriorTable());
      if (options === perRecord) {
        for (const table of tables.slice(1)) {
          // Each record's posterior is refined in one thread, by the same code: bit-identical.
          assert.deepEqual(table?.mu, tables[0]?.mu);
          assert.deepEqual(table?.logvar, tables[0]?.logvar);
          assert.deepEqual(table?.visits, tables[0]?.visits);
        }
        assert.equal(tables[0]?.visits[0], 2);
        assert.equal(tables[0]?.visits[1], 0);
      } else assert.deepEqual(tables, [null, null, null]);
    } finally {
      for (const t of trainers) t.dispose();
    }
  });
}

test('whole steps on two threads give the parameters of one thread', async () => {
  // q = 1 samples every record; noise 1e-9·C is far below the float32 precision of the update.
  const options: DpsgdOptions = {
    ...network,
    sampleRate: 1,
    sigma: 1e-9,
    optimizer: 'sgd',
    lr: 0.5,
    steps: 3,
    maxRows: 10,
  };
  const run = async (threads: number): Promise<Float32Array> => {
    const t = DpsgdTrainer.start({
      arch,
      data,
      options,
      recordNoise: keyedRecordNoise(4),
      threads,
    });
    try {
      const result = await t.run({ epsilonAfter: () => 1, beforeNoisyUpdate: async () => {} });
      assert.equal(result.stepsTaken, 3);
      assert.equal(t.threads, threads);
      return flat([...t.encoderWeights(), ...t.decoderWeights()]);
    } finally {
      t.dispose();
    }
  };
  const one = await run(1);
  const two = await run(2);
  const start = DpsgdTrainer.start({ arch, data, options });
  const initial = flat([...start.encoderWeights(), ...start.decoderWeights()]);
  start.dispose();
  // The steps moved the parameters, by the same amount in both.
  assert.ok(relativeGap(initial, one) > 1e-3);
  assert.ok(relativeGap(two, one) < 1e-5);
});

test("each thread's range of coordinates gets noise of standard deviation σ·C", async () => {
  // q·N ≈ 5e-5: the sample is empty, so one SGD step of rate 1 moves each
  // parameter by −noise/(q·N) alone.
  const options: DpsgdOptions = {
    ...network,
    sampleRate: 1e-6,
    sigma: 0.5,
    clip: 2,
    optimizer: 'sgd',
    lr: 1,
    steps: 1,
  };
  const t = DpsgdTrainer.start({ arch, data, options, threads: 2 });
  try {
    const before = flat([...t.encoderWeights(), ...t.decoderWeights()]);
    await t.run({ epsilonAfter: () => 1, beforeNoisyUpdate: async () => {} });
    assert.equal(t.lastBatchSize, 0);
    const after = flat([...t.encoderWeights(), ...t.decoderWeights()]);
    const qN = options.sampleRate * N;
    const d = before.length;
    for (const [from, to] of [
      [0, Math.floor(d / 2)],
      [Math.floor(d / 2), d],
    ] as const) {
      let s = 0;
      let s2 = 0;
      for (let i = from; i < to; i++) {
        const z = ((before[i] as number) - (after[i] as number)) * qN;
        s += z;
        s2 += z * z;
      }
      const n = to - from;
      const sd = Math.sqrt(s2 / n - (s / n) ** 2);
      // σ·C = 1; over ≥ 10 000 coordinates the sample sd is within 3 %.
      assert.ok(n > 10_000);
      assert.ok(Math.abs(sd - 1) < 0.03, `coordinates ${from}–${to}: sd ${sd}`);
      assert.ok(Math.abs(s / n) < 0.05, `coordinates ${from}–${to}: mean ${s / n}`);
    }
  } finally {
    t.dispose();
  }
});

const termwise: TermwiseOptions = {
  sampleRate: 0.5,
  sigma: 1,
  clip: 1,
  divergence: 'mmd-imq',
  divergenceWeight: 50,
  divergenceClip: 0.5,
  mode: 'termwise',
  batchCap: 100,
  lr: 1e-3,
  steps: 2,
  seed: 5,
  maxRows: 5,
};

for (const mode of ['termwise', 'naive'] as const) {
  test(`term-wise DP-SGD (${mode}): G₁ + G₂ is the same on one and two threads`, async () => {
    const records = Uint32Array.from([1, 4, 6, 7, 9, 15, 16, 20, 26, 31, 33, 39, 44, 46]);
    const prior = tf.tensor2d(
      Float32Array.from({ length: 64 * arch.latent }, (_, i) => Math.sin(i * 1.7)),
      [64, arch.latent],
    );
    const [one, two] = [1, 2].map((threads) =>
      TermwiseTrainer.start({
        arch,
        data,
        options: { ...termwise, mode },
        recordNoise: keyedRecordNoise(6),
        threads,
      }),
    ) as [TermwiseTrainer, TermwiseTrainer];
    try {
      const apart = await one.termSums(records, 2, prior);
      const together = await two.termSums(records, 2, prior, { apart: false });
      assert.equal(two.threads, 2);
      assert.equal(together.divergence, null);
      const reference = Float32Array.from(apart.perRecord);
      if (mode === 'termwise') {
        assert.ok(apart.divergence && apart.divergence.some((v) => v !== 0), 'no coupled term');
        apart.divergence.forEach((v, i) => (reference[i] = (reference[i] as number) + v));
      } else assert.equal(apart.divergence, null);
      assert.ok(relativeGap(together.perRecord, reference) < 1e-5);
    } finally {
      prior.dispose();
      one.dispose();
      two.dispose();
    }
  });
}

test("term-wise noise: the encoder's coordinates get both terms' noise, the decoder's the per-record term's", async () => {
  // An empty sample: one SGD step of rate 1 moves each parameter by −noise/(q·N) alone.
  const options: TermwiseOptions = {
    ...termwise,
    sampleRate: 1e-6,
    optimizer: 'sgd',
    lr: 1,
    steps: 1,
  };
  const t = TermwiseTrainer.start({ arch, data, options, threads: 2 });
  try {
    const before = flat(t.checkpoint().encoder);
    const beforeDec = flat(t.decoderWeights());
    await t.run({ epsilonAfter: () => 1, beforeNoisyUpdate: async () => {} });
    assert.equal(t.lastBatchSize, 0);
    const [g1, g2] = t.terms;
    assert.ok(g1 && g2, 'two randomised terms');
    const qN = options.sampleRate * N;
    const sdOf = (a: Float32Array, b: Float32Array): number => {
      let s2 = 0;
      for (let i = 0; i < a.length; i++) s2 += (((a[i] as number) - (b[i] as number)) * qN) ** 2;
      return Math.sqrt(s2 / a.length);
    };
    const encoderSd = sdOf(before, flat(t.checkpoint().encoder));
    const decoderSd = sdOf(beforeDec, flat(t.decoderWeights()));
    const std1 = g1.sigma * g1.sensitivity;
    const std2 = g2.sigma * g2.sensitivity;
    assert.ok(Math.abs(decoderSd / std1 - 1) < 0.05, `decoder sd ${decoderSd}, want ${std1}`);
    const both = Math.hypot(std1, std2);
    assert.ok(Math.abs(encoderSd / both - 1) < 0.05, `encoder sd ${encoderSd}, want ${both}`);
  } finally {
    t.dispose();
  }
});
