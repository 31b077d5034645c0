/**
 * The app against PyTorch on the same work, in one run: the same model,
 * batch and clipping, images/s for both and the ratio app/peer.
 *
 * Cases (issue 24):
 *   a. the default CVAE's non-private step (stage 1 of DP²-VAE: batch-mean
 *      −ELBO, batch gradient clipped to C = 1, Adam), batch 64 and 256;
 *   b. DP-SGD on the DP-SGD presets' small model (per-example clipping C = 1,
 *      Gaussian noise σ = 1, Adam), a fixed batch of 1024 (the presets'
 *      expected batch; q = 1 over 1024 records so every step holds exactly
 *      1024 records on both sides);
 *   c. DP-SGD on the 64×64 grey convolutional model, batch 128.
 *
 * The app side calls the engine itself (trainStage1 for (a), DpsgdTrainer for
 * (b) and (c): batch building, per-record ε, clipping, secure noise, Adam),
 * on the backend the app selects. The peer is bench/peer/torch_steps.py with
 * Debian's python3-torch on the CPU, os.cpu_count() threads; per-example
 * gradients by vmap(grad) and by ghost clipping (the app's own algorithm:
 * norms of dense layers from their inputs and output gradients, per-example
 * weights of the convolutions from unfolded patches; checked equal to vmap),
 * each at os.cpu_count() threads and at one; the fastest sets the ratio. When torch is missing the bench installs
 * `python3-torch` with apt-get (and `libopenblas0-pthread`: without it
 * Debian's torch uses the reference BLAS, ≈ 10× slower), and says so. PyTorch
 * is a bench tool only, never a dependency of the app.
 *
 * After the table, where one DP-SGD step's time goes in the app (small and
 * 64-px models): batch, forward, backward, per-example weight gradients,
 * norms, clipped sum, read-back, noise, optimiser (tf.profile kernel times).
 *
 *   node --import tsx bench/peer-torch.ts
 *   DP2_PEER_SECONDS=10 DP2_PEER_CASES=b,c DP2_PEER_PROFILE=0 node --import tsx bench/peer-torch.ts
 *
 * Prints figures only; never fails on a time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../src-main/data/mnist';
import {
  convArchitecture,
  defaultArchitecture,
  DpsgdTrainer,
  trainThreadCount,
  EncoderStore,
  parameterCount,
  parseArchitecture,
  partitionRecords,
  SecureGaussian,
  selectBackend,
  trainStage1,
  type Architecture,
  type EngineImages,
} from '../src-main/engine';
import { clippedSum } from '../src-main/engine/dpsgd-clip';
import { microBatchRows } from '../src-main/engine/memory';
import { initOptimizer, optimizerStep, disposeOptimizer } from '../src-main/engine/optim';
import { disposeAll, initParams } from '../src-main/engine/params';
import { DPSGD_PRESETS } from '../src-main/jobs/presets';

const SECONDS = Number(process.env.DP2_PEER_SECONDS ?? 5);
const WARM = 2;
const CLIP = 1;
const SIGMA = 1;
const LR = 1e-3;
const HERE = dirname(fileURLToPath(import.meta.url));
const PEER_SCRIPT = join(HERE, 'peer', 'torch_steps.py');
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';

interface Case {
  id: string;
  label: string;
  arch: Architecture;
  mode: 'train' | 'dpsgd';
  batch: number;
  /** Per-example gradient methods tried on the PyTorch side. */
  peers: ('vmap' | 'ghost')[];
}

interface PeerResult {
  ok: boolean;
  torch?: string;
  threads?: number;
  encoderParams?: number;
  decoderParams?: number;
  steps?: number;
  imagesPerS?: number;
  msPerStep?: number;
  error?: string;
}

interface AppResult {
  steps: number;
  imagesPerS: number;
  msPerStep: number;
}

function smallArchitecture(): Architecture {
  const small = DPSGD_PRESETS.quick.mlp;
  if (!small) throw new Error('The quick DP-SGD preset has no small model.');
  return parseArchitecture({ ...defaultArchitecture(), ...small });
}

