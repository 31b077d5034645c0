/**
 * The evaluation of evaluate.ts spread over a few worker threads, so that it
 * takes about half the wall time on two cores (issue 16's target: the whole
 * evaluation of 60 000 synthetic images in under 5 minutes). TensorFlow.js's
 * WebAssembly backend runs single-threaded under Node, so one thread uses
 * one core; each worker thread loads its own backend.
 *
 * The jobs are the independent parts of the sequential path: one per
 * classifier and seed, and one for the feature network with the fidelity
 * figures. Each job's randomness is keyed by its own seed, so a job gives
 * the same figures in any worker and in any order: the result equals
 * evaluateSynthetic's (only the `seconds` timings differ). Jobs are handed
 * out longest first (estimated from their planned steps) to whichever
 * worker is free, which keeps the longest worker near half the total.
 *
 * Worker threads, not processes: they run wherever Node does — under tsx
 * (`npx dp2`, tests) and inside the app's evaluation helper process (an
 * Electron utility process, whose packaged build cannot fork `node`:
 * the RunAsNode fuse is off). The images go to the workers in shared
 * memory (SharedArrayBuffer), copied once.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { UserError, type ErrorPayload } from '../contract/errors';
import { currentBackend } from '../engine/backend';
import { startModuleWorker } from '../engine/worker-thread';
import type { ClassifierKind } from './classifiers';
import {
  evaluateSynthetic,
  planEvaluation,
  type EvaluationOptions,
  type EvaluationResult,
  type FidelityPart,
} from './evaluate';
import { EXTRACTOR_CONFIG } from './fidelity';
import type { EvalImages } from './images';
import { cancelled, plannedSteps, type TrainConfig } from './train';
import { planUtility, utilityResult, type UtilityPlan, type UtilityRun } from './utility';

/** Environment variable that sets the number of evaluation workers (1: no workers). */
export const EVAL_WORKERS_ENV = 'DP2_EVAL_WORKERS';

/**
 * How many workers an evaluation uses: `DP2_EVAL_WORKERS` when set, else
 * two or the number of cores if fewer (more than two gains little: the
 * three CNN runs are most of the work).
 */
export function evalWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[EVAL_WORKERS_ENV]?.trim();
  if (!raw) return Math.min(2, availableParallelism());
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) {
    throw new UserError(
      'INVALID_INPUT',
      `${EVAL_WORKERS_ENV} is "${raw}"; it must be a whole number from 1 to 64 (or unset).`,
    );
  }
  return n;
}

/** One job of a worker (messages of eval-worker.ts). */
export type EvalJob =
  | { id: number; part: 'utility'; kind: ClassifierKind; seed: number; config: TrainConfig }
  | { id: number; part: 'fidelity'; extractorConfig?: Partial<TrainConfig> };

/** What a worker is given at start: the images (shared memory) and its backend. */
export interface EvalWorkerData {
  backend: string;
  classes: number;
  synthetic: EvalImages;
  realTest: EvalImages;
  realTrain?: EvalImages;
}

/** Messages from a worker. */
export type EvalWorkerReply =
  | { type: 'progress'; id: number; step: number; steps: number }
  | {
      type: 'done';
      id: number;
      value: UtilityRun | FidelityPart;
      seconds: number;
      /** CPU seconds of the worker's thread during the job, where the system tells (Linux). */
      cpuSeconds?: number;
    }
  | { type: 'failed'; id: number; error: ErrorPayload };

/** How long one job took, and where (for benches). */
export interface JobTiming {
  /** "cnn seed 0", "feature network + fidelity". */
  job: string;
  /** Which worker ran it (0, 1, …). */
  worker: number;
  seconds: number;
  cpuSeconds?: number;
}

export interface ParallelEvaluationOptions extends EvaluationOptions {
  /** Worker threads (default {@link evalWorkerCount}); 1 runs in this thread. */
  workers?: number;
  /** Called as each job ends (benches). */
  onJob?: (timing: JobTiming) => void;
}

/**
 * Relative cost of one training step (the CNN's is 1), measured at 28×28
 * (docs/evaluation.md, "Time"): only the order of the jobs depends on it.
 */
const STEP_COST: Readonly<Record<ClassifierKind, number>> = { cnn: 1, mlp: 0.08, lr: 0.02 };
/** Relative cost of the feature network's forward pass over one image. */
const FEATURE_COST = 0.002;

