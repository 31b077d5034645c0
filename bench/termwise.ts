/**
 * Term-wise DP-SGD (issue #20) on MNIST: (1) training throughput of the
 * term-wise step against DP-SGD's on the same small model and expected batch
 * (engine only, interleaved, wasm); (2) utility through the real runner at
 * each ε (δ = 1e-5): term-wise, the naive variant on the same loss, and
 * DP-SGD, each judged by the app's evaluation (classifiers trained on
 * generated digits, tested on the real MNIST test set). Prints the noise
 * multipliers of each term.
 *
 *   node --import tsx bench/termwise.ts [--eps 10,1] [--steps T] [--methods termwise,naive,dpsgd]
 *        [--throughput-steps 6] [--throughput-batch 1024] [--throughput-rounds 3] [--threads N] [--per-class 1000] [--classifiers cnn] [--skip-utility]
 *        [--set divergenceClip=0.05,divergence=kl] (term-wise settings)
 *
 * `--steps` shortens the runs (the presets' T is 586–1758 steps); the
 * figures then say so. `--threads` sets the threads of both trainers in the
 * throughput part (default: what the app uses on the portable backend).
 * Never fails on a figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundledMnist } from '../src-main/data';
import { defaultArchitecture } from '../src-main/engine/architecture';
import { selectBackend } from '../src-main/engine/backend';
import { DpsgdTrainer } from '../src-main/engine/dpsgd';
import { TermwiseTrainer } from '../src-main/engine/termwise';
import { trainThreadCount } from '../src-main/engine/train-threads';
import type { ClassifierKind } from '../src-main/eval';
import { startTraining } from '../src-main/jobs/runner';
import { termNoises } from '../src-main/privacy/termwise';
import { closeStore, getRun, openStore } from '../src-main/store';
import { addSplitDataset, evaluateRun, load, now } from './lib/bench-runs';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};

async function throughput(): Promise<void> {
  const m = loadBundledMnist().train;
  const data = { x: m.x, y: m.y, count: m.count, height: 28, width: 28 };
  const arch = { ...defaultArchitecture(), encoderHidden: [256, 128], decoderHidden: [128, 256] };
  const steps = Number(arg('throughput-steps', '6'));
  const batch = Number(arg('throughput-batch', '1024'));
  const common = {
    sampleRate: batch / m.count,
    sigma: 0.7,
    clip: 1,
    lr: 1e-3,
    steps: 1000,
    seed: 1,
  };
  interface Hooks {
    epsilonAfter: (n: number) => number;
    beforeNoisyUpdate: (s: number) => Promise<void>;
    signal?: AbortSignal;
    onStep?: () => void;
  }
  let ac = new AbortController();
  const time = async (
    make: () => { run: (h: Hooks) => Promise<unknown>; dispose(): void; lastBatchSize: number },
  ) => {
    const tr = make();
    let rows = 0;
    ac = new AbortController();
    // One warm-up step, then `steps` timed ones.
    await tr.run({
      epsilonAfter: () => 0,
      beforeNoisyUpdate: async () => {},
      signal: ac.signal,
      onStep: () => ac.abort(),
    });
    ac = new AbortController();
    const t0 = now();
    let k = 0;
    await tr.run({
      epsilonAfter: () => 0,
      beforeNoisyUpdate: async () => {},
      signal: ac.signal,
      onStep: () => {
        rows += tr.lastBatchSize;
        if (++k >= steps) ac.abort();
      },
    });
    const dt = now() - t0;
    tr.dispose();
    return rows / dt;
  };
  const rates: Record<string, number[]> = { dpsgd: [], termwise: [], naive: [] };
  const rounds = Number(arg('throughput-rounds', '3'));
  // Both on the threads the app would use (engine/sharded-sum.ts), unless told.
  const threads = Number(arg('threads', String(trainThreadCount({ backend: 'wasm' }))));
  const dp = () =>
    DpsgdTrainer.start({ arch, data, options: { ...common, optimizer: 'adam' }, threads });
  const tw = (mode: 'termwise' | 'naive') => () =>
    TermwiseTrainer.start({
      arch,
      data,
      threads,
      options: {
        ...common,
        divergence: 'mmd-imq',
        divergenceWeight: 1,
        divergenceClip: 0.05,
        mode,
        batchCap: Math.ceil(batch + 8 * Math.sqrt(batch) + 8),
      },
    });
  // Interleaved, DP-SGD measured on both sides of each term-wise measurement:
  // the machine is shared, so a ratio within one round is the robust figure.
  const ratios: Record<string, number[]> = { termwise: [], naive: [] };
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['termwise', 'naive'] as const) {
      const before = await time(dp);
      const r = await time(tw(mode));
      const after = await time(dp);
      rates.dpsgd!.push(before, after);
      rates[mode]!.push(r);
      ratios[mode]!.push((before + after) / 2 / r);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
  for (const [k, v] of Object.entries(rates)) {
    const ratio =
      k === 'dpsgd'
        ? ''
        : `; DP-SGD ÷ this, per round: ${ratios[k]!.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios[k]!).toFixed(2)}×)`;
    console.log(
      `throughput ${k}: median ${median(v).toFixed(0)} samples/s${ratio} (${steps} steps per measurement, expected batch ${batch}, small model, ${threads} thread${threads === 1 ? '' : 's'}; load ${load()})`,
    );
  }
}

async function utility(): Promise<void> {
  const epsilons = arg('eps', '10,1').split(',').map(Number);
  const methods = arg('methods', 'termwise,naive,dpsgd').split(',');
  const steps = arg('steps', '');
  const perClass = Number(arg('per-class', '1000'));
  const classifiers = arg('classifiers', 'cnn').split(',') as ClassifierKind[];
  const mnist = loadBundledMnist();
  const home = mkdtempSync(join(tmpdir(), 'dp2-termwise-'));
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  try {
    const { train, test } = mnist;
    const realTest = await addSplitDataset(store, home, 'mnist', {
      train,
      test,
      size: 28,
      channels: 1,
      classes: Array.from({ length: 10 }, (_, k) => `digit ${k}`),
    });
    for (const epsilon of epsilons) {
      const preset = epsilon <= 2 ? 'high-privacy' : 'paper';
      for (const label of methods) {
        const method = label === 'naive' ? 'termwise' : label;
        const overrides: Record<string, number | string> = {};
        if (steps !== '') overrides.steps = Number(steps);
        if (label === 'naive') overrides.termwiseMode = 'naive';
        // --set divergenceClip=0.05,divergence=kl: extra settings for the term-wise runs.
        if (method === 'termwise')
          for (const kv of arg('set', '').split(',').filter(Boolean)) {
            const [k, v] = kv.split('=') as [string, string];
            overrides[k] = Number.isNaN(Number(v)) ? v : Number(v);
          }
        const t0 = now();
        const handle = await startTraining({
          store,
          dataHome: home,
          datasetName: 'mnist',
          method: method as 'termwise' | 'dpsgd',
          targetEpsilon: epsilon,
          preset,
          overrides,
          confirmed: true,
        });
        const outcome = await handle.done;
        const trained = now() - t0;
        if (outcome.status !== 'completed') {
          console.log(`${label} ε = ${epsilon}: ${outcome.status} ${outcome.error?.message ?? ''}`);
          continue;
        }
        const plan = (
          getRun(store, handle.runId).hyperparameters as { plan: Record<string, never> }
        ).plan;
        const noise =
          method === 'termwise'
            ? termNoises(plan as unknown as Parameters<typeof termNoises>[0])
                .map((t) => `${t.term} σ = ${t.sigma.toPrecision(3)} × Δ ${t.sensitivity}`)
                .join(', ')
            : `σ = ${Number(plan.sigma).toPrecision(3)} × C ${plan.clip}`;
        const { scores, seconds } = await evaluateRun(store, {
          runId: handle.runId,
          perClass,
          realTest,
          classifiers,
          seeds: [0],
        });
        console.log(
          `${label}${method === 'termwise' && arg('set', '') ? ` [${arg('set', '')}]` : ''} (${preset}${steps !== '' ? `, T shortened to ${steps}` : ''}) ε = ${outcome.epsilon.toFixed(3)}: ${scores}; pair σ = ${Number(plan.sigma).toPrecision(3)}; ${noise}; ` +
            `run ${trained.toFixed(0)} s, evaluation ${seconds.toFixed(0)} s (load ${load()})`,
        );
      }
    }
  } finally {
    closeStore(store);
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await selectBackend();
  if (!argv.includes('--skip-throughput')) await throughput();
  if (!argv.includes('--skip-utility')) await utility();
}

void main();
