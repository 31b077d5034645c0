/**
 * One thread's share of a DP-SGD step (dpsgd.ts, lines 2–3 up to the noise):
 * the clipped per-record gradients of some of the step's sampled records,
 * added into a flat vector. The same code runs in the coordinating thread
 * and in every worker thread of dpsgd-threads.ts, so a step's clipped sum
 * is the same function of its records however they are spread (up to the
 * float32 order of the additions).
 *
 * Records are independent until the sum: a record's batch row, its ε (from
 * the record-noise source, keyed by record and step) and, with per-record
 * encoders, its refined posterior depend on that record alone, never on the
 * other records of its shard or on which thread holds it.
 */
import * as tf from '@tensorflow/tfjs';
import { imageSize, type Architecture, type MlpCvaeArchitecture } from './architecture';
import { recordRows, type EngineImages } from './batches';
import { clippedSum, type FlatBatch } from './dpsgd-clip';
import { disposeAll } from './params';
import {
  gatherPosteriors,
  refinePosteriors,
  scatterPosteriors,
  type PosteriorTable,
  type RefineOptions,
} from './posterior';
import type { RecordNoise } from './record-noise';
import { divergenceDeltas, encodeCodes } from './termwise-terms';

/** What a thread needs to turn records into their clipped gradient sum. */
export interface ShardContext {
  arch: Architecture;
  data: EngineImages;
  /** C: per-example clipping norm. */
  clip: number;
  /** How per-record posteriors are refined (per-record encoders), or null (an encoder network). */
  refine: RefineOptions | null;
  recordNoise: RecordNoise;
  /** Every record's posterior (per-record encoders; shared memory across threads), or null. */
  posteriors: PosteriorTable | null;
  /** Records per micro-batch (memory bound; does not change the result). */
  rows: number;
  /** Term-wise DP-SGD's batch-coupled term (termwise.ts), or null. */
  coupled: CoupledTerm | null;
}

/**
 * A step's batch-coupled term (termwise.ts): the coordinator draws every
 * sampled record's ε and computes the coupled cotangents u from all the
 * codes before the shards run; both are held by the record's position in
 * the step's sample (shared memory when threads read them).
 */
export interface CoupledTerm {
  /** 'termwise': G₂ = Σ_i s_i J_iᵀ λu_i beside the clipped sum; 'naive': λu_i joins each record's clipped gradient. */
  mode: 'termwise' | 'naive';
  /** λ, the weight of the coupled term. */
  weight: number;
  /** C₂, the bound on one record's own divergence gradient. */
  clip: number;
  /** ε of the record at each position, [capacity · latent]. */
  eps: Float32Array;
  /** u of the record at each position (λ not applied), [capacity · latent]. */
  cotangents: Float32Array;
  /** The code z of the record at each position (computed before u), [capacity · latent]. */
  codes: Float32Array;
}

/** A shard's private figures, summed over its records. */
export interface ShardFigures {
  /** Records in the shard. */
  records: number;
  /** Σ of the −ELBO terms (nats). */
  recon: number;
  kl: number;
  /** Records whose gradient was clipped. */
  clipped: number;
}

/** The figures of a step's shards, added up. */
export function sumFigures(figures: readonly ShardFigures[]): ShardFigures {
  return figures.reduce(
    (a, f) => ({
      records: a.records + f.records,
      recon: a.recon + f.recon,
      kl: a.kl + f.kl,
      clipped: a.clipped + f.clipped,
    }),
    { records: 0, recon: 0, kl: 0, clipped: 0 },
  );
}

/**
 * The 2-D batch of `records` for noisy step `step`; each record's ε comes
 * from the record-noise source for that record alone. With per-record
 * encoders the batch carries each record's posterior refined against
 * `decoder` (written back by {@link addClippedShard}, not here).
 */
