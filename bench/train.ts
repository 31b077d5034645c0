/**
 * Training throughput of DP²-VAE's two stages for the default model (MNIST,
 * Appendix B.1 CVAE) at K = 100 and K = 2500 blocks, and of DP-SGD on the
 * whole CVAE (Poisson sampling, per-example clipping by the norm trick) for
 * the default model and the DP-SGD presets' small one, on every backend that
 * loads here. Each (backend, K) runs in its own child process so its peak RSS
 * is its own. Short runs: stage 1 trains a sample of blocks for a few steps
 * and the full stage-1 time is extrapolated (printed as such); stage 2 runs a
 * few dozen steps on a full store of K encoders on disk.
 *
 *   node --import tsx bench/train.ts
 *   DP2_BENCH_BACKENDS=wasm DP2_BENCH_K=100 node --import tsx bench/train.ts
 *   DP2_BENCH_METHODS=dpsgd DP2_BENCH_BACKENDS=wasm node --import tsx bench/train.ts
 *
 * Prints figures only; never fails on a time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundledMnist } from '../src-main/data/mnist';
import {
  defaultArchitecture,
  defaultGroupSize,
  DpsgdTrainer,
  parameterCount,
  parseArchitecture,
  EncoderStore,
  largestBlock,
  partitionRecords,
  SecureGaussian,
  selectBackend,
  Stage2Trainer,
  trainStage1,
  type BackendName,
} from '../src-main/engine';
import { blockRecords } from '../src-main/engine/partition';
import { DPSGD_PRESETS } from '../src-main/jobs/presets';

interface ChildResult {
  backend: string;
  K: number;
  ok: boolean;
  error?: string;
  stage1?: {
    setupS: number;
    blocks: number;
    steps: number;
    groupSize: number;
    samplesPerS: number;
    fullStepsPerBlock: number;
    fullHours: number;
  };
  fill?: { seconds: number; gb: number };
  stage2?: { steps: number; batch: number; samplesPerS: number; msPerStep: number };
  noiseMsPerStep?: number;
  peakRssMb?: number;
}

const EPOCHS = 20;
const BATCH = 64;

async function child(backend: BackendName, K: number): Promise<ChildResult> {
  const sel = await selectBackend({ env: { DP2_BACKEND: backend } });
  const slow = sel.name === 'cpu';
  const arch = defaultArchitecture();
  const m = loadBundledMnist().train;
  const data = { x: m.x, y: m.y, count: m.count, height: m.height, width: m.width };
  const partition = partitionRecords(data.count, K, 1);
  const dir = await mkdtemp(join(tmpdir(), `dp2-bench-${backend}-${K}-`));
  try {
    const store = await EncoderStore.open(dir, arch, K);
    const rows = Math.min(BATCH, largestBlock(partition));
    // Stage 1: one group of blocks (the default group size), a few steps.
    // Timed from the end of the first step (warm-up: wasm heap growth, kernel set-up).
    const benchSteps = slow ? 3 : 5;
    const groupSize = defaultGroupSize(arch, rows, 1 << 30);
    const sample = Array.from({ length: Math.min(K, groupSize) }, (_, k) => k);
    let t0 = 0;
    const tStart = performance.now();
    await trainStage1({
      arch,
      data,
      partition,
      store,
      options: { seed: 1, steps: benchSteps, batchSize: BATCH, only: sample },
      onProgress: (p) => {
        if (p.step === 1) t0 = performance.now();
      },
    });
    const groupSetupS = (t0 - tStart) / 1000;
    const s1 = (performance.now() - t0) / 1000;
    const rowsOf = (k: number): number => Math.min(BATCH, blockRecords(partition, k).length);
    const sampleSamples = sample.reduce((n, k) => n + rowsOf(k), 0) * (benchSteps - 1);
    const s1Rate = sampleSamples / s1;
    const fullSteps = Math.ceil((EPOCHS * largestBlock(partition)) / rows);
    let fullSamples = 0;
    for (let k = 0; k < K; k++) fullSamples += rowsOf(k) * fullSteps;
    // The other encoders: copies of a trained one (contents do not change the cost of stage 2).
    const t1 = performance.now();
    const params = (await store.load(0)).params;
    for (let k = 0; k < K; k++) if (!store.has(k)) await store.writeTrained(k, params);
    const fillS = (performance.now() - t1) / 1000;
    // Stage 2.
    const steps = slow ? 8 : 33;
    const trainer = await Stage2Trainer.start({
      arch,
      data,
      partition,
      store,
      options: { sigma: 1, clip: 1, batchSize: BATCH, lr: 1e-3, steps, blocks: K, seed: 2 },
    });
    const warm = 3;
    let t2 = 0;
    await trainer.run({
      epsilonAfter: (s) => s,
      beforeNoisyUpdate: async () => {},
      onStep: (r) => {
        if (r.step === warm) t2 = performance.now();
      },
    });
    const s2 = (performance.now() - t2) / 1000;
    trainer.dispose();
    const noise = new SecureGaussian();
    const vec = new Float32Array(538_640);
    const t3 = performance.now();
    for (let i = 0; i < 10; i++) noise.fill(vec, 1);
    return {
      backend: sel.name,
      K,
      ok: true,
      stage1: {
        setupS: groupSetupS,
        blocks: sample.length,
        steps: benchSteps,
        groupSize,
        samplesPerS: s1Rate,
        fullStepsPerBlock: fullSteps,
        fullHours: fullSamples / s1Rate / 3600,
      },
      fill: { seconds: fillS, gb: (K * params.byteLength) / 1e9 },
      stage2: {
        steps,
        batch: rows,
        samplesPerS: (steps * rows) / s2,
        msPerStep: (1000 * s2) / steps,
      },
      noiseMsPerStep: (performance.now() - t3) / 10,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface DpsgdResult {
  backend: string;
  model: string;
  ok: boolean;
  error?: string;
  params?: number;
  batch?: number;
  steps?: number;
  samplesPerS?: number;
  msPerStep?: number;
  peakRssMb?: number;
}

/** DP-SGD steps on the full MNIST train split: Poisson batches of expected size `batch`. */
async function childDpsgd(
  backend: BackendName,
  model: string,
  batch: number,
): Promise<DpsgdResult> {
  const sel = await selectBackend({ env: { DP2_BACKEND: backend } });
  const base = defaultArchitecture();
  const small = DPSGD_PRESETS.quick.mlp;
  const arch = parseArchitecture(model === 'small' && small ? { ...base, ...small } : base);
  const m = loadBundledMnist().train;
  const data = { x: m.x, y: m.y, count: m.count, height: m.height, width: m.width };
  const slow = sel.name === 'cpu';
  const steps = slow ? 4 : 14;
  const warm = 2;
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { sampleRate: batch / data.count, sigma: 1, clip: 1, lr: 1e-3, steps, seed: 2 },
  });
  let t0 = 0;
  let samples = 0;
  await trainer.run({
    epsilonAfter: (s) => s,
    beforeNoisyUpdate: async () => {},
    onStep: (r) => {
      if (r.step === warm) t0 = performance.now();
      else if (r.step > warm) samples += r.batchSize;
    },
  });
  const s = (performance.now() - t0) / 1000;
  trainer.dispose();
  return {
    backend: sel.name,
    model,
    ok: true,
    params: parameterCount(arch, 'encoder') + parameterCount(arch, 'decoder'),
    batch,
    steps: steps - warm,
    samplesPerS: samples / s,
    msPerStep: (1000 * s) / (steps - warm),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

function runChild(args: string[]): {
  line: string | undefined;
  stderr: string;
  status: number | null;
} {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DP2_BACKEND: undefined },
    maxBuffer: 1 << 24,
  });
  return {
    line: r.stdout.split('\n').find((l) => l.startsWith('{"backend"')),
    stderr: r.stderr,
    status: r.status,
  };
}

