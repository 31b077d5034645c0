/**
 * Data-parallel DP-SGD (engine/dpsgd-threads.ts, issue 24): images/s of the
 * app's DP-SGD trainer on one thread (the app before issue 24) and on the
 * threads it now uses, in the same process, alternating, so that a machine
 * whose speed drifts (shared cores) affects both alike. Each round times
 * one trainer of each; the speed-up is the median of the rounds' ratios.
 *
 * The machine's own ceiling for the same work, in the same rounds: as many
 * one-thread trainers as the app uses threads, side by side in separate
 * processes (this script with `--solo CASE`), their images/s added. Cores
 * that share caches, memory bandwidth or a physical core (SMT) slow each
 * other down, so this is what any data-parallel split could reach at best.
 *
 *   node --import tsx bench/train-threads.ts
 *   DP2_BENCH_ROUNDS=5 DP2_BENCH_SECONDS=8 DP2_BENCH_CASES=small node --import tsx bench/train-threads.ts
 *
 * Cases (the peer bench's, bench/peer-torch.ts): the small model of the
 * DP-SGD presets at batch 1024, and the convolutional model at 64×64 grey,
 * batch 128; q = 1 over exactly the batch, so every step holds it all.
 * And stage 1 of DP²-VAE (the non-private pre-training of the blocks'
 * encoders), whose groups of blocks are shared out over the threads.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  convArchitecture,
  defaultArchitecture,
  DpsgdTrainer,
  EncoderStore,
  parseArchitecture,
  partitionRecords,
  selectBackend,
  trainStage1,
  trainThreadCount,
  type Architecture,
  type EngineImages,
} from '../src-main/engine';
import { loadBundledMnist } from '../src-main/data/mnist';
import { DPSGD_PRESETS } from '../src-main/jobs/presets';

const ROUNDS = Number(process.env.DP2_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.DP2_BENCH_SECONDS ?? 6);
const WARM = 2;

interface Case {
  id: string;
  label: string;
  arch: Architecture;
  batch: number;
}

function cases(): Case[] {
  const small = DPSGD_PRESETS.quick.mlp;
  if (!small) throw new Error('The quick DP-SGD preset has no small model.');
  const all: Case[] = [
    {
      id: 'small',
      label: 'DP-SGD, small model, batch 1024',
      arch: parseArchitecture({ ...defaultArchitecture(), ...small }),
      batch: 1024,
    },
    {
      id: 'conv',
      label: 'DP-SGD, conv 64×64 grey, batch 128',
      arch: convArchitecture({ height: 64, width: 64, channels: 1 }, 10),
      batch: 128,
    },
  ];
  const want = process.env.DP2_BENCH_CASES?.split(',').map((s) => s.trim());
  return want ? all.filter((c) => want.includes(c.id)) : all;
}

/** MNIST at 28×28; a fixed pattern at other sizes (speed does not depend on the pixels). */
function images(arch: Architecture, count: number): EngineImages {
  const { height, width } = arch.image;
  if (height === 28 && width === 28) {
    const m = loadBundledMnist().train;
    return { x: m.x.subarray(0, count * 784), y: m.y.subarray(0, count), count, height, width };
  }
  const x = new Uint8Array(count * height * width);
  for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 256;
  const y = Uint8Array.from({ length: count }, (_, i) => i % arch.classes);
  return { x, y, count, height, width };
}

/**
 * Images/s of DP-SGD steps on `threads` threads, after WARM steps, for ≥
 * SECONDS; `ready` is awaited after the trainer is made, before its steps.
 */
async function imagesPerSecond(
  c: Case,
  data: EngineImages,
  threads: number,
  ready: () => Promise<void> = async () => {},
): Promise<number> {
  const trainer = DpsgdTrainer.start({
    arch: c.arch,
    data,
    options: { sampleRate: 1, sigma: 1, clip: 1, lr: 1e-3, steps: 1e9, seed: 2 },
    threads,
  });
  const stop = new AbortController();
  let t0 = 0;
  let images = 0;
  let steps = 0;
  let elapsed = 0;
  try {
    await ready();
    await trainer.run({
      epsilonAfter: () => 1,
      beforeNoisyUpdate: async () => {},
      onStep: (r) => {
        if (r.step === WARM) t0 = performance.now();
        else if (r.step > WARM) {
          steps++;
          images += r.batchSize;
          elapsed = (performance.now() - t0) / 1000;
          if (elapsed >= SECONDS && steps >= 3) stop.abort();
        }
      },
      signal: stop.signal,
    });
    if (trainer.threads !== threads)
      throw new Error(`${threads} threads asked, ${trainer.threads} ran`);
  } finally {
    trainer.dispose();
  }
  return images / elapsed;
}

/**
 * `n` one-thread trainers side by side: this process and n − 1 others
 * (`--solo`), started together once every one is ready; their images/s added.
 */
async function sideBySide(c: Case, data: EngineImages, n: number): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  const children = Array.from({ length: n - 1 }, () =>
    spawn(process.execPath, [...process.execArgv, script, '--solo', c.id], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, DP2_TRAIN_THREADS: '1' },
    }),
  );
  const lines = children.map((ch) => createInterface({ input: ch.stdout })[Symbol.asyncIterator]());
  const next = async (i: number): Promise<string> => {
    const r = await (lines[i] as AsyncIterator<string>).next();
    if (r.done) throw new Error('a side-by-side trainer ended early');
    return r.value;
  };
  const own = await imagesPerSecond(c, data, 1, async () => {
    for (let i = 0; i < children.length; i++) if ((await next(i)) !== 'ready') throw new Error('?');
    for (const ch of children) ch.stdin.write('go\n');
  });
  let total = own;
  for (let i = 0; i < children.length; i++) total += Number(await next(i));
  return total;
}