export function shardBatch(
  ctx: ShardContext,
  decoder: readonly tf.Tensor[],
  records: Uint32Array,
  step: number,
  at = 0,
): FlatBatch {
  const { arch, data, refine } = ctx;
  const n = records.length;
  const d = imageSize(arch);
  const c = arch.classes;
  const { x, y } = recordRows(arch, data, records);
  const k = arch.latent;
  if (ctx.coupled) {
    // ε was drawn per record by the coordinator, which needed every code first.
    return {
      x: tf.tensor2d(x, [n, d]),
      y: tf.tensor2d(y, [n, c]),
      eps: tf.tensor2d(ctx.coupled.eps.slice(at * k, (at + n) * k), [n, k]),
    };
  }
  // Per record and step: K draws of ε for the decoder's gradient, then K per refinement step.
  const K = refine?.samples ?? 1;
  const draws = K * (1 + (refine ? Math.max(refine.steps, refine.firstVisitSteps) : 0));
  const noise = new Float32Array(n * k * draws);
  for (let r = 0; r < n; r++)
    ctx.recordNoise.fill({
      record: records[r] as number,
      step,
      out: noise.subarray(r * k * draws, (r + 1) * k * draws),
    });
  // The j-th group of K draws of every record, record-major ([n·K·latent]).
  const epsOf = (j: number): Float32Array => {
    const out = new Float32Array(n * K * k);
    for (let r = 0; r < n; r++)
      out.set(noise.subarray((r * draws + j * K) * k, (r * draws + (j + 1) * K) * k), r * K * k);
    return out;
  };
  const batch: FlatBatch = {
    x: tf.tensor2d(x, [n, d]),
    y: tf.tensor2d(y, [n, c]),
    eps: tf.tensor2d(epsOf(0), [n * K, k]),
    ...(K > 1 ? { samples: K } : {}),
  };
  const table = ctx.posteriors;
  if (!refine || !table) return batch;
  const refined = refinePosteriors(
    arch,
    decoder,
    {
      x: batch.x,
      y: batch.y,
      ...gatherPosteriors(table, records),
      stepsOf: Uint8Array.from(records, (rec) =>
        table.visits[rec] === 0 ? refine.firstVisitSteps : refine.steps,
      ),
      eps: Array.from({ length: draws / K - 1 }, (_, j) => epsOf(j + 1)),
    },
    { lr: refine.lr, samples: K },
  );
  batch.posterior = {
    mu: tf.tensor2d(refined.mu, [n, k]),
    logvar: tf.tensor2d(refined.logvar, [n, k]),
  };
  return batch;
}

/**
 * Clipped gradient sums kept on the backend across micro-batches (and a
 * thread's chunks of a step), so that they are read back once per step.
 */
export interface ShardSums {
  /** Σ of the clipped gradients so far, one tensor per parameter (null: none yet). */
  grads: tf.Tensor[] | null;
  /** Σ of term-wise divergence gradients so far, one tensor per encoder parameter (null: none). */
  divergence: tf.Tensor[] | null;
  figures: ShardFigures;
}

/** Nothing summed yet. */
export function emptySums(): ShardSums {
  return { grads: null, divergence: null, figures: { records: 0, recon: 0, kl: 0, clipped: 0 } };
}

/** `into` + `add`, element by element (both freed; null `into`: `add` itself). */
function plus(into: tf.Tensor[] | null, add: tf.Tensor[]): tf.Tensor[] {
  if (!into) return add;
  const out = add.map((g, i) => tf.add(into[i] as tf.Tensor, g));
  disposeAll([...into, ...add]);
  return out;
}

/**
 * Adds Σ_i g_i·min(1, C/‖g_i‖) over `records` to `sums`, micro-batch by
 * micro-batch, and writes refined posteriors back to the table. With a
 * coupled term, naive: g_i includes J_iᵀλu_i; term-wise: the divergence
 * gradients Σ_i s_i J_iᵀλu_i (termwise-terms.ts) join the sum, or with
 * `apart` go to `sums.divergence`. `at` is the position of `records[0]` in
 * the step's sample.
 */