function parentDpsgd(backends: string[]): void {
  console.log(
    '\nDP-SGD training bench — whole CVAE (encoder + decoder), MNIST 60 000, Poisson sampling, σ = 1, C = 1, Adam',
  );
  for (const backend of backends) {
    for (const [model, batch] of [
      ['default', 256],
      ['default', 1024],
      ['small', 1024],
    ] as const) {
      const r = runChild(['--child-dpsgd', backend, model, String(batch)]);
      const res = r.line ? (JSON.parse(r.line) as DpsgdResult) : undefined;
      if (!res || !res.ok) {
        const why = res?.error ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
        console.log(`[${backend}] DP-SGD ${model}: not measured — ${why}`);
        if (!res && backend.startsWith('tensorflow')) break;
        continue;
      }
      console.log(
        `[${res.backend}] DP-SGD ${model} model (${res.params} parameters), expected batch ${res.batch}: ` +
          `${res.samplesPerS!.toFixed(0)} samples/s (${res.msPerStep!.toFixed(0)} ms/step over ${res.steps} steps after warm-up), peak RSS ${res.peakRssMb!.toFixed(0)} MB`,
      );
    }
  }
}

function parent(): void {
  const backends = (process.env.DP2_BENCH_BACKENDS ?? 'tensorflow-gpu,tensorflow,wasm,cpu').split(
    ',',
  );
  const ks = (process.env.DP2_BENCH_K ?? '100,2500').split(',').map(Number);
  const methods = (process.env.DP2_BENCH_METHODS ?? 'dp2vae,dpsgd').split(',');
  const self = fileURLToPath(import.meta.url);
  if (!methods.includes('dp2vae')) {
    parentDpsgd(backends);
    return;
  }
  console.log(
    'DP²-VAE training bench — default CVAE (538 640 decoder / 542 480 encoder parameters), MNIST 60 000',
  );
  console.log(
    `stage 1: Adam, B = ${BATCH}, ${EPOCHS} epochs per block; stage 2: B = ${BATCH}, Adam, σ = 1, C = 1`,
  );
  for (const backend of backends) {
    for (const K of ks) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', self, '--child', backend, String(K)],
        {
          encoding: 'utf8',
          env: { ...process.env, DP2_BACKEND: undefined },
          maxBuffer: 1 << 24,
        },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('{"backend"'));
      const res = line ? (JSON.parse(line) as ChildResult) : undefined;
      if (!res || !res.ok) {
        const why = res?.error ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
        console.log(`\n[${backend}] K = ${K}: not measured — ${why}`);
        if (!res && backend.startsWith('tensorflow')) break;
        continue;
      }
      const s1 = res.stage1!;
      const s2 = res.stage2!;
      console.log(`\n[${res.backend}] K = ${K}`);
      console.log(
        `  stage 1: ${s1.samplesPerS.toFixed(0)} samples/s (measured on ${s1.blocks} of ${K} blocks, steps 2–${s1.steps}, ` +
          `one batched group of G = ${s1.groupSize}); full stage 1 (${s1.fullStepsPerBlock} steps/block) ` +
          `extrapolated: ${s1.fullHours.toFixed(2)} h (first group's set-up and first step, once per process: ${s1.setupS.toFixed(1)} s)`,
      );
      console.log(
        `  encoders on disk: ${res.fill!.gb.toFixed(2)} GB written in ${res.fill!.seconds.toFixed(1)} s`,
      );
      console.log(
        `  stage 2: ${s2.samplesPerS.toFixed(0)} samples/s (${s2.msPerStep.toFixed(0)} ms/step, batch ${s2.batch}, ${s2.steps} steps after 3 warm-up)`,
      );
      console.log(`  secure noise: ${res.noiseMsPerStep!.toFixed(1)} ms per 538 640 values`);
      console.log(`  peak RSS: ${res.peakRssMb!.toFixed(0)} MB`);
    }
  }
  if (methods.includes('dpsgd')) parentDpsgd(backends);
}

const args = process.argv.slice(2);
if (args[0] === '--child-dpsgd') {
  const backend = args[1] as BackendName;
  const model = args[2] ?? 'default';
  childDpsgd(backend, model, Number(args[3] ?? 256))
    .then((r) => console.log(JSON.stringify(r)))
    .catch((err: unknown) =>
      console.log(
        JSON.stringify({
          backend,
          model,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        }),
      ),
    );
} else if (args[0] === '--child') {
  const backend = args[1] as BackendName;
  const K = Number(args[2]);
  child(backend, K)
    .then((r) => console.log(JSON.stringify(r)))
    .catch((err: unknown) =>
      console.log(
        JSON.stringify({
          backend,
          K,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        }),
      ),
    );
} else {
  parent();
}
