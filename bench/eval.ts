/**
 * The whole evaluation of `dp2 eval` at full size (the time target: under
 * 5 minutes for 60 000 synthetic images on 2 cores): the bundled MNIST
 * training split (60 000 images) stands in for synthetic data and is
 * evaluated against the 10 000 real test images with protocol version 3 —
 * LR, MLP and CNN × 3 seeds (each trained to convergence with early stopping
 * on held-out synthetic images), the feature network, the Fréchet distance
 * and precision/recall beside their real-vs-real values — then the
 * membership audit's scoring (1 000 + 1 000 records against a randomly
 * initialised default decoder: its figures mean nothing, its time is the
 * audit's).
 *
 *   npm run bench eval
 *   DP2_BENCH_SEEDS=0 DP2_BENCH_N=10000 node --import tsx bench/eval.ts
 *   DP2_BENCH_PARTS=cnn,fidelity node --import tsx bench/eval.ts   (some parts only)
 *   DP2_EVAL_WORKERS=1 node --import tsx bench/eval.ts   (sequential, in one thread)
 *
 * The evaluation runs as the app runs it (src-main/eval/parallel.ts: its jobs
 * spread over DP2_EVAL_WORKERS worker threads, default min(2, cores)).
 * Prints accuracies (mean ± std, balanced, steps taken), the fidelity
 * figures, and for every job (or, in one thread, every part) its wall and
 * CPU seconds, each worker's CPU seconds (the busiest one's is about the
 * wall time on an otherwise idle machine), the load average (the machine
 * may be shared: wall time then overstates) and peak RSS.
 * Never fails on a time. The table over set sizes is bench/eval-table.ts.
 */
import { loadavg } from 'node:os';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { defaultArchitecture, parameterSpecs } from '../src-main/engine/architecture';
import { SeededRng } from '../src-main/engine/rng';
import { evalWorkerCount, evaluateInParallel, type JobTiming } from '../src-main/eval/parallel';
import {
  CLASSIFIER_KINDS,
  DEFAULT_SEEDS,
  auditDecoder,
  toEvalJson,
  type EvalImages,
} from '../src-main/eval';

function subset(set: EvalImages, n: number): EvalImages {
  if (n >= set.count) return set;
  const size = set.height * set.width;
  return { ...set, x: set.x.subarray(0, n * size), y: Array.from(set.y).slice(0, n), count: n };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

interface Part {
  name: string;
  wall: number;
  cpu: number;
}
const parts: Part[] = [];

/** Runs `fn`, records its wall and CPU seconds under `name`. */
async function timed<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const result = await fn();
  const c = process.cpuUsage(c0);
  parts.push({ name, wall: (performance.now() - w0) / 1000, cpu: (c.user + c.system) / 1e6 });
  return result;
}

const seconds = (p: Part): string => `wall ${p.wall.toFixed(1)} s, cpu ${p.cpu.toFixed(1)} s`;
const last = (): Part => parts[parts.length - 1] as Part;