export function accumulateClipped(
  ctx: ShardContext,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  records: Uint32Array,
  step: number,
  sums: ShardSums,
  { at = 0, apart = false }: { at?: number; apart?: boolean } = {},
): void {
  const figures = sums.figures;
  const { coupled } = ctx;
  const L = ctx.arch.latent;
  figures.records += records.length;
  for (let s = 0; s < records.length; s += ctx.rows) {
    const part = records.subarray(s, s + ctx.rows);
    const from = at + s;
    const u = coupled?.cotangents.subarray(from * L, (from + part.length) * L);
    const batch = shardBatch(ctx, params.decoder, part, step, from);
    if (coupled?.mode === 'naive' && u)
      batch.zCotangent = tf.tensor2d(
        Float32Array.from(u, (v) => v * coupled.weight),
        [part.length, L],
      );
    if (coupled?.mode === 'termwise' && u)
      batch.added = {
        outputGradients: (act) => divergenceDeltas(act, u, coupled).deltas,
        apart,
      };
    let sum;
    try {
      sum = clippedSum(ctx.arch, params, batch, ctx.clip);
      if (batch.posterior && ctx.posteriors) {
        scatterPosteriors(ctx.posteriors, part, {
          mu: batch.posterior.mu.dataSync() as Float32Array,
          logvar: batch.posterior.logvar.dataSync() as Float32Array,
        });
      }
      if (sum.added) sums.divergence = plus(sums.divergence, sum.added);
    } finally {
      tf.dispose([batch.x, batch.y, batch.eps]);
      if (batch.zCotangent) batch.zCotangent.dispose();
      if (batch.posterior) tf.dispose([batch.posterior.mu, batch.posterior.logvar]);
    }
    sums.grads = plus(sums.grads, sum.grads);
    figures.recon += sum.reconSum;
    figures.kl += sum.klSum;
    for (const n of sum.norms) if (n > ctx.clip * (1 - 1e-5)) figures.clipped++;
  }
}

/**
 * Adds the sums into `out` (encoder then decoder parameters, flattened in
 * order) and the divergence gradients into `divergenceOut` (default `out`:
 * the update uses G₁ + G₂), frees their tensors and returns the figures.
 */
export function readSums(
  sums: ShardSums,
  out: Float32Array,
  divergenceOut: Float32Array = out,
): ShardFigures {
  const addInto = (target: Float32Array, grads: tf.Tensor[] | null): void => {
    let off = 0;
    for (const g of grads ?? []) {
      const v = g.dataSync() as Float32Array;
      for (let i = 0; i < v.length; i++)
        target[off + i] = (target[off + i] as number) + (v[i] as number);
      off += v.length;
    }
  };
  addInto(out, sums.grads);
  addInto(divergenceOut, sums.divergence);
  disposeSums(sums);
  return sums.figures;
}

/** Frees the sums' tensors. */
export function disposeSums(sums: ShardSums): void {
  disposeAll(sums.grads);
  disposeAll(sums.divergence);
  sums.grads = null;
  sums.divergence = null;
}

/** {@link accumulateClipped} then {@link readSums}: the clipped sum of `records` added into `out`. */
export function addClippedShard(
  ctx: ShardContext,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  records: Uint32Array,
  step: number,
  out: Float32Array,
  divergenceOut: Float32Array = out,
): ShardFigures {
  const sums = emptySums();
  try {
    accumulateClipped(ctx, params, records, step, sums, { apart: divergenceOut !== out });
    return readSums(sums, out, divergenceOut);
  } finally {
    disposeSums(sums);
  }
}

/**
 * The codes z of `records` (positions `at`… of the step's sample) into the
 * coupled term's `codes`, from their ε there, micro-batch by micro-batch:
 * the first half of a term-wise step (termwise.ts), before the cotangents.
 */
export function writeCodes(
  ctx: ShardContext,
  encoder: readonly tf.Tensor[],
  records: Uint32Array,
  at = 0,
): void {
  const coupled = ctx.coupled;
  if (!coupled) throw new RangeError('Codes are computed for a coupled term only.');
  const arch = ctx.arch as MlpCvaeArchitecture;
  const L = arch.latent;
  for (let s = 0; s < records.length; s += ctx.rows) {
    const part = records.subarray(s, s + ctx.rows);
    const n = part.length;
    const from = at + s;
    const { x, y } = recordRows(arch, ctx.data, part);
    const z = tf.tidy(() =>
      encodeCodes(
        arch,
        encoder,
        tf.tensor2d(x, [n, imageSize(arch)]),
        tf.tensor2d(y, [n, arch.classes]),
        tf.tensor2d(coupled.eps.subarray(from * L, (from + n) * L), [n, L]),
      ),
    );
    coupled.codes.set(z.dataSync() as Float32Array, from * L);
    z.dispose();
  }
}
