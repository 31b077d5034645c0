/**
 * The prior's features (features.ts) computed on a few worker threads, so
 * that the features of 60 000 images take about half the wall time on two
 * cores (issue #18's target: under 60 s). TensorFlow.js's WebAssembly backend
 * runs single-threaded under Node, so one thread uses one core; each worker
 * thread loads its own backend (the parent's) and its own copy of the prior,
 * checked against its SHA-256 there too.
 *
 * A per-record map of the features (feature-map.ts: the public whitening of
 * a private classifier's inputs, say) can be applied where they are computed,
 * so the workers share that work too and the raw features never exist here.
 *
 * The images go to the workers in shared memory, copied once, and are cut
 * into contiguous chunks handed to whichever worker is free (so a worker on a
 * busier core simply takes fewer). Every chunk starts on a multiple of the
 * batch size: each batch then holds the very images it holds in one thread,
 * and the features are the same, bit for bit. Each chunk's features come
 * back as a transferred Float32Array and are copied into place.
 */
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { UserError, type ErrorPayload } from '../contract/errors';
import { currentBackend } from '../engine/backend';
import { startModuleWorker, workerCountFromEnv } from '../engine/worker-thread';
import type { FeatureMap } from './feature-map';
import { FEATURE_BATCH, extractFeatures, networkSize, type ImageBytes } from './features';
import { disposeNet, type FeatureReadout, type FoldedNet } from './network/feature-net';
import { DEFAULT_PRIOR, loadPrior, priorsFolder } from './prior-file';

/** Environment variable that sets the number of feature workers (1: no workers). */
export const FEATURE_WORKERS_ENV = 'DP2_FEATURE_WORKERS';

/**
 * How many worker threads compute features: `DP2_FEATURE_WORKERS` when set,
 * else two or the number of cores if fewer.
 */
export function featureWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  return workerCountFromEnv(FEATURE_WORKERS_ENV, env);
}

/** Options of {@link extractFeaturesInParallel}. */
export interface ParallelFeatureOptions {
  /** Name of the prior (default the shipped one). */
  prior?: string;
  /** Folder holding it (default {@link priorsFolder}). */
  folder?: string;
  readout: FeatureReadout;
  /** Images per batch (default {@link FEATURE_BATCH}); chunks are whole batches. */
  batchSize?: number;
  /**
   * Most worker threads (default {@link featureWorkerCount}); 1 runs in this
   * thread. Fewer run when there are too few images to repay their start.
   */
  workers?: number;
  /**
   * The same prior, already loaded in this thread: used (and left to the
   * caller) when the features are computed here; else it is loaded here then.
   */
  net?: FoldedNet;
  /** Least work per worker, in pixels at the network's size (default {@link MIN_PIXELS_PER_WORKER}). */
  minPixelsPerWorker?: number;
  /** Images done so far, over all workers; never goes back. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the work (every worker at once) with a CANCELLED error. */
  signal?: AbortSignal;
  /** A per-record map applied to the features where they are computed (feature-map.ts). */
  map?: FeatureMap;
}

/** Features [count × dims] row-major, and how many threads computed them. */
export interface ParallelFeatures {
  features: Float32Array;
  dims: number;
  /** Worker threads that ran (1: this thread, by choice or because workers could not start). */
  threads: number;
}

/** What a feature worker is given at start. */
export interface FeatureWorkerData {
  backend: string;
  prior: string;
  folder: string;
  readout: FeatureReadout;
  batchSize: number;
  /** Every image, `x` in shared memory. */
  images: ImageBytes;
  map?: FeatureMap;
}

/** One chunk of images for a worker: images [start, end). */
export interface FeatureChunk {
  id: number;
  start: number;
  end: number;
}

/** Messages from a feature worker. */
export type FeatureWorkerReply =
  | { type: 'progress'; id: number; done: number }
  | { type: 'done'; id: number; features: Float32Array; dims: number }
  | { type: 'failed'; id: number; error: ErrorPayload };

/**
 * Least work worth a worker thread: 2 048 images of 28×28 (2–3 s on one
 * core). Starting one takes 1–2 s (measured on the busy 2-core development
 * machine: 1.1 s bundled, 1.6 s under tsx; two at once under tsx add about
 * 4 s to 512 images, bench/priors-features.ts --count 512), so fewer images
 * are done sooner in this thread.
 */
export const MIN_PIXELS_PER_WORKER = 2048 * 28 * 28;

/** Chunks per worker: enough for a busier core to take fewer, few enough to cost nothing. */
const CHUNKS_PER_WORKER = 4;

function cancelled(): UserError {
  return new UserError('CANCELLED', 'The features were cancelled before they finished.');
}

/** Workers that could not start (before any chunk ended): the features are computed here. */
class WorkersUnavailable extends Error {}

/** Contiguous chunks of `count` images, each starting on a multiple of `batch`. */
export function featureChunks(count: number, batch: number, workers: number): FeatureChunk[] {
  const batches = Math.ceil(count / batch);
  const per = Math.max(1, Math.ceil(batches / (workers * CHUNKS_PER_WORKER))) * batch;
  const chunks: FeatureChunk[] = [];
  for (let start = 0; start < count; start += per) {
    chunks.push({ id: chunks.length, start, end: Math.min(count, start + per) });
  }
  return chunks;
}

/**
 * How many threads {@link extractFeaturesInParallel} uses for images of this
 * size with at most `workers`: fewer when the work would not repay their
 * start ({@link MIN_PIXELS_PER_WORKER}) or is less than two batches; 1 means
 * this thread (unless workers cannot start, the number that runs).
 */
