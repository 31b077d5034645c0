/**
 * Stage 1 of DP²-VAE on every core (issue 24): its groups of blocks are
 * independent (each block's encoder depends on its own seeds and records
 * only, stage1.ts), so they are shared out over threads — this one and
 * worker threads with their own TensorFlow.js backend (stage1-worker.ts) —
 * each taking the next group as it finishes one. Finished encoders come back
 * to this thread, which alone writes the encoder store, in the order they
 * finish. Stage 1 is not private (its encoders are never released), so
 * nothing here touches the accounting.
 */
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { UserError, type ErrorPayload } from '../contract/errors';
import { currentBackend } from './backend';
import { sharedCopy } from './dpsgd-threads';
import type { GroupSetup } from './stage1';
import { TRAIN_THREADS_ENV } from './train-threads';
import { startModuleWorker } from './worker-thread';

/** What a worker gets at start (the images in shared memory). */
export interface Stage1WorkerData {
  backend: string;
  setup: GroupSetup;
  groups: number[][];
}

/** Messages from a worker. */
export type Stage1Reply =
  | { type: 'ready' }
  | { type: 'step'; group: number; step: number; recon: number; kl: number }
  | { type: 'done'; group: number; flats: Float32Array[] }
  | { type: 'failed'; error: ErrorPayload };

/**
 * Trains `groups` on `threads` threads (this one included). `progress` is
 * called for every step of every group, `save` with each finished group (in
 * this thread, one at a time); `trainHere` trains a group in this thread.
 * Resolves with `aborted` true when `signal` stopped it (finished groups
 * are saved, those in progress are lost, as in one thread), and the threads
 * that trained at least one group.
 */
export async function trainGroupsInThreads(args: {
  setup: GroupSetup;
  groups: number[][];
  threads: number;
  progress: (group: number, step: number, terms: { recon: number; kl: number }) => void;
  save: (group: number, flats: Float32Array[]) => Promise<void>;
  trainHere: (group: number) => Promise<Float32Array[] | null>;
  signal?: AbortSignal | undefined;
}): Promise<{ aborted: boolean; threadsUsed: number }> {
  const { setup, groups, signal } = args;
  let next = 0;
  const take = (): number => (next < groups.length ? next++ : -1);
  // Saves run one after another, in the order groups finish.
  let saving: Promise<void> = Promise.resolve();
  const saveLater = (group: number, flats: Float32Array[]): void => {
    saving = saving.then(() => args.save(group, flats));
  };
  const data: Stage1WorkerData = {
    backend: currentBackend()?.name ?? tf.getBackend(),
    setup: {
      ...setup,
      data: { ...setup.data, x: sharedCopy(setup.data.x), y: sharedCopy(setup.data.y) },
    },
    groups,
  };
  const workers: Worker[] = [];
  const used = new Set<number>();
  let failure: Error | null = null;
  let busy = 0;
  let wakeIdle: (() => void) | null = null;
  const settle = (): void => {
    if (busy === 0 || failure) wakeIdle?.();
  };
  const dispatch = (worker: Worker, w: number): void => {
    const g = signal?.aborted || failure ? -1 : take();
    if (g < 0) return;
    busy++;
    used.add(w + 1);
    worker.postMessage(g);
  };
  // Every thread starts together: a worker takes its first group as soon as its
  // backend has loaded, and this thread waits for that (about a second).
  let starting = args.threads - 1;
  let started: () => void = () => undefined;
  const allStarted = new Promise<void>((resolve) => (started = resolve));
  const startedOne = (): void => {
    if (--starting === 0) started();
  };
  if (starting === 0) started();
  for (let w = 0; w < args.threads - 1; w++) {
    const worker = startModuleWorker({
      here: import.meta.url,
      name: 'stage1-worker',
      workerData: data,
    });
    workers.push(worker);
    // 'starting' until its backend has loaded; 'lost' when it never did.
    let state: 'starting' | 'ready' | 'lost' = 'starting';
    const lost = (why: string): void => {
      // A thread that never started leaves its share to the others.
      if (state !== 'starting') return;
      state = 'lost';
      console.warn(`A stage-1 thread could not start (${why}); the others train its share.`);
      startedOne();
    };
    worker.on('message', (m: Stage1Reply) => {
      if (m.type === 'ready') {
        state = 'ready';
        dispatch(worker, w);
        startedOne();
      } else if (m.type === 'step') {
        args.progress(m.group, m.step, { recon: m.recon, kl: m.kl });
      } else if (m.type === 'done') {
        busy--;
        saveLater(m.group, m.flats);
        dispatch(worker, w);
        settle();
      } else if (state !== 'ready') {
        lost(m.error.message);
      } else {
        failure ??= new UserError(m.error.code, m.error.message);
        settle();
      }
    });
    const stopped = (why: string): void => {
      if (state !== 'ready') return lost(why);
      failure ??= new UserError(
        'INTERNAL',
        `A training thread stopped (${why}). Start the run again; if it keeps happening, set ${TRAIN_THREADS_ENV}=1 (or dp2 train --threads 1) to train in one thread.`,
      );
      settle();
    };
    worker.on('error', (err) => stopped(err.message));
    worker.on('exit', (code) => stopped(`exit code ${code}`));
  }
  const onAbort = (): void => wakeIdle?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([allStarted, new Promise((resolve) => (wakeIdle = () => resolve(null)))]);
    wakeIdle = null;
    let aborted = false;
    for (;;) {
      if (failure) throw failure;
      const g = signal?.aborted ? -1 : take();
      if (g < 0) break;
      used.add(0);
      const flats = await args.trainHere(g);
      if (!flats) {
        aborted = true;
        break;
      }
      saveLater(g, flats);
    }
    // Wait for the workers' groups (or the signal, or a failure).
    while (busy > 0 && !failure && !signal?.aborted) {
      await new Promise<void>((resolve) => (wakeIdle = resolve));
      wakeIdle = null;
    }
    if (failure) throw failure;
    await saving;
    return { aborted: aborted || busy > 0 || next < groups.length, threadsUsed: used.size };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    for (const w of workers) {
      w.removeAllListeners();
      void w.terminate();
    }
    await saving.catch(() => undefined);
  }
}
