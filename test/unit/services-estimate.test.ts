/**
 * Duration estimates per method: a method's measured speed is its own (a
 * one-shot generator step is far slower per image than a DP-SGD step), and
 * before any run has measured one, each method's typical speed is used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeStore, openStore } from '../../src-main/store';
import { estimateDuration, relativeCost } from '../../src-main/services/estimate';
import { planStageWork, planWork } from '../../src-main/methods/registry';
import { estimateMemory, type MemoryEstimate } from '../../src-main/services/estimate-memory';
import {
  activationBytesPerRecord,
  MICRO_BATCH_BYTES,
  microBatchRows,
} from '../../src-main/engine/memory';
import {
  convArchitecture,
  defaultArchitecture,
  parseArchitecture,
} from '../../src-main/engine/architecture';
import { DPSGD_PRESETS, planArchitecture, resolveRunPlan } from '../../src-main/jobs/presets';
import { LiveRuns } from '../../src-main/services/live-runs';
import { tempHome } from './store/helpers';

test('measured rates are kept per method and stage; typical rates differ by method', (t) => {
  const store = openStore({ path: join(tempHome(t), 'dp2.sqlite') });
  t.after(() => closeStore(store));
  const live = new LiveRuns();
  const work = (method: string) => [{ method, stage: 'stage2' as const, samples: 60_000 }];
  const typicalMepf = estimateDuration(store, live, work('mepf'));
  const typicalDpsgd = estimateDuration(store, live, work('dpsgd'));
  assert.ok(
    typicalMepf.seconds > 2 * typicalDpsgd.seconds,
    JSON.stringify([typicalMepf, typicalDpsgd]),
  );
  assert.match(typicalMepf.basis, /typical speed/);

  const progress = (runId: number, samplesPerSecond: number) =>
    live.apply({
      runId,
      type: 'progress',
      stage: 'stage2',
      step: 5,
      totalSteps: 10,
      samplesPerSecond,
      etaSeconds: 1,
    });
  for (const [runId, method] of [
    [1, 'dpsgd'],
    [2, 'mepf'],
  ] as const) {
    live.apply({
      runId,
      type: 'backend',
      name: 'wasm',
      tried: [],
      memory: { rssBytes: 1, heapUsedBytes: 1, totalBytes: 1 },
    });
    live.apply({ runId, type: 'stage', stage: 'stage2', method });
  }
  progress(1, 3000);
  progress(2, 100);
  assert.equal(live.rate('dpsgd', 'stage2', 'wasm'), 3000);
  assert.equal(live.rate('mepf', 'stage2', 'wasm'), 100);
  assert.equal(live.rate('dp2vae', 'stage2', 'wasm'), null);
  const measured = estimateDuration(store, live, work('mepf'));
  assert.equal(measured.seconds, 600);
  assert.deepEqual(measured.stages, [{ stage: 'stage2', seconds: 600 }]);
  assert.match(measured.basis, /measured on this computer/);
  // The live figures a screen reads carry no method field (the contract's shape).
  assert.ok(!('method' in (live.get(2) ?? {})));
});

test('the memory estimate grows with the image size and matches a measured run at 64×64 grey', () => {
  const planFor = (method: string, n: number) =>
    resolveRunPlan({
      method,
      preset: 'quick',
      datasetSize: n,
      targetEpsilon: 10,
      delta: 1e-5,
    }).plan as unknown as Record<string, unknown>;
  const estimate = (method: string, size: number, channels: number, n = 4000) =>
    estimateMemory({
      method,
      plan: planFor(method, n),
      arch: planArchitecture('quick', { height: size, width: size, channels }, 2, method),
      images: Math.round(n * 1.5),
      trainCount: n,
    });
  for (const method of ['dpsgd', 'dp2vae', 'dp2vae-per-record', 'mepf']) {
    for (const series of [
      [
        [28, 1],
        [64, 1],
        [128, 1],
      ],
      [
        [32, 3],
        [64, 3],
        [128, 3],
      ],
    ]) {
      const peaks = series.map(([s, c]) => estimate(method, s as number, c as number).peakMb);
      for (let i = 1; i < peaks.length; i++) {
        assert.ok(peaks[i]! > peaks[i - 1]!, `${method}: ${peaks.join(' < ')} MB`);
      }
    }
  }
  // Measured (bench/hospital-64.ts, 2 steps): DP-SGD quick on 4 000 training and 1 902 test
  // images of 64×64×1, the worker's peak resident memory 893 MB (wasm, 2-core machine).
  const measured = estimateMemory({
    method: 'dpsgd',
    plan: planFor('dpsgd', 4000),
    arch: planArchitecture('quick', { height: 64, width: 64, channels: 1 }, 2, 'dpsgd'),
    images: 5902,
    trainCount: 4000,
  });
  assert.ok(measured.peakMb > 0.7 * 893 && measured.peakMb < 1.4 * 893, JSON.stringify(measured));
  assert.deepEqual(
    measured.parts.map((p) => p.name),
    ['runtime', 'model and optimiser', 'one batch', 'images'],
  );
  assert.equal(
    measured.peakMb,
    measured.parts.reduce((n, p) => n + p.mb, 0),
  );
});

test('the memory estimate counts the training threads, and matches measured runs on one and two', () => {
  // Measured (maximum resident set, `/usr/bin/time`): DP-SGD steps of q = 1 over 128 images of
  // 64×64×1 (conv model) and over 1 024 MNIST images (the presets' small model), wasm.
  const cases = [
    {
      arch: convArchitecture({ height: 64, width: 64, channels: 1 }, 10),
      count: 128,
      measured: [845, 1250],
    },
    {
      arch: parseArchitecture({ ...defaultArchitecture(), ...DPSGD_PRESETS.quick.mlp }),
      count: 1024,
      measured: [302, 498],
    },
  ];
  for (const { arch, count, measured } of cases) {
    const [one, two] = [1, 2].map((threads) =>
      estimateMemory({
        method: 'dpsgd',
        plan: { sampleRate: 1 },
        arch,
        images: count,
        trainCount: count,
        threads,
      }),
    ) as [MemoryEstimate, MemoryEstimate];
    assert.ok(two.peakMb > one.peakMb);
    assert.ok(two.parts.some((p) => p.name === 'training threads'));
    assert.ok(!one.parts.some((p) => p.name === 'training threads'));
    [one, two].forEach((e, i) => {
      const m = measured[i] as number;
      assert.ok(
        e.peakMb > 0.7 * m && e.peakMb < 1.4 * m,
        `${i + 1} thread(s): ${e.peakMb} MB, measured ${m}`,
      );
    });
  }
});

test('DP-SGD micro-batches shrink with the image size so one batch of per-example gradients stays within its budget', () => {
  for (const [size, channels] of [
    [28, 1],
    [32, 3],
    [64, 1],
    [128, 3],
  ] as const) {
    const arch = planArchitecture('quick', { height: size, width: size, channels }, 2, 'dpsgd');
    const rows = microBatchRows(arch, true);
    const per = activationBytesPerRecord(arch, { withEncoder: true, perExample: true });
    assert.ok(rows >= 8 && rows <= 512, `${size}: ${rows}`);
    assert.ok(rows === 8 || rows * per <= MICRO_BATCH_BYTES, `${size}: ${rows} × ${per}`);
  }
  const small = planArchitecture('quick', { height: 28, width: 28, channels: 1 }, 10, 'dpsgd');
  assert.equal(microBatchRows(small, true), 512, 'the MLP keeps the default');
  // A size's cost relative to the default model orders the time estimate.
  const costs = [32, 64, 128].map((s) =>
    relativeCost(planArchitecture('quick', { height: s, width: s, channels: 3 }, 2, 'dpsgd')),
  );
  assert.ok(costs[0]! < costs[1]! && costs[1]! < costs[2]!, costs.join(' < '));
});

test('importance samples multiply the work per image; other plans cost what their model does', () => {
  const plan = (overrides: Record<string, number>) =>
    resolveRunPlan({
      method: 'dp2vae-per-record',
      preset: 'quick',
      datasetSize: 60_000,
      targetEpsilon: 10,
      delta: 1e-5,
      overrides,
    }).plan;
  assert.equal(planWork(plan({ importanceSamples: 1 })), 1);
  assert.equal(planWork(plan({ importanceSamples: 4 })), 4);
  const dpsgd = resolveRunPlan({
    method: 'dpsgd',
    preset: 'quick',
    datasetSize: 60_000,
    targetEpsilon: 10,
    delta: 1e-5,
  }).plan;
  assert.equal(planWork(dpsgd), 1);
});

test('a private classifier is estimated from its own stages: the prior’s features, then a fast linear probe', async (t) => {
  const store = openStore({ path: join(tempHome(t), 'dp2.sqlite') });
  t.after(() => closeStore(store));
  const { plan } = resolveRunPlan({
    method: 'randp',
    preset: 'paper',
    datasetSize: 60_000,
    targetEpsilon: 1,
    delta: 1e-5,
  });
  const work = planStageWork(plan, 60_000);
  assert.deepEqual(
    work.map((w) => w.stage),
    ['stage1', 'stage2'],
  );
  assert.equal(work[0]?.samples, 60_000, 'one pass of the prior over the training images');
  const e = estimateDuration(
    store,
    new LiveRuns(),
    work.map((w) => ({ ...w, method: 'randp' })),
  );
  // `dp2 classify` on MNIST at ε = 1 (paper preset) took 1 min 44 s on the 2-core wasm machine.
  assert.ok(e.seconds > 40 && e.seconds < 300, JSON.stringify(e));
});