/** A copy of `images` in shared memory (read by every worker, copied once). */
function shared(images: EvalImages): EvalImages {
  const x = new Uint8Array(new SharedArrayBuffer(images.x.length));
  x.set(images.x);
  const y = new Int32Array(new SharedArrayBuffer(4 * images.count));
  y.set(images.y);
  const { count, height, width, channels } = images;
  return { x, y, count, height, width, ...(channels !== undefined ? { channels } : {}) };
}

/** A worker thread of eval-worker.ts (sources or bundle: engine/worker-thread.ts). */
function startWorker(data: EvalWorkerData): Worker {
  return startModuleWorker({ here: import.meta.url, name: 'eval-worker', workerData: data });
}

/** Workers that could not start (before any job ended): the evaluation runs in this thread. */
class WorkersUnavailable extends Error {}

/** The backend this thread trains on, for the workers to load the same. */
function backendName(): string {
  return currentBackend()?.name ?? tf.getBackend();
}

const jobName = (job: EvalJob): string =>
  job.part === 'utility' ? `${job.kind} seed ${job.seed}` : 'feature network + fidelity';

/**
 * The whole evaluation of {@link evaluateSynthetic}, its jobs spread over
 * `workers` threads (module comment); the same result. Progress `fraction`
 * is the share of the whole evaluation done (estimated cost), reported by
 * the job that moved (in one thread too). An abort stops every worker at once. With one worker,
 * a single job, a caller's own extractor, or worker threads that cannot
 * start, it is {@link evaluateSynthetic} in this thread.
 */
export async function evaluateInParallel(
  options: ParallelEvaluationOptions,
): Promise<EvaluationResult> {
  const { synthetic, realTest, realTrain, signal } = options;
  const workers = options.workers ?? evalWorkerCount();
  const { classes, wantFidelity } = planEvaluation(options);
  const plan = planUtility({
    train: synthetic,
    test: realTest,
    seeds: options.seeds,
    classifiers: options.classifiers,
    configs: options.configs,
    classes,
  });
  // A trained extractor given by the caller lives in this thread: all then runs here.
  const fidelityJob = wantFidelity && options.extractor === undefined;
  // `cost`: estimated, for the order and the progress; `trained`: its training steps' share.
  const jobs: PlannedJob[] = [];
  for (const kind of plan.kinds) {
    for (const seed of plan.seeds) {
      const config = plan.configs.get(kind) as TrainConfig;
      const job: EvalJob = { id: jobs.length, part: 'utility', kind, seed, config };
      const cost = plan.stepsOf(kind, seed) * STEP_COST[kind];
      jobs.push({ job, cost, trained: cost });
    }
  }
  if (fidelityJob && realTrain) {
    const config = { ...EXTRACTOR_CONFIG, ...options.extractorConfig };
    const trained = plannedSteps(realTrain.count, config);
    // Features of the real test split, the synthetic set and a real sample of its size.
    const forwarded = realTest.count + 2 * synthetic.count;
    jobs.push({
      job: {
        id: jobs.length,
        part: 'fidelity',
        ...(options.extractorConfig ? { extractorConfig: options.extractorConfig } : {}),
      },
      cost: trained + FEATURE_COST * forwarded,
      trained,
    });
  }
  if (workers <= 1 || jobs.length < 2 || (wantFidelity && !fidelityJob)) {
    return inOneThread(options, jobs);
  }
  if (signal?.aborted) throw cancelled();
  try {
    return await runJobs(options, workers, plan, jobs, {
      backend: backendName(),
      classes,
      synthetic: shared(synthetic),
      realTest: shared(realTest),
      ...(fidelityJob && realTrain ? { realTrain: shared(realTrain) } : {}),
    });
  } catch (err) {
    if (!(err instanceof WorkersUnavailable)) throw err;
    // Slower, but the same figures: better than no evaluation.
    console.warn(`${err.message}; evaluating in one thread instead.`);
    return inOneThread(options, jobs);
  }
}

/**
 * {@link evaluateSynthetic} in this thread, its progress turned into the
 * share of the whole evaluation (utility first, then the feature network),
 * as the workers report it.
 */