async function main(): Promise<void> {
  const backend = await selectBackend();
  const seeds = process.env.DP2_BENCH_SEEDS?.split(',').map(Number) ?? [...DEFAULT_SEEDS];
  const only = process.env.DP2_BENCH_PARTS?.split(',');
  const want = (part: string): boolean => only === undefined || only.includes(part);
  const mnist = loadBundledMnist();
  const workers = evalWorkerCount();
  const jobs: JobTiming[] = [];
  const synthetic = subset(mnist.train, Number(process.env.DP2_BENCH_N ?? mnist.train.count));
  const realTest = mnist.test;
  console.log(
    `backend ${backend.name}; ${synthetic.count} "synthetic" (real MNIST train) vs ${realTest.count} real test; ` +
      `seeds ${seeds.join(',')}; ${workers} worker(s); load average ${load()}`,
  );

  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  // The whole evaluation of `dp2 eval` (utility, feature network, fidelity with its
  // real-vs-real reference), phases timed from its progress reports.
  let phase = '';
  let phaseStart = performance.now();
  let phaseCpu = process.cpuUsage();
  const endPhase = (): void => {
    if (phase === '') return;
    const c = process.cpuUsage(phaseCpu);
    parts.push({
      name: phase,
      wall: (performance.now() - phaseStart) / 1000,
      cpu: (c.user + c.system) / 1e6,
    });
  };
  const result = await evaluateInParallel({
    synthetic,
    realTest,
    realTrain: mnist.train,
    seeds,
    classifiers: CLASSIFIER_KINDS.filter(want),
    fidelity: want('fidelity'),
    workers,
    onJob: (j) => jobs.push(j),
    onProgress: (p) => {
      if (workers > 1) return; // parts overlap: timed per job instead
      const name = p.utility ? p.utility.classifier : p.phase;
      if (name === phase) return;
      endPhase();
      phase = name;
      phaseStart = performance.now();
      phaseCpu = process.cpuUsage();
    },
  });
  if (workers <= 1) endPhase();
  phase = want('fidelity') ? 'features + Fréchet + precision/recall' : '';
  // (The last part reported ends when evaluateSynthetic returns: feature extraction and
  // the figures come after the feature network's last training step.)
  for (const kind of CLASSIFIER_KINDS) {
    const s = result[kind];
    if (!s) continue;
    console.log(
      `${kind.padEnd(4)} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)} %  runs [${s.runs.map((a) => a.toFixed(2)).join(', ')}]  ` +
        `balanced ${s.balanced.mean.toFixed(2)} %  steps [${s.steps.join(', ')}]  ${s.seconds.toFixed(1)} s wall`,
    );
  }
  console.log(`majority-class rate ${result.majority.rate.toFixed(2)} %`);
  const f = result.fidelity;
  if (f) {
    console.log(
      `Fréchet distance ${f.fld.toFixed(5)} (real vs real ${f.reference?.fld.toFixed(5)}); ` +
        `precision ${f.precision?.toFixed(3)} recall ${f.recall?.toFixed(3)} ` +
        `(real vs real ${f.reference?.precision?.toFixed(3)} / ${f.reference?.recall?.toFixed(3)}); ` +
        `feature CNN ${result.extractorAccuracy?.toFixed(2)} % on real test`,
    );
  }
  const evalWall = (performance.now() - wall0) / 1000;
  const evalCpu = process.cpuUsage(cpu0);
  console.log(
    `whole evaluation (${seeds.length} seeds): wall ${evalWall.toFixed(1)} s, cpu ${((evalCpu.user + evalCpu.system) / 1e6).toFixed(1)} s; load average ${load()}`,
  );

  if (want('audit')) {
    const arch = defaultArchitecture(10);
    const rng = SeededRng.fromSeed(1);
    const weights = parameterSpecs(arch, 'decoder').map((s) => {
      const w = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
      const limit = Math.sqrt(6 / (s.fanIn + s.fanOut));
      if (s.init === 'glorot-uniform')
        for (let i = 0; i < w.length; i++) w[i] = (2 * rng.nextFloat() - 1) * limit;
      return w;
    });
    const audit = await timed('audit', () =>
      auditDecoder({
        decoder: { arch, weights },
        train: { ...mnist.train, channels: 1 },
        test: { ...realTest, channels: 1 },
        epsilon: 10,
        delta: 1e-5,
      }),
    );
    console.log(
      `audit of ${audit.members} + ${audit.nonMembers} records (random decoder, timing only): ` +
        `AUC ${audit.auc.toFixed(3)}; ${seconds(last())}`,
    );
  }

  const totalWall = (performance.now() - wall0) / 1000;
  const c = process.cpuUsage(cpu0);
  console.log(`dp2 eval --json: ${JSON.stringify(toEvalJson(result))}`);
  if (jobs.length > 0) {
    console.log('seconds per job (wall, CPU of its worker thread):');
    for (const j of jobs) {
      const cpu = j.cpuSeconds === undefined ? '' : `, cpu ${j.cpuSeconds.toFixed(1)} s`;
      console.log(`  worker ${j.worker}  ${j.job.padEnd(30)} wall ${j.seconds.toFixed(1)} s${cpu}`);
    }
    for (let w = 0; w < workers; w++) {
      const mine = jobs.filter((j) => j.worker === w);
      const cpu = mine.reduce((a, j) => a + (j.cpuSeconds ?? NaN), 0);
      const wall = mine.reduce((a, j) => a + j.seconds, 0);
      console.log(
        `worker ${w}: ${mine.length} jobs, cpu ${cpu.toFixed(1)} s, wall ${wall.toFixed(1)} s`,
      );
    }
  }
  console.log('seconds per part:');
  for (const p of parts) console.log(`  ${p.name.padEnd(40)} ${seconds(p)}`);
  console.log(
    `total: wall ${totalWall.toFixed(1)} s, cpu ${((c.user + c.system) / 1e6).toFixed(1)} s; ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; load average ${load()}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
