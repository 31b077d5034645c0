/**
 * The evaluation in worker threads (parallel.ts) on small MNIST subsets with
 * small training budgets: the same figures as the sequential path for the
 * same seeds, progress that only grows and ends at 1, an abort that stops
 * it with CANCELLED, and a job's error reaching the caller unchanged.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  evaluateSynthetic,
  type EvalImages,
  type EvaluationOptions,
  type EvaluationResult,
} from '../../../src-main/eval';
import {
  evalWorkerCount,
  evaluateInParallel,
  type JobTiming,
} from '../../../src-main/eval/parallel';

function slice(set: EvalImages, from: number, to: number): EvalImages {
  const size = set.height * set.width;
  return {
    ...set,
    x: set.x.subarray(from * size, to * size),
    y: Array.from(set.y).slice(from, to),
    count: to - from,
  };
}

let options: EvaluationOptions;

before(async () => {
  await selectBackend();
  const mnist = loadBundledMnist();
  const small = { epochs: 1, batchSize: 64, minSteps: 0 };
  options = {
    synthetic: slice(mnist.train, 0, 1500),
    realTrain: slice(mnist.train, 1500, 2500),
    realTest: slice(mnist.test, 0, 500),
    seeds: [0, 1],
    configs: { lr: small, mlp: small, cnn: small },
    extractorConfig: small,
  };
});

/** The result without its wall times (the only figures that may differ). */
function figures(r: EvaluationResult): unknown {
  const copy = structuredClone(r) as unknown as Record<string, unknown>;
  for (const kind of ['lr', 'mlp', 'cnn']) delete (copy[kind] as { seconds?: number }).seconds;
  return copy;
}

test('two workers give the figures of one thread; progress grows to 1 in both', async () => {
  // One worker: evaluateSynthetic in this thread, its progress as the whole evaluation's share.
  const inThread: number[] = [];
  const sequential = await evaluateInParallel({
    ...options,
    workers: 1,
    onProgress: (p) => inThread.push(p.fraction),
  });
  const fractions: number[] = [];
  const jobs: JobTiming[] = [];
  const parallel = await evaluateInParallel({
    ...options,
    workers: 2,
    onProgress: (p) => fractions.push(p.fraction),
    onJob: (j) => jobs.push(j),
  });
  assert.deepEqual(figures(parallel), figures(sequential));
  assert.ok(parallel.fidelity && parallel.cnn, 'fidelity and every classifier are there');
  assert.equal(jobs.length, 3 * 2 + 1, 'one job per classifier and seed, one for fidelity');
  assert.deepEqual([...new Set(jobs.map((j) => j.worker))].sort(), [0, 1], 'both workers worked');
  for (const f of [fractions, inThread]) {
    assert.ok(f.length > 0);
    for (let i = 1; i < f.length; i++)
      assert.ok((f[i] as number) >= (f[i - 1] as number), 'progress never goes back');
    assert.equal(f.at(-1), 1);
  }
});

test('an abort stops the workers with CANCELLED', async () => {
  const controller = new AbortController();
  let aborted = false;
  await assert.rejects(
    evaluateInParallel({
      ...options,
      workers: 2,
      signal: controller.signal,
      onProgress: () => {
        if (!aborted) {
          aborted = true;
          controller.abort();
        }
      },
    }),
    (err: Error & { code?: string }) => err.code === 'CANCELLED',
  );
  assert.ok(aborted);
});

test('a job that fails in a worker fails the evaluation with its own message', async () => {
  const bad = { ...options, configs: { ...options.configs, cnn: { batchSize: 0 } } };
  const sequential = await evaluateSynthetic({
    ...bad,
    classifiers: ['cnn'],
    fidelity: false,
  }).then(
    () => assert.fail('the sequential path accepted batch size 0'),
    (err: Error & { code?: string }) => err,
  );
  await assert.rejects(
    evaluateInParallel({ ...bad, workers: 2 }),
    (err: Error & { code?: string }) =>
      err.code === sequential.code && err.message === sequential.message,
  );
});

test('DP2_EVAL_WORKERS sets the number of workers; nonsense is refused in plain words', () => {
  assert.equal(evalWorkerCount({ DP2_EVAL_WORKERS: '3' }), 3);
  assert.ok(evalWorkerCount({}) >= 1 && evalWorkerCount({}) <= 2);
  assert.throws(() => evalWorkerCount({ DP2_EVAL_WORKERS: 'two' }), /whole number from 1 to 64/);
});
