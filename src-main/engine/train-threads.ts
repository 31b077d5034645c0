/**
 * How many threads a DP-SGD step uses (engine/dpsgd-threads.ts): a pure
 * decision, kept apart from the threads themselves so that the main process
 * (the memory estimate) can ask without loading TensorFlow.js.
 */
import { availableParallelism } from 'node:os';
import { workerCountFromEnv } from './worker-thread';

/** Environment variable that sets the training threads (1: the trainer's thread alone). */
export const TRAIN_THREADS_ENV = 'DP2_TRAIN_THREADS';

/**
 * Threads a DP-SGD step uses: `DP2_TRAIN_THREADS` when set, else one per
 * core (`os.availableParallelism()`, at most 8). The native TensorFlow
 * backends already use every core inside each operation and do not load
 * in worker threads, so with them it is always 1.
 */
export function trainThreadCount(args: {
  backend: string;
  env?: NodeJS.ProcessEnv;
  cores?: number;
}): number {
  if (args.backend !== 'wasm' && args.backend !== 'cpu') return 1;
  const env = args.env ?? process.env;
  if (env[TRAIN_THREADS_ENV]?.trim()) return workerCountFromEnv(TRAIN_THREADS_ENV, env);
  return Math.max(1, Math.min(8, args.cores ?? availableParallelism()));
}

/**
 * Per-record activations (engine/memory.ts' count) a thread should have in a
 * step before another thread pays for its share of the step's fixed costs
 * (the noise, the update, one synchronisation). Measured on 2 cores with the
 * presets' small model: at 128 records per step 2 threads gained nothing
 * (2 530 → 2 588 img/s), at 256 they gained 1.34×, at 1 024 1.69×; 128
 * records of that model hold about 5 MB.
 */
export const THREAD_WORK_BYTES = 5 * 2 ** 20;

/**
 * The threads worth using for steps of about `records` records that hold
 * `bytesPerRecord` each: at most `wanted`, and only as many as have
 * {@link THREAD_WORK_BYTES} of work each (at least one).
 */
export function usefulThreads(args: {
  wanted: number;
  records: number;
  bytesPerRecord: number;
}): number {
  const worth = Math.floor((args.records * args.bytesPerRecord) / THREAD_WORK_BYTES);
  return Math.max(1, Math.min(args.wanted, worth));
}
