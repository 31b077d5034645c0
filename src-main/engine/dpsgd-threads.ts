/**
 * Data-parallel DP-SGD on every core (issue 24): TensorFlow.js's WebAssembly
 * backend runs one thread under Node, so a step's records are spread over
 * worker threads, each with its own backend. Per step:
 *
 *   1. the parameters are in shared memory (the coordinator, the trainer's
 *      thread, writes them after each update); it puts the step's Poisson
 *      sample into a shared queue and wakes every worker;
 *   2. every thread, the coordinator included, takes chunks of records from
 *      the queue until it is empty (an atomic counter; a chunk is an even
 *      share, at most one micro-batch, so where a step holds more records a
 *      thread that runs slower simply takes fewer chunks), adds their clipped
 *      per-record gradients into its own vector (dpsgd-shard.ts: the same
 *      code as in one thread) and draws N(0, 1) values for its fixed range
 *      of the mechanism's noise from its own node:crypto CSPRNG;
 *   3. the coordinator adds the vectors once, scales the noise to the
 *      mechanism's (σ·C, or each term's for term-wise DP-SGD) and makes
 *      the update.
 *
 * The mechanism is unchanged: one clipped term per sampled record, each
 * record's ε keyed by record and step (or fresh from the CSPRNG), noise of
 * the same law on every coordinate, from the operating system's CSPRNG in
 * whichever thread draws it. One synchronisation per step: on a loaded
 * machine fine-grained threading loses (docs/performance.md).
 */
import type { Worker } from 'node:worker_threads';
import { UserError, type ErrorPayload } from '../contract/errors';
import type { Architecture } from './architecture';
import type { EngineImages } from './batches';
import type * as tf from '@tensorflow/tfjs';
import {
  accumulateClipped,
  disposeSums,
  emptySums,
  readSums,
  writeCodes,
  type CoupledTerm,
  type ShardContext,
  type ShardFigures,
} from './dpsgd-shard';
import type { PosteriorTable, RefineOptions } from './posterior';
import type { RecordNoiseSpec } from './record-noise';
import { TRAIN_THREADS_ENV } from './train-threads';
import { startModuleWorker } from './worker-thread';

/** `n` items in `parts` contiguous ranges of near-equal length: [from, to) of part `i`. */
export function evenRange(n: number, parts: number, i: number): { from: number; to: number } {
  return { from: Math.floor((i * n) / parts), to: Math.floor(((i + 1) * n) / parts) };
}

/** What a worker gets at start (shared memory stays shared). */
export interface ShardWorkerData {
  backend: string;
  arch: Architecture;
  data: EngineImages;
  clip: number;
  refine: RefineOptions | null;
  noise: RecordNoiseSpec;
  posteriors: PosteriorTable | null;
  rows: number;
  /** Term-wise DP-SGD's coupled term (its buffers in shared memory), or null. */
  coupled: CoupledTerm | null;
  /** Encoder tensors first (0 with per-record encoders). */
  nEnc: number;
  /** The parameters' shapes ([1, ...spec shape]). */
  shapes: number[][];
  /** The current parameters, flat (written by the coordinator before each step). */
  params: Float32Array;
  /** This worker's clipped sum, flat. */
  sum: Float32Array;
  /** N(0, 1) draws for the mechanism's noise, flat; each thread fills its own range. */
  noiseOut: Float32Array;
  /** The step's records, taken chunk by chunk by every thread. */
  queue: RecordQueue;
}

/** A step's records in shared memory and the next chunk to take. */
export interface RecordQueue {
  /** Room for every record of the data set; a step uses the first `count`. */
  records: Uint32Array;
  /** [0]: the index of the next chunk to take (Atomics). */
  next: Int32Array;
}

/** A queue for steps of up to `capacity` records (shared memory). */
export function recordQueue(capacity: number): RecordQueue {
  return {
    records: new Uint32Array(new SharedArrayBuffer(4 * Math.max(1, capacity))),
    next: new Int32Array(new SharedArrayBuffer(4)),
  };
}

/**
 * Takes chunks of `chunk` records from the queue's first `count` until every
 * record has been taken by some thread, and adds their clipped per-record
 * gradients into `out` (dpsgd-shard.ts; read back once).
 */
export function drainClipped(args: {
  ctx: ShardContext;
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] };
  queue: RecordQueue;
  step: number;
  count: number;
  chunk: number;
  out: Float32Array;
}): ShardFigures {
  const sums = emptySums();
  const { queue, count, chunk } = args;
  try {
    for (;;) {
      const from = Atomics.add(queue.next, 0, 1) * chunk;
      if (from >= count) break;
      const records = queue.records.subarray(from, Math.min(count, from + chunk));
      accumulateClipped(args.ctx, args.params, records, args.step, sums, { at: from });
    }
    return readSums(sums, args.out);
  } finally {
    disposeSums(sums);
  }
}

/**
 * Takes chunks of the queue's first `count` records, as {@link drainClipped},
 * and writes their codes into the coupled term's buffer (dpsgd-shard.ts writeCodes).
 */
export function drainCodes(args: {
  ctx: ShardContext;
  encoder: readonly tf.Tensor[];
  queue: RecordQueue;
  count: number;
  chunk: number;
}): void {
  const { queue, count, chunk } = args;
  for (;;) {
    const from = Atomics.add(queue.next, 0, 1) * chunk;
    if (from >= count) break;
    const records = queue.records.subarray(from, Math.min(count, from + chunk));
    writeCodes(args.ctx, args.encoder, records, from);
  }
}