function cases(): Case[] {
  const all: Case[] = [
    {
      id: 'a64',
      label: 'a. default CVAE, non-private step, batch 64',
      arch: defaultArchitecture(),
      mode: 'train',
      batch: 64,
      peers: ['vmap'],
    },
    {
      id: 'a256',
      label: 'a. default CVAE, non-private step, batch 256',
      arch: defaultArchitecture(),
      mode: 'train',
      batch: 256,
      peers: ['vmap'],
    },
    {
      id: 'b',
      label: 'b. DP-SGD, small model, batch 1024',
      arch: smallArchitecture(),
      mode: 'dpsgd',
      batch: 1024,
      peers: ['ghost', 'vmap'],
    },
    {
      id: 'c',
      label: 'c. DP-SGD, conv 64×64 grey, batch 128',
      arch: convArchitecture({ height: 64, width: 64, channels: 1 }, 10),
      mode: 'dpsgd',
      batch: 128,
      peers: ['ghost', 'vmap'],
    },
  ];
  const want = process.env.DP2_PEER_CASES?.split(',').map((s) => s.trim());
  return want ? all.filter((c) => want.some((w) => c.id.startsWith(w))) : all;
}

function load(): string {
  return loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
}

/** Debian's python3 (the one python3-torch installs into) when present. */
function pythonPath(): string {
  if (process.env.DP2_PEER_PYTHON) return process.env.DP2_PEER_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function aptInstall(packages: string[], why: string): void {
  console.log(`${why}: installing ${packages.join(' ')} with apt-get (for this bench only).`);
  const r = spawnSync('apt-get', ['install', '-y', ...packages], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) console.log(`apt-get could not be run (${r.error.message}); install them by hand.`);
  else if (r.status !== 0)
    console.log(`apt-get install ${packages.join(' ')} failed (exit ${r.status}).`);
}

/** Makes sure PyTorch (Debian's python3-torch) and a fast BLAS are there; false when not. */
function ensureTorch(python: string): boolean {
  const hasTorch = (): boolean =>
    spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (!hasTorch()) aptInstall(['python3-torch'], 'PyTorch is missing');
  // Debian's torch multiplies through the system's libblas.so.3 (BLAS_INFO=generic).
  const config = spawnSync(python, ['-c', 'import torch; print(torch.__config__.show())'], {
    encoding: 'utf8',
  });
  const genericBlas = (config.stdout ?? '').includes('BLAS_INFO=generic');
  if (genericBlas && process.platform === 'linux' && !existsSync(OPENBLAS)) {
    aptInstall(
      ['libopenblas0-pthread'],
      "Debian's torch uses the reference BLAS without OpenBLAS (about 10× slower products)",
    );
  }
  return hasTorch();
}

function runPeer(
  python: string,
  c: Case,
  perExample: 'vmap' | 'ghost',
  threads: number,
): PeerResult {
  const r = spawnSync(
    python,
    [
      PEER_SCRIPT,
      '--arch',
      JSON.stringify(c.arch),
      '--mode',
      c.mode,
      '--per-example',
      perExample,
      '--batch',
      String(c.batch),
      '--seconds',
      String(SECONDS),
      '--warmup',
      String(WARM),
      '--clip',
      String(CLIP),
      '--sigma',
      String(SIGMA),
      '--lr',
      String(LR),
      '--threads',
      String(threads),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      // torch's own threads and OpenBLAS's: the same number, not both.
      env: {
        ...process.env,
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
      },
    },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) {
    return { ok: false, error: r.stderr.trim().split('\n').pop() || `exit ${r.status}` };
  }
  return JSON.parse(line) as PeerResult;
}

/** Uint8 images for the 64-px case (the content does not change a step's cost). */
function syntheticImages(arch: Architecture, count: number): EngineImages {
  const { height, width, channels } = arch.image;
  const x = new Uint8Array(count * height * width * channels);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = s >>> 24;
  }
  const y = Uint8Array.from({ length: count }, (_, i) => i % arch.classes);
  return { x, y, count, height, width, channels };
}

