/**
 * Methods side by side on MNIST (issue #23's table): every method at every ε,
 * `--runs` training runs each (each run draws its own seed, so its Poisson
 * samples and noise differ), trained through the real runner (a temporary
 * data home, the real worker process, the write-ahead ledger) with the
 * preset that ε calls for, then judged by the app's evaluation: classifiers
 * trained on images drawn from the released model as the app draws them,
 * tested on MNIST's real test set. Prints a line per run as it ends, then
 * mean ± sd per method and ε.
 *
 *   node --import tsx bench/method-table.ts [--methods dp2vae-per-record,dpsgd,dp2vae]
 *        [--eps 1,10] [--runs 3] [--presets 1:high-privacy,10:paper]
 *        [--set key=value,key=value] [--per-class 1000] [--classifiers cnn,lr] [--train 60000]
 *
 * `--set` overrides plan fields of every run (e.g. refineOptimizer=adam).
 * Never fails on a figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundledMnist } from '../src-main/data';
import { selectBackend } from '../src-main/engine/backend';
import type { ClassifierKind } from '../src-main/eval';
import { startTraining } from '../src-main/jobs/runner';
import type { MethodId } from '../src-main/methods/catalog';
import type { PresetName } from '../src-main/methods/preset-names';
import { closeStore, openStore } from '../src-main/store';
import { addSplitDataset, evaluateRun, load, now } from './lib/bench-runs';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};
const list = (name: string, fallback: string): string[] =>
  arg(name, fallback)
    .split(',')
    .filter((s) => s !== '');

const methods = list('methods', 'dp2vae-per-record,dpsgd,dp2vae') as MethodId[];
const epsilons = list('eps', '1,10').map(Number);
const runs = Number(arg('runs', '3'));
const presets = new Map(
  list('presets', '1:high-privacy,10:paper').map((p) => {
    const [e, name] = p.split(':');
    return [Number(e), name as PresetName];
  }),
);
const overrides: Record<string, number | string> = Object.fromEntries(
  list('set', '').map((kv) => {
    const [k, v] = kv.split('=') as [string, string];
    return [k, Number.isFinite(Number(v)) ? Number(v) : v];
  }),
);
const perClass = Number(arg('per-class', '1000'));
const classifiers = list('classifiers', 'cnn,lr') as ClassifierKind[];
const trainCount = Number(arg('train', '60000'));

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]): number =>
  v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1));

async function main(): Promise<void> {
  await selectBackend();
  const mnist = loadBundledMnist();
  const train = {
    x: mnist.train.x.subarray(0, trainCount * 784),
    y: mnist.train.y.subarray(0, trainCount),
    count: trainCount,
  };
  const home = mkdtempSync(join(tmpdir(), 'dp2-method-table-'));
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  const scores = new Map<string, Record<string, number[]>>();
  try {
    const realTest = await addSplitDataset(store, home, 'mnist', {
      train,
      test: mnist.test,
      size: 28,
      channels: 1,
      classes: Array.from({ length: 10 }, (_, i) => String(i)),
    });
    console.log(
      `MNIST ${train.count} training images, ${realTest.count} real test images; ` +
        `${perClass} drawn per class; overrides ${JSON.stringify(overrides)}`,
    );
    for (const epsilon of epsilons) {
      const preset = presets.get(epsilon) ?? 'paper';
      for (const method of methods) {
        for (let r = 0; r < runs; r++) {
          const t0 = now();
          const handle = await startTraining({
            store,
            dataHome: home,
            datasetName: 'mnist',
            method,
            targetEpsilon: epsilon,
            preset,
            overrides: method === 'dp2vae-per-record' ? overrides : {},
            confirmed: true,
          });
          const outcome = await handle.done;
          const trained = now() - t0;
          if (outcome.status !== 'completed') {
            console.log(
              `${method} ε = ${epsilon}: ${outcome.status} ${outcome.error?.message ?? ''}`,
            );
            continue;
          }
          const {
            result,
            scores: line,
            seconds,
          } = await evaluateRun(store, {
            runId: handle.runId,
            perClass,
            realTest,
            classifiers,
            seeds: [0],
          });
          const key = `${method} ε=${epsilon} (${preset})`;
          const row = scores.get(key) ?? {};
          for (const k of classifiers) (row[k] ??= []).push(result[k]?.mean ?? NaN);
          scores.set(key, row);
          console.log(
            `${key} run ${r + 1}: ${line}; ε = ${outcome.epsilon.toFixed(3)}; ` +
              `training ${trained.toFixed(0)} s, evaluation ${seconds.toFixed(0)} s (load ${load()})`,
          );
        }
      }
    }
    console.log('\nmean ± sd over runs');
    for (const [key, row] of scores) {
      const cells = classifiers.map(
        (k) =>
          `${k.toUpperCase()} ${mean(row[k] ?? []).toFixed(1)} ± ${sd(row[k] ?? []).toFixed(1)}`,
      );
      console.log(
        `${key}: ${cells.join(', ')} (${(row[classifiers[0] as string] ?? []).length} runs)`,
      );
    }
  } finally {
    closeStore(store);
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