/**
 * Records per chunk: an even share of the step's `count` over the threads,
 * at most one micro-batch of `rows` (where larger steps are shared out
 * chunk by chunk). Small chunks would even out threads that run at
 * different speeds, but cost more than they save: on 2 cores, chunks of
 * 64–256 records made a step of 1024 slower than two of 512 (docs/performance.md).
 */
export function chunkSize(args: { count: number; threads: number; rows: number }): number {
  return Math.max(1, Math.min(args.rows, Math.ceil(args.count / args.threads)));
}

/** A step for one worker: the queue holds its records. */
export interface ShardJob {
  /** 'codes': only the coupled term's codes (no sums, no noise); default the clipped sums. */
  phase?: 'codes';
  step: number;
  /** Records in the queue, and how many a chunk takes. */
  count: number;
  chunk: number;
  /** Coordinates [noiseFrom, noiseTo) get N(0, 1) draws (the coordinator scales them). */
  noiseFrom: number;
  noiseTo: number;
}

export type ShardReply =
  | { type: 'ready' }
  | { type: 'done'; figures: ShardFigures }
  | { type: 'failed'; error: ErrorPayload };

/** Shared memory holding a copy of `a` (returned as is when it already is shared). */
export function sharedCopy<T extends Float32Array | Uint8Array | Uint32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a as unknown as ArrayLike<number>);
  return out;
}

/** Threads could not start: the caller trains in one thread. */
export class ThreadsUnavailable extends Error {}

/** The worker threads of one trainer (module comment). */
export class ShardThreads {
  private constructor(
    private readonly workers: Worker[],
    private readonly data: ShardWorkerData[],
    /** Set when a worker stops or fails outside a step. */
    private broken: Error | null,
    private pending: ((reply: ShardReply | Error, w: number) => void) | null,
  ) {}

  /** Workers in the pool (the coordinator is one more thread). */
  get count(): number {
    return this.workers.length;
  }

  /**
   * Starts `workers` threads and waits until each has loaded its backend.
   * Rejects with ThreadsUnavailable when one cannot start.
   */
  static async start(args: {
    workers: number;
    common: Omit<ShardWorkerData, 'params' | 'sum' | 'noiseOut' | 'queue'>;
    params: Float32Array;
    noiseOut: Float32Array;
    queue: RecordQueue;
  }): Promise<ShardThreads> {
    const dim = args.params.length;
    const data = Array.from({ length: args.workers }, () => ({
      ...args.common,
      params: args.params,
      noiseOut: args.noiseOut,
      queue: args.queue,
      sum: new Float32Array(new SharedArrayBuffer(4 * dim)),
    }));
    const workers: Worker[] = [];
    const pool = new ShardThreads(workers, data, null, null);
    try {
      await new Promise<void>((resolve, reject) => {
        let ready = 0;
        data.forEach((d, w) => {
          const worker = startModuleWorker({
            here: import.meta.url,
            name: 'dpsgd-worker',
            workerData: d,
          });
          worker.unref();
          workers.push(worker);
          worker.on('message', (m: ShardReply) => {
            if (pool.pending) pool.pending(m, w);
            else if (m.type === 'ready') {
              if (++ready === data.length) resolve();
            } else if (m.type === 'failed') {
              reject(new ThreadsUnavailable(m.error.message));
            }
          });
          const stopped = (why: string): void => {
            const err = new Error(`a training thread stopped (${why})`);
            pool.broken ??= err;
            if (pool.pending) pool.pending(err, w);
            reject(new ThreadsUnavailable(err.message));
          };
          worker.on('error', (err) => stopped(err.message));
          worker.on('exit', (code) => stopped(`exit code ${code}`));
        });
      });
    } catch (err) {
      pool.dispose();
      throw err;
    }
    return pool;
  }

  /**
   * Sends `jobs[w]` to worker w (the parameters and the records must already
   * be in shared memory) and resolves with every worker's figures once all
   * are done; their sums are then in {@link sumOf}.
   */
  run(jobs: readonly ShardJob[]): Promise<ShardFigures[]> {
    if (this.broken) return Promise.reject(stoppedError(this.broken));
    return new Promise((resolve, reject) => {
      const figures: ShardFigures[] = new Array<ShardFigures>(jobs.length);
      let left = jobs.length;
      let failed = false;
      this.pending = (reply, w) => {
        if (failed) return;
        if (reply instanceof Error || reply.type === 'failed') {
          failed = true;
          this.pending = null;
          reject(
            reply instanceof Error
              ? stoppedError(reply)
              : new UserError(reply.error.code, reply.error.message),
          );
          return;
        }
        if (reply.type !== 'done') return;
        figures[w] = reply.figures;
        if (--left === 0) {
          this.pending = null;
          resolve(figures);
        }
      };
      jobs.forEach((job, w) => (this.workers[w] as Worker).postMessage(job));
    });
  }

  /** Worker w's clipped sum of the last step (shared memory). */
  sumOf(w: number): Float32Array {
    return (this.data[w] as ShardWorkerData).sum;
  }

  /** Stops every worker. */
  dispose(): void {
    this.pending = null;
    for (const w of this.workers) {
      w.removeAllListeners();
      void w.terminate();
    }
    this.workers.length = 0;
  }
}

function stoppedError(err: Error): UserError {
  return new UserError(
    'INTERNAL',
    `Training stopped: ${err.message}. Start the run again; if it keeps happening, set ${TRAIN_THREADS_ENV}=1 (or dp2 train --threads 1) to train in one thread.`,
  );
}