function inOneThread(
  options: ParallelEvaluationOptions,
  jobs: readonly PlannedJob[],
): Promise<EvaluationResult> {
  const { onProgress } = options;
  const total = jobs.reduce((a, j) => a + j.cost, 0);
  const utility = jobs.reduce((a, j) => a + (j.job.part === 'utility' ? j.cost : 0), 0);
  const share = total > 0 ? utility / total : 1;
  return evaluateSynthetic({
    ...options,
    onProgress: (p) =>
      onProgress?.(
        p.phase === 'utility'
          ? {
              ...p,
              fraction: p.fraction * share,
              ...(p.utility ? { utility: { ...p.utility, fraction: p.fraction * share } } : {}),
            }
          : { ...p, fraction: share + p.fraction * (1 - share) },
      ),
  });
}

/** A job with its estimated cost (`trained`: the share its training steps report). */
interface PlannedJob {
  job: EvalJob;
  cost: number;
  trained: number;
}

/** Runs `jobs` on `workers` threads, longest first, and assembles the result. */
async function runJobs(
  options: ParallelEvaluationOptions,
  workers: number,
  plan: UtilityPlan,
  jobs: readonly PlannedJob[],
  data: EvalWorkerData,
): Promise<EvaluationResult> {
  const { synthetic, realTest, signal, onProgress } = options;
  const queue = [...jobs].sort((a, b) => b.cost - a.cost || a.job.id - b.job.id);
  const totalCost = jobs.reduce((a, j) => a + j.cost, 0);
  const done = new Array<number>(jobs.length).fill(0);
  let doneCost = 0;
  const results = new Map<number, UtilityRun | FidelityPart>();

  const threads: Worker[] = [];
  let onAbort = (): void => undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      const fail = (err: Error): void => {
        if (finished) return;
        finished = true;
        reject(err);
      };
      onAbort = () => fail(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
      let running = 0;
      const next = (worker: Worker): boolean => {
        const item = queue.shift();
        if (!item) return false;
        running++;
        worker.postMessage(item.job);
        return true;
      };
      const report = (job: EvalJob, step: number, steps: number): void => {
        const fraction =
          results.size === jobs.length
            ? 1
            : Math.min(1, (doneCost + done.reduce((a, b) => a + b, 0)) / totalCost);
        if (job.part === 'utility') {
          const utility = { classifier: job.kind, seed: job.seed, step, steps, fraction };
          onProgress?.({ phase: 'utility', fraction, utility });
        } else onProgress?.({ phase: 'features', fraction });
      };
      const count = Math.min(workers, jobs.length);
      for (let w = 0; w < count; w++) {
        const worker = startWorker(data);
        threads.push(worker);
        worker.on('message', (m: EvalWorkerReply) => {
          if (finished) return;
          const item = jobs[m.id] as PlannedJob;
          if (m.type === 'progress') {
            // The rest of a job's cost (feature extraction) is credited when it ends.
            done[m.id] = (item.trained * m.step) / Math.max(1, m.steps);
            report(item.job, m.step, m.steps);
          } else if (m.type === 'failed') {
            fail(new UserError(m.error.code, m.error.message));
          } else {
            running--;
            done[m.id] = 0;
            doneCost += item.cost;
            results.set(m.id, m.value);
            options.onJob?.({
              job: jobName(item.job),
              worker: w,
              seconds: m.seconds,
              ...(m.cpuSeconds !== undefined ? { cpuSeconds: m.cpuSeconds } : {}),
            });
            report(item.job, 1, 1);
            if (!next(worker) && running === 0 && queue.length === 0) {
              finished = true;
              resolve();
            }
          }
        });
        const stopped = (why: string): void =>
          fail(
            results.size === 0
              ? new WorkersUnavailable(`The evaluation's worker threads could not start (${why})`)
              : new UserError(
                  'INTERNAL',
                  `An evaluation worker stopped (${why}). Try again; if it keeps happening, set ${EVAL_WORKERS_ENV}=1 to evaluate in one thread.`,
                ),
          );
        worker.on('error', (err) => stopped(err.message));
        worker.on('exit', (code) => stopped(`exit code ${code}`));
        next(worker);
      }
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Also stops the others at once when one job failed or the caller aborted.
    await Promise.all(threads.map((t) => t.terminate()));
  }

  const runs = new Map<ClassifierKind, UtilityRun[]>(plan.kinds.map((k) => [k, []]));
  let fidelity: FidelityPart = {};
  for (const { job } of jobs) {
    const value = results.get(job.id);
    if (job.part === 'utility') runs.get(job.kind)?.push(value as UtilityRun);
    else fidelity = value as FidelityPart;
  }
  return { ...utilityResult(plan, synthetic, realTest, runs), ...fidelity };
}