/** `--solo CASE`: one one-thread trainer that says "ready", waits for "go", then prints its images/s. */
async function solo(id: string): Promise<void> {
  await selectBackend();
  const c = cases().find((k) => k.id === id);
  if (!c) throw new Error(`No case ${id}.`);
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const rate = await imagesPerSecond(c, images(c.arch, c.batch), 1, async () => {
    process.stdout.write('ready\n');
    await input.next();
  });
  process.stdout.write(`${rate}\n`);
  process.exit(0);
}

/**
 * Stage 1 of DP²-VAE (engine/stage1.ts): images/s of `trainStage1` over
 * STAGE1_BLOCKS blocks of MNIST in groups of STAGE1_GROUP on `threads`
 * threads (each block-step is one batch of `batchSize` images).
 */
const STAGE1_BLOCKS = 8;
const STAGE1_GROUP = 2;
async function stage1ImagesPerSecond(threads: number): Promise<number> {
  const arch = defaultArchitecture();
  const count = 8000;
  const data = images(arch, count);
  const partition = partitionRecords(count, STAGE1_BLOCKS, 1);
  const dir = await mkdtemp(join(tmpdir(), 'dp2-bench-stage1-'));
  // Long enough that starting the threads (about a second) weighs little, as in a real stage 1.
  const steps = Math.max(4, Math.round(SECONDS * 8));
  const batchSize = 64;
  try {
    const store = await EncoderStore.open(dir, arch, STAGE1_BLOCKS);
    const t0 = performance.now();
    await trainStage1({
      arch,
      data,
      partition,
      store,
      options: { seed: 1, steps, batchSize, lr: 1e-3, clip: 1, groupSize: STAGE1_GROUP },
      threads,
    });
    return (STAGE1_BLOCKS * steps * batchSize) / ((performance.now() - t0) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const sel = await selectBackend();
  const threads = trainThreadCount({ backend: sel.name });
  console.log(
    `Training threads bench — tfjs '${sel.name}', ${threads} threads against 1; ${ROUNDS} rounds of ≥ ${SECONDS} s each; load ${load()}`,
  );
  if (threads < 2) {
    console.log('One thread on this machine or backend: nothing to compare.');
    return;
  }
  const rows: string[] = [];
  for (const c of cases()) {
    const data = images(c.arch, c.batch);
    const one: number[] = [];
    const many: number[] = [];
    const apart: number[] = [];
    const before = load();
    for (let r = 0; r < ROUNDS; r++) {
      one.push(await imagesPerSecond(c, data, 1));
      many.push(await imagesPerSecond(c, data, threads));
      apart.push(await sideBySide(c, data, threads));
      const x = (v: number[]): string => ((v[r] as number) / (one[r] as number)).toFixed(2);
      console.log(
        `${c.label}, round ${r + 1}: 1 thread ${one[r]?.toFixed(1)} img/s; ${threads} threads ${many[r]?.toFixed(1)} img/s (${x(many)}×); ${threads} one-thread trainers side by side ${apart[r]?.toFixed(1)} img/s in all (${x(apart)}×)`,
      );
    }
    const ratio = (v: number[]): string => {
      const rs = v.map((m, i) => m / (one[i] as number));
      return `${median(rs).toFixed(2)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
    };
    rows.push(
      `| ${c.label} | ${median(one).toFixed(1)} | ${median(many).toFixed(1)} | ${ratio(many)} | ${ratio(apart)} | ${before} → ${load()} |`,
    );
  }
  if (!process.env.DP2_BENCH_CASES || process.env.DP2_BENCH_CASES.includes('stage1')) {
    const label = `DP²-VAE stage 1, default CVAE, ${STAGE1_BLOCKS} blocks in groups of ${STAGE1_GROUP}, batch 64`;
    const one: number[] = [];
    const many: number[] = [];
    const before = load();
    for (let r = 0; r < ROUNDS; r++) {
      one.push(await stage1ImagesPerSecond(1));
      many.push(await stage1ImagesPerSecond(threads));
      console.log(
        `${label}, round ${r + 1}: 1 thread ${one[r]?.toFixed(1)} img/s; ${threads} threads ${many[r]?.toFixed(1)} img/s (${((many[r] as number) / (one[r] as number)).toFixed(2)}×)`,
      );
    }
    const rs = many.map((m, i) => m / (one[i] as number));
    rows.push(
      `| ${label} | ${median(one).toFixed(1)} | ${median(many).toFixed(1)} | ${median(rs).toFixed(2)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}) | — | ${before} → ${load()} |`,
    );
  }
  console.log(
    `\n| case | 1 thread, img/s (median) | ${threads} threads, img/s (median) | speed-up (median, range) | ${threads} trainers side by side (the ceiling) | load average |`,
  );
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(r);
}

const soloAt = process.argv.indexOf('--solo');
(soloAt >= 0 ? solo(process.argv[soloAt + 1] ?? '') : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
