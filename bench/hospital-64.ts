/**
 * A hospital-sized grey set (issue #22's second target): MNIST digits 3 and
 * 5 upscaled bilinearly to 64×64 by the import's own resize (about 4 000
 * training images; the test split is those digits of MNIST's test set),
 * trained with DP-SGD at ε = 10 in the `quick` preset through the real
 * runner (a temporary data home, the real worker process, write-ahead
 * ledger); then the app's evaluation: classifiers trained on images drawn
 * from the released decoder (balanced over the classes, as `dp2 eval --run`
 * does), tested on the real 64×64 test images, beside the majority-class rate.
 *
 *   node --import tsx bench/hospital-64.ts [--train 4000] [--eps 10] [--preset quick]
 *        [--size 64] [--method dpsgd] [--per-class 2000] [--classifiers cnn,lr] [--steps T]
 *
 * Prints the run's wall time and throughput, the peak resident memory of the
 * worker (polled with ps), the accuracies, the majority rate and the load average.
 * Never fails on a figure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundledMnist, resizeCropInto } from '../src-main/data';
import { selectBackend } from '../src-main/engine/backend';
import type { ClassifierKind } from '../src-main/eval';
import { startTraining } from '../src-main/jobs/runner';
import type { MethodId } from '../src-main/methods/catalog';
import { closeStore, openStore } from '../src-main/store';
import { addSplitDataset, load as benchLoad, evaluateRun, now } from './lib/bench-runs';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};
const load = (): string => benchLoad(2);

/** Largest resident memory (bytes) of this process's children (the training worker) right now. */
function childRss(): number {
  try {
    const out = execFileSync('ps', ['-o', 'rss=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
    return 1024 * Math.max(0, ...out.split('\n').map((l) => Number(l.trim()) || 0));
  } catch {
    return 0; // no children (ps exits 1)
  }
}

const [a, b] = [3, 5];
const size = Number(arg('size', '64')) as 64 | 128;
const trainCount = Number(arg('train', '4000'));
const epsilon = Number(arg('eps', '10'));
const method = arg('method', 'dpsgd') as MethodId;
const preset = arg('preset', 'quick') as 'quick' | 'paper' | 'high-privacy';
const classifiers = arg('classifiers', 'cnn,lr').split(',') as ClassifierKind[];
const perClass = Number(arg('per-class', '2000'));
const steps = arg('steps', '');

/** Digits a and b (labels 0 and 1), the first `limit`, upscaled to size × size. */
function twoClasses(set: { x: Uint8Array; y: Uint8Array; count: number }, limit: number) {
  const keep: number[] = [];
  for (let i = 0; i < set.count && keep.length < limit; i++)
    if (set.y[i] === a || set.y[i] === b) keep.push(i);
  const per = size * size;
  const x = new Uint8Array(keep.length * per);
  keep.forEach((j, k) =>
    resizeCropInto(
      { width: 28, height: 28, channels: 1, data: set.x.subarray(j * 784, (j + 1) * 784) },
      size,
      x,
      k * per,
    ),
  );
  return { x, y: Uint8Array.from(keep, (j) => (set.y[j] === a ? 0 : 1)), count: keep.length };
}

async function main(): Promise<void> {
  await selectBackend();
  const mnist = loadBundledMnist();
  const train = twoClasses(mnist.train, trainCount);
  const test = twoClasses(mnist.test, Infinity);
  const home = mkdtempSync(join(tmpdir(), 'dp2-hospital-'));
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  try {
    const realTest = await addSplitDataset(store, home, 'hospital', {
      train,
      test,
      size,
      channels: 1,
      classes: [`digit ${a}`, `digit ${b}`],
    });
    const counts = [0, 1].map((k) => train.y.filter((y) => y === k).length);
    console.log(
      `${size}×${size} grey: digit ${a} (${counts[0]}) and digit ${b} (${counts[1]}) for training, ${test.count} real test images; ${method}, preset ${preset}, ε = ${epsilon} (load ${load()})`,
    );
    let peakRss = 0;
    const poll = setInterval(() => (peakRss = Math.max(peakRss, childRss())), 250);
    let lastRate = 0;
    let totalSteps = 0;
    const t0 = now();
    const handle = await startTraining({
      store,
      dataHome: home,
      datasetName: 'hospital',
      method,
      targetEpsilon: epsilon,
      preset,
      overrides: steps !== '' ? { steps: Number(steps) } : {},
      confirmed: true,
      onEvent: (e) => {
        if (e.type === 'progress') {
          lastRate = e.samplesPerSecond;
          totalSteps = e.totalSteps;
          if (e.step === 1 || e.step % 10 === 0)
            console.log(
              `  step ${e.step}/${e.totalSteps}: ${e.samplesPerSecond.toFixed(0)} images/s, ${(now() - t0).toFixed(0)} s (load ${load()})`,
            );
        }
      },
    });
    const outcome = await handle.done;
    clearInterval(poll);
    const trained = now() - t0;
    if (outcome.status !== 'completed') {
      console.log(`${method}: ${outcome.status} ${outcome.error?.message ?? ''}`);
      return;
    }
    console.log(
      `trained: ${outcome.steps}/${totalSteps} steps, ε = ${outcome.epsilon.toFixed(3)}, ${trained.toFixed(0)} s (${(trained / 60).toFixed(1)} min), last ${lastRate.toFixed(0)} images/s, worker peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB (load ${load()})`,
    );
    const { result, scores, seconds } = await evaluateRun(store, {
      runId: handle.runId,
      perClass,
      realTest,
      classifiers,
      seeds: [0],
    });
    console.log(
      `${method} ε = ${outcome.epsilon.toFixed(3)}: ${scores}; majority ${result.majority.rate.toFixed(2)} %; ` +
        `run ${trained.toFixed(0)} s, evaluation ${seconds.toFixed(0)} s (load ${load()})`,
    );
  } finally {
    closeStore(store);
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
