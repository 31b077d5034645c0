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