export function plannedFeatureThreads(
  images: Pick<ImageBytes, 'count' | 'height' | 'width'>,
  workers: number,
  options: Pick<ParallelFeatureOptions, 'batchSize' | 'minPixelsPerWorker'> = {},
): number {
  const size = networkSize(images.height, images.width);
  const pixels = images.count * size.height * size.width;
  const worth = Math.floor(pixels / (options.minPixelsPerWorker ?? MIN_PIXELS_PER_WORKER));
  const threads = Math.min(workers, Math.max(1, worth));
  const chunks = featureChunks(images.count, options.batchSize ?? FEATURE_BATCH, threads);
  return Math.min(threads, chunks.length);
}

/** `images` with its pixels in shared memory (as they are, when they already are). */
function shared(images: ImageBytes): ImageBytes {
  if (images.x.buffer instanceof SharedArrayBuffer) return images;
  const x = new Uint8Array(new SharedArrayBuffer(images.x.length));
  x.set(images.x);
  return { ...images, x };
}

/**
 * The features of every image under the prior, [count × dims] row-major, as
 * {@link extractFeatures} gives them in one thread (bit for bit), computed on
 * `workers` threads (module comment). A worker's error (the prior missing or
 * altered, say) is thrown here as the same UserError. With one worker, too
 * little work ({@link plannedFeatureThreads}), or worker threads that cannot
 * start, it is {@link extractFeatures} in this thread.
 */
export async function extractFeaturesInParallel(
  images: ImageBytes,
  options: ParallelFeatureOptions,
): Promise<ParallelFeatures> {
  const workers = options.workers ?? featureWorkerCount();
  const batchSize = options.batchSize ?? FEATURE_BATCH;
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new UserError('INVALID_INPUT', `The number of feature workers must be at least 1.`);
  }
  if (options.signal?.aborted) throw cancelled();
  const threads = plannedFeatureThreads(images, workers, options);
  if (threads <= 1) return inThisThread(images, options);
  const chunks = featureChunks(images.count, batchSize, threads);
  try {
    return await runChunks(images, options, threads, chunks, {
      backend: currentBackend()?.name ?? tf.getBackend(),
      prior: options.prior ?? DEFAULT_PRIOR,
      folder: options.folder ?? priorsFolder(),
      readout: options.readout,
      batchSize,
      images: shared(images),
      ...(options.map ? { map: options.map } : {}),
    });
  } catch (err) {
    if (!(err instanceof WorkersUnavailable)) throw err;
    // Slower, but the same features: better than none.
    console.warn(`${err.message}; computing the features in one thread instead.`);
    return inThisThread(images, options);
  }
}

/** {@link extractFeatures} in this thread, on the caller's net or the prior loaded here. */
async function inThisThread(
  images: ImageBytes,
  options: ParallelFeatureOptions,
): Promise<ParallelFeatures> {
  const { signal, onProgress } = options;
  const net = options.net ?? loadPrior(options.prior, options.folder ?? priorsFolder()).net;
  try {
    const { features, dims } = await extractFeatures(net, images, {
      readout: options.readout,
      map: options.map,
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      // Called between batches (nothing held): the place to stop.
      onProgress: (done, total) => {
        if (signal?.aborted) throw cancelled();
        onProgress?.(done, total);
      },
    });
    return { features, dims, threads: 1 };
  } finally {
    if (!options.net) disposeNet(net);
  }
}

/** Runs `chunks` on `workers` threads, each to whichever is free, and assembles the features. */
async function runChunks(
  images: ImageBytes,
  options: ParallelFeatureOptions,
  workers: number,
  chunks: readonly FeatureChunk[],
  data: FeatureWorkerData,
): Promise<ParallelFeatures> {
  const { signal, onProgress } = options;
  const queue = [...chunks];
  const done = new Array<number>(chunks.length).fill(0);
  let finishedChunks = 0;
  let out: Float32Array | undefined;
  let dims = 0;

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
      const next = (worker: Worker): void => {
        const chunk = queue.shift();
        if (chunk) worker.postMessage(chunk);
      };
      const report = (): void =>
        onProgress?.(
          done.reduce((a, b) => a + b, 0),
          images.count,
        );
      const count = Math.min(workers, chunks.length);
      for (let w = 0; w < count; w++) {
        let worker: Worker;
        try {
          worker = startModuleWorker({
            here: import.meta.url,
            name: 'features-worker',
            workerData: data,
          });
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          fail(new WorkersUnavailable(`The feature worker threads could not start (${why})`));
          return;
        }
        threads.push(worker);
        worker.on('message', (m: FeatureWorkerReply) => {
          if (finished) return;
          const chunk = chunks[m.id] as FeatureChunk;
          if (m.type === 'progress') {
            done[m.id] = m.done;
            report();
          } else if (m.type === 'failed') {
            fail(new UserError(m.error.code, m.error.message));
          } else {
            if (!out) {
              dims = m.dims;
              out = new Float32Array(images.count * dims);
            }
            out.set(m.features, chunk.start * dims);
            done[m.id] = chunk.end - chunk.start;
            finishedChunks++;
            report();
            if (finishedChunks === chunks.length) {
              finished = true;
              resolve();
            } else next(worker);
          }
        });
        const stopped = (why: string): void =>
          fail(
            finishedChunks === 0
              ? new WorkersUnavailable(`The feature worker threads could not start (${why})`)
              : new UserError(
                  'INTERNAL',
                  `A feature worker stopped (${why}). Try again; if it keeps happening, set ${FEATURE_WORKERS_ENV}=1 to compute the features in one thread.`,
                ),
          );
        worker.on('error', (err) => stopped(err.message));
        worker.on('exit', (code) => stopped(`exit code ${code}`));
        next(worker);
      }
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Also stops the others at once when one failed or the caller aborted.
    await Promise.all(threads.map((t) => t.terminate()));
  }
  return { features: out as Float32Array, dims, threads: threads.length };
}
