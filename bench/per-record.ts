/**
 * Throughput of DP²-VAE with per-record encoders against DP-SGD on the same
 * decoder (the app's small model: decoder 18→128→256→784; DP-SGD adds its
 * encoder 794→256→128→32), MNIST, expected batch 1024, one process, the
 * wasm backend unless DP2_BENCH_BACKEND names another. Per-record encoders
 * pay for their refinement steps (one decoder pass forward and back per
 * step); they save DP-SGD's encoder. Steady state: every record already
 * visited (the presets' refinement steps per visit, and 3 for comparison);
 * the first pass, where each record gets its warm start, is timed on its own.
 *
 *   node --import tsx bench/per-record.ts
 *
 * Prints figures only; never fails on a time.
 */
import { loadBundledMnist } from '../src-main/data/mnist';
import {
  defaultArchitecture,
  DpsgdTrainer,
  parseArchitecture,
  selectBackend,
  type BackendName,
  type DpsgdOptions,
} from '../src-main/engine';
import { PER_RECORD_PRESETS } from '../src-main/methods/dp2vae-per-record/presets';

const STEPS = Number(process.env.DP2_BENCH_STEPS ?? 30);
const backend = await selectBackend({
  prefer: (process.env.DP2_BENCH_BACKEND ?? 'wasm') as BackendName,
});
const m = loadBundledMnist().train;
const data = { x: m.x, y: m.y, count: m.count, height: 28, width: 28 };
const preset = PER_RECORD_PRESETS.paper;
const arch = parseArchitecture({ ...defaultArchitecture(), ...preset.mlp });
const base: DpsgdOptions = {
  sampleRate: preset.expectedBatch / data.count,
  sigma: 0.733,
  clip: 1,
  lr: preset.lr,
  steps: STEPS,
  seed: 1,
  lrSchedule: 'cosine',
};
const refine = {
  steps: preset.refineSteps,
  firstVisitSteps: preset.refineFirstSteps,
  lr: preset.refineLr,
};

async function timeSteps(
  trainer: DpsgdTrainer,
): Promise<{ samplesPerS: number; msPerStep: number }> {
  let rows = 0;
  const t0 = performance.now();
  await trainer.run({
    epsilonAfter: () => 0,
    beforeNoisyUpdate: async () => {},
    onStep: (r) => {
      rows += r.batchSize;
    },
  });
  const ms = performance.now() - t0;
  trainer.dispose();
  return { samplesPerS: (rows / ms) * 1000, msPerStep: ms / STEPS };
}

const dpsgd = await timeSteps(DpsgdTrainer.start({ arch, data, options: base }));
const warm = DpsgdTrainer.start({
  arch,
  data,
  options: { ...base, encoders: 'per-record', refine },
});
warm.posteriorTable()?.visits.fill(1);
const steady = await timeSteps(warm);
const warm3 = DpsgdTrainer.start({
  arch,
  data,
  options: { ...base, encoders: 'per-record', refine: { ...refine, steps: 3 } },
});
warm3.posteriorTable()?.visits.fill(1);
const steady3 = await timeSteps(warm3);
/** Steady state with K importance samples per image (the IWAE lever, engine/importance.ts). */
async function steadyWithSamples(samples: number) {
  const t = DpsgdTrainer.start({
    arch,
    data,
    options: { ...base, encoders: 'per-record', refine: { ...refine, samples } },
  });
  t.posteriorTable()?.visits.fill(1);
  return timeSteps(t);
}
const samples = [2, 4];
const withSamples: { samplesPerS: number; msPerStep: number }[] = [];
for (const k of samples) withSamples.push(await steadyWithSamples(k));
const first = await timeSteps(
  DpsgdTrainer.start({ arch, data, options: { ...base, encoders: 'per-record', refine } }),
);
const f = (x: number): string => x.toFixed(0);
console.log(`backend ${backend.name}; expected batch ${preset.expectedBatch}; ${STEPS} steps each`);
console.log(
  `DP-SGD (encoder network):               ${f(dpsgd.samplesPerS)} images/s, ${f(dpsgd.msPerStep)} ms/step`,
);
console.log(
  `per-record, steady (${refine.steps} refinement steps):  ${f(steady.samplesPerS)} images/s, ${f(steady.msPerStep)} ms/step, ${(dpsgd.samplesPerS / steady.samplesPerS).toFixed(2)}× DP-SGD's time`,
);
console.log(
  `per-record, steady (3 refinement steps):  ${f(steady3.samplesPerS)} images/s, ${f(steady3.msPerStep)} ms/step, ${(dpsgd.samplesPerS / steady3.samplesPerS).toFixed(2)}× DP-SGD's time`,
);
console.log(
  `per-record, first pass (${refine.firstVisitSteps} steps):      ${f(first.samplesPerS)} images/s, ${(dpsgd.samplesPerS / first.samplesPerS).toFixed(2)}× DP-SGD's time`,
);
samples.forEach((k, i) => {
  const r = withSamples[i] as (typeof withSamples)[number];
  console.log(
    `per-record, steady, ${k} importance samples: ${f(r.samplesPerS)} images/s, ${f(r.msPerStep)} ms/step, ${(dpsgd.samplesPerS / r.samplesPerS).toFixed(2)}× DP-SGD's time`,
  );
});
