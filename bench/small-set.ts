/**
 * Small data, as in hospitals (issue #19): a two-class set of about 4 000
 * images (MNIST digits 3 and 5 by default; the test split is those digits of
 * MNIST's test set), trained by each method at ε through the real runner (a
 * temporary data home, the real worker process, write-ahead ledger), then
 * judged by the app's evaluation: classifiers trained on images drawn from
 * the released decoder as the app draws them (balanced over the classes,
 * as `dp2 eval --run` does; a mepf generator's by its release), tested on the real test images, beside the majority-class rate.
 *
 *   node --import tsx bench/small-set.ts [--classes 3,5] [--train 4000] [--eps 1]
 *        [--methods mepf,dpsgd] [--preset quick] [--generator-steps S]
 *        [--features prior|random-net|rff] [--per-class 2000] [--classifiers cnn,lr] [--seeds 0]
 *        [--labelled 0.8] (mepf: first a private classifier at that share of ε, which then
 *        labels the generator's images; the target ε covers both)
 *
 * Prints one line per method: ε, wall time of the run, accuracies, the
 * majority rate, the load average. Never fails on a figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundledMnist } from '../src-main/data';
import { selectBackend } from '../src-main/engine/backend';
import type { ClassifierKind } from '../src-main/eval';
import { startTraining } from '../src-main/jobs/runner';
import type { MethodId } from '../src-main/methods/catalog';
import { closeStore, openStore } from '../src-main/store';
import { addSplitDataset, evaluateRun, load, now } from './lib/bench-runs';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};

const [a, b] = arg('classes', '3,5').split(',').map(Number) as [number, number];
const trainCount = Number(arg('train', '4000'));
const epsilons = arg('eps', '1').split(',').map(Number);
const methods = arg('methods', 'mepf,dpsgd').split(',') as MethodId[];
const preset = arg('preset', 'quick') as 'quick' | 'paper' | 'high-privacy';
const classifiers = arg('classifiers', 'cnn,lr').split(',') as ClassifierKind[];
const seeds = arg('seeds', '0').split(',').map(Number);
const perClass = Number(arg('per-class', '2000'));
const labelledShare = arg('labelled', '') === '' ? null : Number(arg('labelled', ''));

/** The images of digits a and b (labels 0 and 1), the first `limit` of them. */
function twoClasses(set: { x: Uint8Array; y: Uint8Array; count: number }, limit: number) {
  const keep: number[] = [];
  for (let i = 0; i < set.count && keep.length < limit; i++)
    if (set.y[i] === a || set.y[i] === b) keep.push(i);
  const x = new Uint8Array(keep.length * 784);
  keep.forEach((j, k) => x.set(set.x.subarray(j * 784, (j + 1) * 784), k * 784));
  return { x, y: Uint8Array.from(keep, (j) => (set.y[j] === a ? 0 : 1)), count: keep.length };
}

async function main(): Promise<void> {
  await selectBackend();
  const mnist = loadBundledMnist();
  const train = twoClasses(mnist.train, trainCount);
  const test = twoClasses(mnist.test, Infinity);
  const home = mkdtempSync(join(tmpdir(), 'dp2-small-set-'));
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  try {
    const realTest = await addSplitDataset(store, home, 'small', {
      train,
      test,
      size: 28,
      channels: 1,
      classes: [`digit ${a}`, `digit ${b}`],
    });
    const counts = [0, 1].map((k) => train.y.filter((y) => y === k).length);
    console.log(
      `two classes: digit ${a} (${counts[0]}) and digit ${b} (${counts[1]}) for training, ${test.count} real test images; preset ${preset}`,
    );
    for (const epsilon of epsilons) {
      for (const method of methods) {
        const overrides: Record<string, number | string> = {};
        if (method === 'mepf') {
          const steps = arg('generator-steps', '');
          if (steps !== '') overrides.generatorSteps = Number(steps);
          const features = arg('features', '');
          if (features !== '') overrides.features = features;
        }
        const t0 = now();
        if (method === 'mepf' && labelledShare !== null) {
          const classifier = await startTraining({
            store,
            dataHome: home,
            datasetName: 'small',
            method: 'randp',
            targetEpsilon: labelledShare * epsilon,
            preset,
          });
          const done = await classifier.done;
          console.log(
            `randp ε = ${done.epsilon.toFixed(3)} (labeller): ${done.status}, ${(now() - t0).toFixed(0)} s`,
          );
          overrides.labeller = classifier.runId;
        }
        const handle = await startTraining({
          store,
          dataHome: home,
          datasetName: 'small',
          method,
          targetEpsilon: epsilon,
          preset,
          overrides,
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
        const { result, scores, seconds } = await evaluateRun(store, {
          runId: handle.runId,
          perClass,
          realTest,
          classifiers,
          seeds,
        });
        console.log(
          `${method} ε = ${outcome.epsilon.toFixed(3)}: ${scores}; majority ${result.majority.rate.toFixed(2)} %; ` +
            `run ${trained.toFixed(0)} s, evaluation ${seconds.toFixed(0)} s (load ${load()})`,
        );
      }
    }
  } finally {
    closeStore(store);
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
