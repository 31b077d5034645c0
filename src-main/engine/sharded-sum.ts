/**
 * A step's clipped per-record gradient sum, in this thread or spread over
 * worker threads (dpsgd-threads.ts), with N(0, 1) draws for the mechanism's
 * noise made at the same time, each thread a range of coordinates. DP-SGD
 * (dpsgd.ts) and term-wise DP-SGD (termwise.ts) both take their sums here,
 * so both train on every core with the same code.
 */
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from './backend';
import type { EngineImages } from './batches';
import { addClippedShard, writeCodes, type ShardContext, type ShardFigures } from './dpsgd-shard';
import {
  chunkSize,
  drainClipped,
  drainCodes,
  evenRange,
  recordQueue,
  sharedCopy,
  ShardThreads,
  ThreadsUnavailable,
  type RecordQueue,
  type ShardJob,
} from './dpsgd-threads';
import type { FlatParams } from './flat-params';
import type { RecordNoise } from './record-noise';
import { SecureGaussian } from './secure-noise';

/**
 * Threads a trainer can use: those asked for (default 1), or 1 where the
 * record-noise source cannot be remade in another thread (it has no spec).
 */
export function threadsWanted(recordNoise: RecordNoise, threads: number | undefined): number {
  return recordNoise.spec ? Math.max(1, threads ?? 1) : 1;
}

/** The images in shared memory (threads read them without a copy each). */
export function sharedImages(data: EngineImages): EngineImages {
  return { ...data, x: sharedCopy(data.x), y: sharedCopy(data.y) };
}

/** A step's clipped sum and noise draws, and what each thread saw. */
export interface StepSums {
  /** Σ_i clip(g_i) (plus the coupled term's gradients, if any), flat. */
  sum: Float32Array;
  /** N(0, 1) per coordinate: the caller scales it to the mechanism's noise. */
  unitNoise: Float32Array;
  figures: ShardFigures[];
}

/** The clipped sums of one trainer (module comment). */
export class ShardedSum {
  private pool: ShardThreads | null = null;
  private readonly queue: RecordQueue | null;
  private readonly sumVec: Float32Array;
  private readonly noiseVec: Float32Array;
  private readonly noise = new SecureGaussian();

  /**
   * `ctx` with its images (and posteriors, coupled buffers) already in
   * shared memory when `threads` > 1, as are `params.values`.
   */
  constructor(
    readonly ctx: ShardContext,
    private readonly params: FlatParams,
    private readonly wanted: number,
  ) {
    const d = params.size;
    this.sumVec = new Float32Array(d);
    this.noiseVec =
      wanted > 1 ? new Float32Array(new SharedArrayBuffer(4 * d)) : new Float32Array(d);
    this.queue = wanted > 1 ? recordQueue(ctx.data.count) : null;
  }

  /** Threads a step runs on: 1 until {@link start} has started the workers. */
  get threads(): number {
    return 1 + (this.pool?.count ?? 0);
  }

  /** Starts the worker threads asked for; if they cannot start, sums in this thread. */
  async start(): Promise<void> {
    const spec = this.ctx.recordNoise.spec;
    if (this.pool || this.wanted <= 1 || !spec || !this.queue) return;
    const { ctx, params } = this;
    try {
      this.pool = await ShardThreads.start({
        workers: this.wanted - 1,
        common: {
          backend: currentBackend()?.name ?? tf.getBackend(),
          arch: ctx.arch,
          data: ctx.data,
          clip: ctx.clip,
          refine: ctx.refine,
          noise: spec,
          posteriors: ctx.posteriors,
          rows: ctx.rows,
          coupled: ctx.coupled,
          nEnc: params.nEnc,
          shapes: params.shapes as number[][],
        },
        params: params.values,
        noiseOut: this.noiseVec,
        queue: this.queue,
      });
    } catch (err) {
      if (!(err instanceof ThreadsUnavailable)) throw err;
      // Slower, but the same training: better than none.
      console.warn(`${err.message}; training in one thread instead.`);
    }
  }

  /**
   * The codes z of `records` (the step's sample, in order) from their ε in
   * the coupled term's buffers, spread over the threads like the sums; a
   * view of the shared buffer, valid until the next step.
   */
  async codes(records: Uint32Array, encoder: tf.Tensor[]): Promise<Float32Array> {
    const { pool, queue, ctx } = this;
    const coupled = ctx.coupled;
    if (!coupled) throw new RangeError('Codes are computed for a coupled term only.');
    const count = records.length;
    const view = coupled.codes.subarray(0, count * ctx.arch.latent);
    if (!pool || !queue) {
      writeCodes(ctx, encoder, records);
      return view;
    }
    queue.records.set(records);
    Atomics.store(queue.next, 0, 0);
    const chunk = chunkSize({ count, threads: pool.count + 1, rows: ctx.rows });
    const others = pool.run(
      Array.from({ length: pool.count }, (): ShardJob => ({
        phase: 'codes',
        step: 0,
        count,
        chunk,
        noiseFrom: 0,
        noiseTo: 0,
      })),
    );
    others.catch(() => undefined);
    drainCodes({ ctx, encoder, queue, count, chunk });
    await others;
    return view;
  }

  /**
   * Σ_i g_i·min(1, C/‖g_i‖) over `records` (the step's sample, in order: a
   * coupled term's values are held by position in it) at noisy step `step`,
   * with `tensors` made from the current parameters. The returned vectors
   * are reused by the next call. With `divergenceOut`, the term-wise
   * divergence gradients go there instead of into the sum (in this thread
   * alone: the sensitivity tests measure each term).
   */
  async run(
    records: Uint32Array,
    step: number,
    tensors: { encoder: tf.Tensor[]; decoder: tf.Tensor[] },
    divergenceOut?: Float32Array,
  ): Promise<StepSums> {
    const { pool, queue, ctx } = this;
    const sum = this.sumVec;
    sum.fill(0);
    if (!pool || !queue || divergenceOut) {
      this.noise.fill(this.noiseVec, 1);
      const figures = addClippedShard(ctx, tensors, records, step, sum, divergenceOut ?? sum);
      return { sum, unitNoise: this.noiseVec, figures: [figures] };
    }
    const parts = pool.count + 1;
    const d = sum.length;
    queue.records.set(records);
    Atomics.store(queue.next, 0, 0);
    const count = records.length;
    const chunk = chunkSize({ count, threads: parts, rows: ctx.rows });
    // The workers read the parameters from shared memory, as this thread does.
    const others = pool.run(
      Array.from({ length: pool.count }, (_, w): ShardJob => {
        const range = evenRange(d, parts, w + 1);
        return { step, count, chunk, noiseFrom: range.from, noiseTo: range.to };
      }),
    );
    // Awaited below; a failure in this thread must not leave it unhandled.
    others.catch(() => undefined);
    const mine = drainClipped({ ctx, params: tensors, queue, step, count, chunk, out: sum });
    const own = evenRange(d, parts, 0);
    this.noise.fill(this.noiseVec.subarray(own.from, own.to), 1);
    const figures = [mine, ...(await others)];
    for (let w = 0; w < pool.count; w++) {
      const v = pool.sumOf(w);
      for (let i = 0; i < d; i++) sum[i] = (sum[i] as number) + (v[i] as number);
    }
    return { sum, unitNoise: this.noiseVec, figures };
  }

  /** Stops the worker threads. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }
}