function imagesFor(arch: Architecture, count: number): EngineImages {
  if (arch.image.height !== 28) return syntheticImages(arch, count);
  const m = loadBundledMnist().train;
  const n = Math.min(count, m.count);
  return {
    x: m.x.subarray(0, n * 784),
    y: m.y.subarray(0, n),
    count: n,
    height: 28,
    width: 28,
  };
}

/** A timing window: starts after WARM steps, ends after ≥ SECONDS and ≥ 3 steps. */
class Window {
  private t0 = 0;
  private steps = 0;
  private images = 0;
  elapsed = 0;
  constructor(private readonly stop: AbortController) {}
  step(n: number, images: number): void {
    if (n === WARM) this.t0 = performance.now();
    else if (n > WARM) {
      this.steps++;
      this.images += images;
      this.elapsed = (performance.now() - this.t0) / 1000;
      if (this.elapsed >= SECONDS && this.steps >= 3) this.stop.abort();
    }
  }
  result(): AppResult {
    return {
      steps: this.steps,
      imagesPerS: this.images / this.elapsed,
      msPerStep: (1000 * this.elapsed) / this.steps,
    };
  }
}

/** (a): stage 1 of DP²-VAE on one block holding the whole MNIST train split, G = 1. */
async function appTrain(c: Case): Promise<AppResult> {
  const data = imagesFor(c.arch, 60_000);
  const partition = partitionRecords(data.count, 1, 1);
  const dir = await mkdtemp(join(tmpdir(), 'dp2-peer-'));
  try {
    const store = await EncoderStore.open(dir, c.arch, 1);
    const stop = new AbortController();
    const w = new Window(stop);
    await trainStage1({
      arch: c.arch,
      data,
      partition,
      store,
      options: { seed: 1, steps: 1e9, batchSize: c.batch, lr: LR, clip: CLIP, groupSize: 1 },
      onProgress: (p) => w.step(p.step, c.batch),
      signal: stop.signal,
    });
    return w.result();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** (b), (c): DP-SGD steps of the app's trainer on `threads` threads, q = 1 over exactly `batch` records. */
async function appDpsgd(c: Case, threads: number): Promise<AppResult> {
  const data = imagesFor(c.arch, c.batch);
  const trainer = DpsgdTrainer.start({
    arch: c.arch,
    data,
    options: { sampleRate: 1, sigma: SIGMA, clip: CLIP, lr: LR, steps: 1e9, seed: 2 },
    threads,
  });
  try {
    const stop = new AbortController();
    const w = new Window(stop);
    await trainer.run({
      epsilonAfter: (s) => s,
      beforeNoisyUpdate: async () => {},
      onStep: (r) => w.step(r.step, r.batchSize),
      signal: stop.signal,
    });
    return w.result();
  } finally {
    trainer.dispose();
  }
}

interface Row {
  c: Case;
  params: number;
  /** The app as it trains (DP-SGD: on its threads, engine/dpsgd-threads.ts). */
  app: AppResult;
  /** DP-SGD on one thread (the app before issue 24), for the speed-up. */
  app1?: AppResult;
  threads: number;
  peer: { method: string; r: PeerResult }[];
  load: string;
}

function fmt(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

async function table(backend: string): Promise<void> {
  const python = pythonPath();
  const torchOk = ensureTorch(python);
  if (!torchOk) console.log('PyTorch could not be loaded: the peer column stays empty.');
  if (torchOk) {
    // The peer's two per-example methods give the same clipped sum (batch 8, C = 1).
    for (const c of cases().filter((k) => k.mode === 'dpsgd')) {
      const r = spawnSync(
        python,
        [
          PEER_SCRIPT,
          '--arch',
          JSON.stringify(c.arch),
          '--mode',
          'dpsgd',
          '--batch',
          '8',
          '--check',
        ],
        { encoding: 'utf8' },
      );
      console.log(
        `PyTorch ghost vs vmap clipped sum, ${c.label}: ${r.stdout.trim() || r.stderr.trim().split('\n').pop()}`,
      );
    }
  }
  const rows: Row[] = [];
  for (const c of cases()) {
    const enc = parameterCount(c.arch, 'encoder');
    const dec = parameterCount(c.arch, 'decoder');
    const before = load();
    const threads = c.mode === 'dpsgd' ? trainThreadCount({ backend }) : 1;
    const app1 = c.mode === 'dpsgd' && threads > 1 ? await appDpsgd(c, 1) : undefined;
    const app = c.mode === 'train' ? await appTrain(c) : await appDpsgd(c, threads);
    // os.cpu_count() threads (the brief), and one: on a shared machine whose
    // load exceeds its cores, OpenMP's barriers can make two threads slower.
    const threadCounts = [...new Set([cpus().length, 1])];
    const peer = torchOk
      ? c.peers.flatMap((m) =>
          threadCounts.map((t) => ({
            method: c.mode === 'train' ? `${t} thr` : `${m}, ${t} thr`,
            r: runPeer(python, c, m, t),
          })),
        )
      : [];
    for (const p of peer) {
      if (!p.r.ok) continue;
      if (p.r.encoderParams !== enc || p.r.decoderParams !== dec) {
        throw new Error(
          `${c.label}: the PyTorch model has ${p.r.encoderParams} + ${p.r.decoderParams} parameters, the app's ${enc} + ${dec}; the shapes differ.`,
        );
      }
    }
    const row: Row = {
      c,
      params: enc + dec,
      app,
      ...(app1 ? { app1 } : {}),
      threads,
      peer,
      load: `${before} → ${load()}`,
    };
    rows.push(row);
    const peerText = peer
      .map((p) =>
        p.r.ok
          ? `PyTorch ${p.method} ${fmt(p.r.imagesPerS)} img/s (${fmt(p.r.msPerStep)} ms/step, ${p.r.steps} steps)`
          : `PyTorch ${p.method}: not measured — ${p.r.error}`,
      )
      .join('; ');
    console.log(
      `${c.label} — ${enc} + ${dec} parameters (app = PyTorch, checked): ` +
        `app [${backend}, ${threads} thr] ${fmt(app.imagesPerS)} img/s (${fmt(app.msPerStep)} ms/step over ${app.steps} steps)` +
        (app1
          ? `, 1 thr ${fmt(app1.imagesPerS)} img/s (${(app.imagesPerS / app1.imagesPerS).toFixed(2)}×)`
          : '') +
        `; ${peerText}; load ${row.load}`,
    );
  }
  console.log(
    '\n| case | parameters | app img/s (threads) | app img/s, 1 thread | speed-up | PyTorch img/s | app / best PyTorch | load average |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const ok = r.peer.filter((p) => p.r.ok);
    const best = ok.reduce<(typeof ok)[number] | undefined>(
      (a, p) => (!a || (p.r.imagesPerS ?? 0) > (a.r.imagesPerS ?? 0) ? p : a),
      undefined,
    );
    const peerCell = ok.map((p) => `${fmt(p.r.imagesPerS)} (${p.method})`).join(', ');
    const ratio = best ? r.app.imagesPerS / (best.r.imagesPerS as number) : NaN;
    console.log(
      `| ${r.c.label} | ${r.params.toLocaleString('en')} | ${fmt(r.app.imagesPerS)} (${r.threads}) | ${fmt(r.app1?.imagesPerS)} | ${r.app1 ? (r.app.imagesPerS / r.app1.imagesPerS).toFixed(2) + '×' : '—'} | ${peerCell || '—'} | ${Number.isFinite(ratio) ? ratio.toFixed(2) + '×' : '—'} | ${r.load} |`,
    );
  }
}

/** Kernel time of a profiled clippedSum, split into the stages of the norm trick. */
function splitKernels(
  kernels: { name: string; kernelTimeMs: unknown; outputShapes: number[][] }[],
  B: number,
  byKernel: Map<string, number>,
): Record<string, number> {
  const ms = (k: (typeof kernels)[number]): number =>
    typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  // Forward ends at the summed loss (the first scalar output); the norms
  // start at the first Square after it and end at their AddN; the clipped
  // sums follow. Between forward and norms: the backward pass and, for the
  // conv model, the per-example weight gradients (batched products with B rows).
  const f = kernels.findIndex((k) => k.name === 'Sum' && (k.outputShapes[0] ?? [0]).length === 0);
  const s = kernels.findIndex((k, i) => i > f && k.name === 'Square');
  const a = kernels.findIndex((k, i) => i > s && k.name === 'AddN');
  const out: Record<string, number> = {
    forward: 0,
    backward: 0,
    'per-example weight gradients': 0,
    norms: 0,
    'clipped sum': 0,
  };
  kernels.forEach((k, i) => {
    let stage: string;
    if (i <= f) stage = 'forward';
    else if (i < s) {
      const o = k.outputShapes[0] ?? [];
      stage =
        k.name === 'BatchMatMul' && o.length === 3 && o[0] === B && B > 1
          ? 'per-example weight gradients'
          : 'backward';
    } else if (i <= a) stage = 'norms';
    else stage = 'clipped sum';
    out[stage] = (out[stage] as number) + ms(k);
    const key = `${stage}: ${k.name}`;
    byKernel.set(key, (byKernel.get(key) ?? 0) + ms(k));
  });
  return out;
}

/** Where one DP-SGD step's time goes in the app (averaged over a few steps). */
async function profileStep(label: string, arch: Architecture, batch: number): Promise<void> {
  const data = imagesFor(arch, batch);
  const trainer = DpsgdTrainer.start({
    arch,
    data,
    options: { sampleRate: 1, sigma: SIGMA, clip: CLIP, lr: LR, steps: 1e9, seed: 2 },
  });
  // Whole steps first (the reference the stages should add up to).
  const stop = new AbortController();
  let t0 = 0;
  let n = 0;
  const STEPS = 4;
  await trainer.run({
    epsilonAfter: (s) => s,
    beforeNoisyUpdate: async () => {},
    onStep: (r) => {
      if (r.step === 1) t0 = performance.now();
      else n++;
      if (n === STEPS) stop.abort();
    },
    signal: stop.signal,
  });
  const stepMs = (performance.now() - t0) / STEPS;
  trainer.dispose();
  const enc = initParams(arch, 'encoder', [1]).tensors;
  const dec = initParams(arch, 'decoder', [2]).tensors;
  const records = Uint32Array.from({ length: batch }, (_, i) => i);
  const stages: Record<string, number> = {};
  const byKernel = new Map<string, number>();
  const add = (k: string, v: number): void => {
    stages[k] = (stages[k] ?? 0) + v / STEPS;
  };
  const noise = new SecureGaussian();
  const d = [...enc, ...dec].reduce((s, t) => s + t.size, 0);
  const vec = new Float32Array(d);
  const helper = DpsgdTrainer.start({
    arch,
    data,
    options: { sampleRate: 1, sigma: SIGMA, clip: CLIP, lr: LR, steps: 1, seed: 2 },
  });
  const rows = microBatchRows(arch, true);
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  let params = [...enc, ...dec];
  let opt = initOptimizer('adam', params);
  for (let it = 0; it <= STEPS; it++) {
    const keep = it > 0; // the first round is a warm-up
    const local: Record<string, number> = {};
    const lap = (k: string, v: number): void => {
      local[k] = (local[k] ?? 0) + v;
    };
    for (let s0 = 0; s0 < batch; s0 += rows) {
      let t = performance.now();
      const b = helper.batchOf(records.subarray(s0, s0 + rows), 1);
      lap('batch (pixels to floats, per-record ε)', performance.now() - t);
      const nEnc = enc.length;
      let sum: ReturnType<typeof clippedSum> | undefined;
      t = performance.now();
      const prof = await tf.profile(() => {
        sum = clippedSum(
          arch,
          { encoder: params.slice(0, nEnc), decoder: params.slice(nEnc) },
          b,
          CLIP,
        );
        return [] as tf.Tensor[];
      });
      const wall = performance.now() - t;
      const split = splitKernels(prof.kernels, b.x.shape[0], keep ? byKernel : new Map());
      let kernelSum = 0;
      for (const [k, v] of Object.entries(split)) {
        lap(k, v);
        kernelSum += v;
      }
      lap('JS between kernels (im2col, norms read back, factors)', wall - kernelSum);
      tf.dispose([b.x, b.y, b.eps]);
      t = performance.now();
      const got = sum as ReturnType<typeof clippedSum>;
      let off = 0;
      for (const g of got.grads) {
        const v = g.dataSync() as Float32Array;
        for (let i = 0; i < v.length; i++)
          vec[off + i] = (vec[off + i] as number) + (v[i] as number);
        off += v.length;
      }
      disposeAll(got.grads);
      lap('read back and add the clipped sum', performance.now() - t);
    }
    let t = performance.now();
    const nv = new Float32Array(d);
    noise.fill(nv, SIGMA * CLIP);
    for (let i = 0; i < d; i++) vec[i] = ((vec[i] as number) + (nv[i] as number)) / batch;
    lap('noise (CSPRNG Gaussian, add, scale)', performance.now() - t);
    t = performance.now();
    let off = 0;
    const noisy = params.map((p) => {
      const g = tf.tensor(vec.subarray(off, off + p.size), p.shape, 'float32');
      off += p.size;
      return g;
    });
    const upd = optimizerStep(params, noisy, opt, { kind: 'adam', lr: LR });
    disposeAll(noisy);
    params = upd.params;
    opt = upd.state;
    upd.params[0]?.dataSync();
    lap('Adam update', performance.now() - t);
    vec.fill(0);
    if (keep) for (const [k, v] of Object.entries(local)) add(k, v);
  }
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', true);
  disposeAll(params);
  disposeOptimizer(opt);
  helper.dispose();
  const total = Object.values(stages).reduce((s, v) => s + v, 0);
  console.log(
    `\n${label}, batch ${batch} (micro-batches of ${rows}): whole step ${stepMs.toFixed(0)} ms (trainer.run); ` +
      `the stages below, profiled (tf.profile), add up to ${total.toFixed(0)} ms; load ${load()}`,
  );
  console.log('| stage | ms/step | share |');
  console.log('|---|---:|---:|');
  for (const [k, v] of Object.entries(stages)) {
    console.log(`| ${k} | ${v.toFixed(1)} | ${((100 * v) / total).toFixed(0)} % |`);
  }
  const top = [...byKernel.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8);
  console.log(
    'Heaviest kernels (stage: kernel, ms/step): ' +
      top.map(([k, v]) => `${k} ${(v / STEPS).toFixed(1)}`).join('; '),
  );
}

async function main(): Promise<void> {
  const sel = await selectBackend();
  console.log(
    `Peer bench — app on tfjs '${sel.name}'${sel.tried.length ? ` (passed over: ${sel.tried.map((t) => `${t.name}: ${t.reason}`).join('; ')})` : ''}; ` +
      `≥ ${SECONDS} s per case after ${WARM} warm-up steps; C = ${CLIP}, σ = ${SIGMA}, Adam lr ${LR}; load average ${load()}`,
  );
  await table(sel.name);
  if (process.env.DP2_PEER_PROFILE !== '0') {
    await profileStep('Small model (DP-SGD presets)', smallArchitecture(), 1024);
    await profileStep(
      'Conv 64×64 grey',
      convArchitecture({ height: 64, width: 64, channels: 1 }, 10),
      128,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
