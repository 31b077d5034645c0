/**
 * Stage 1 of DP²-VAE — Algorithm 1 of Jiang et al. (arXiv 2208.03409): for
 * every block D_k of the partition, a fresh encoder θ_k and a fresh decoder
 * are trained NON-privately on D_k (negative ELBO, Adam, the batch gradient
 * of each model clipped to norm C). The encoders are kept (EncoderStore),
 * the decoders discarded.
 *
 * Blocks are independent, so G of them train at once as ONE batched
 * computation: parameters are stacked [G, ...] and every dense layer is a 3-D
 * batched matmul. A block's result depends only on its own seed stream, not on
 * the group it is trained in (tested: grouped = one-by-one).
 *
 * Memory: only the current group lives in memory (≈ 12 × 4 bytes × 1.08 M
 * parameters per model of the default CVAE ≈ 52 MB); every finished group's
 * encoders go to disk (EncoderStore, fsynced), so K = 2500 needs ≈ 5.4 GB of
 * disk and about `groupSize` × 52 MB of memory. A stopped stage 1 resumes by
 * training only the blocks whose encoder is not on disk.
 */
import { activationBytesPerRecord } from './memory';
import type { Tensor } from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { parameterCount, type Architecture } from './architecture';
import { checkImages, disposeBatch, makeBatch, type EngineImages } from './batches';
import { elboGradients } from './cvae';
import type { EncoderStore } from './encoder-store';
import {
  clipByGroupNorm,
  disposeOptimizer,
  initOptimizer,
  optimizerStep,
  type OptimizerState,
} from './optim';
import { allFlat, disposeAll, initParams } from './params';
import { blockRecords, largestBlock, type Partition } from './partition';
import { mixSeed, SeededRng } from './rng';
import { trainGroupsInThreads } from './stage1-threads';
import { yieldToEvents } from './cooperate';

const STAGE1_STREAM = 0x737431; // "st1"

export interface Stage1Options {
  /** Run seed: initialisation of θ_k and the block decoders, batch order, ε. */
  seed: number;
  /** Passes over the largest block (default 20): `steps` = ⌈epochs·⌈N/K⌉ / min(B, ⌈N/K⌉)⌉. */
  epochs?: number;
  /** Optimiser steps per block; overrides `epochs`. */
  steps?: number;
  /** Batch size B (default 64); a block smaller than B is one whole batch. */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Clipping norm C of each model's batch gradient (encoder and decoder together; default 1). */
  clip?: number;
  /** Blocks trained together (default: as many as fit `memoryBudgetBytes`, at most 32). */
  groupSize?: number;
  /** Memory for one group (default 1 GiB). */
  memoryBudgetBytes?: number;
  /** Train only these blocks (default: every block not yet in the store). */
  only?: readonly number[];
}

export interface Stage1Progress {
  /** 0-based index of the group being trained and the number of groups in this call. */
  group: number;
  groups: number;
  /** Steps done in this group, and per group. */
  step: number;
  steps: number;
  /** Encoders finished (on disk) and the total K. */
  blocksDone: number;
  blocks: number;
  /** Block-steps done in this call, over every group and thread (Σ group size × its steps so far). */
  blockSteps: number;
  /** Mean over the group's blocks of this step's −ELBO terms (nats/record; private figures). */
  recon: number;
  kl: number;
}

export interface Stage1Result {
  /** Blocks trained by this call. */
  trained: number;
  /** Blocks already on disk, skipped. */
  skipped: number;
  /** True when stopped by the signal (finished groups are kept). */
  aborted: boolean;
  steps: number;
  groupSize: number;
  /** Threads that trained at least one group. */
  threads: number;
}

export interface Stage1Args {
  arch: Architecture;
  data: EngineImages;
  partition: Partition;
  store: EncoderStore;
  options: Stage1Options;
  onProgress?: (p: Stage1Progress) => void;
  signal?: AbortSignal;
  /** Threads sharing the groups (stage1-threads.ts; default 1). Does not change any encoder. */
  threads?: number;
}

function positive(v: number, what: string): number {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new UserError('INVALID_INPUT', `Stage 1 needs a positive ${what}; got ${v}.`);
  }
  return v;
}

function positiveInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new UserError('INVALID_INPUT', `Stage 1 needs a whole number ≥ 1 for ${what}; got ${v}.`);
  }
  return v;
}

/** Seeds of block k's encoder and decoder initialisation within a run. */
export function stage1Seeds(seed: number, k: number): { encoder: number; decoder: number } {
  return {
    encoder: mixSeed(seed, STAGE1_STREAM, k, 0),
    decoder: mixSeed(seed, STAGE1_STREAM, k, 1),
  };
}

/**
 * Default group size from a memory budget: per model its parameters, grads,
 * Adam moments and temporaries (≈ 12 copies) and a batch's activations
 * (engine/memory.ts; a 128×128 conv model holds far more per image than its
 * pixels, which an earlier count of 8 floats per pixel missed).
 */
export function defaultGroupSize(arch: Architecture, rows: number, budgetBytes: number): number {
  const perModel =
    4 * 12 * (parameterCount(arch, 'encoder') + parameterCount(arch, 'decoder')) +
    rows * activationBytesPerRecord(arch, { withEncoder: true, perExample: false });
  return Math.max(1, Math.min(32, Math.floor(budgetBytes / perModel)));
}

/** Epoch-wise shuffled batches of one block (reshuffled when a batch would run past the end). */
class BlockSampler {
  private readonly order: Uint32Array;
  private pos: number;
  constructor(
    records: Uint32Array,
    readonly rng: SeededRng,
  ) {
    this.order = Uint32Array.from(records);
    this.pos = this.order.length;
  }
  next(rows: number): Uint32Array {
    const take = Math.min(rows, this.order.length);
    if (this.pos + take > this.order.length) {
      this.rng.shuffle(this.order);
      this.pos = 0;
    }
    const out = this.order.slice(this.pos, this.pos + take);
    this.pos += take;
    return out;
  }
}

/** What training one group of blocks needs (resolved from Stage1Options). */
export interface GroupSetup {
  arch: Architecture;
  data: EngineImages;
  partition: Partition;
  seed: number;
  steps: number;
  rows: number;
  lr: number;
  clip: number;
}

/**
 * Trains the encoders of `blocks` as one batched computation (module
 * comment): each block from its own seeds, on its own records. `onStep`
 * gets each step's mean −ELBO terms over the group. Returns each block's
 * encoder (flat), or null when `signal` stopped it first.
 */
export async function trainGroup(
  setup: GroupSetup,
  blocks: readonly number[],
  onStep?: (step: number, terms: { recon: number; kl: number }) => void,
  signal?: AbortSignal,
): Promise<Float32Array[] | null> {
  const { arch, data, partition, seed, steps, rows, lr, clip } = setup;
  const g = blocks.length;
  const seeds = blocks.map((k) => stage1Seeds(seed, k));
  let enc = initParams(
    arch,
    'encoder',
    seeds.map((s) => s.encoder),
  ).tensors;
  let dec = initParams(
    arch,
    'decoder',
    seeds.map((s) => s.decoder),
  ).tensors;
  let opt: OptimizerState = initOptimizer('adam', [...enc, ...dec]);
  const samplers = blocks.map(
    (k) =>
      new BlockSampler(blockRecords(partition, k), SeededRng.fromSeed(seed, STAGE1_STREAM, k, 2)),
  );
  try {
    for (let step = 0; step < steps; step++) {
      await yieldToEvents();
      if (signal?.aborted) return null;
      const batch = makeBatch(
        arch,
        data,
        samplers.map((s) => s.next(rows)),
        rows,
        samplers.map((s) => s.rng),
      );
      let grads;
      try {
        grads = elboGradients(arch, enc, dec, batch, { encoder: true, decoder: true });
      } finally {
        disposeBatch(batch);
      }
      const all = [...(grads.encoder as Tensor[]), ...(grads.decoder as Tensor[])];
      const clipped = clipByGroupNorm(all, clip);
      disposeAll(all);
      const next = optimizerStep([...enc, ...dec], clipped.grads, opt, { kind: 'adam', lr });
      disposeAll(clipped.grads);
      const nEnc = enc.length;
      enc = next.params.slice(0, nEnc);
      dec = next.params.slice(nEnc);
      opt = next.state;
      const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
      onStep?.(step + 1, { recon: mean(grads.recon), kl: mean(grads.kl) });
    }
    return allFlat(enc, g);
  } finally {
    disposeAll(enc);
    disposeAll(dec);
    disposeOptimizer(opt);
  }
}

/**
 * Algorithm 1: trains the encoder of every block not yet in `store`, G blocks
 * at a time, and writes each finished group's encoders to the store. With
 * `threads` > 1 the groups are shared out over worker threads
 * (stage1-threads.ts); each block's encoder is the same either way.
 */
export async function trainStage1(args: Stage1Args): Promise<Stage1Result> {
  const { arch, data, partition, store, options, onProgress, signal } = args;
  checkImages(arch, data);
  if (partition.count !== data.count) {
    throw new UserError('INVALID_INPUT', 'The partition was made for a data set of another size.');
  }
  if (store.blocks !== partition.blocks) {
    throw new UserError(
      'INVALID_INPUT',
      'The encoder folder was made for another number of blocks.',
    );
  }
  const batchSize = positiveInt(options.batchSize ?? 64, 'the batch size');
  const lr = positive(options.lr ?? 1e-3, 'learning rate');
  const clip = positive(options.clip ?? 1, 'clipping norm');
  const rows = Math.min(batchSize, largestBlock(partition));
  const steps =
    options.steps !== undefined
      ? positiveInt(options.steps, 'the number of steps')
      : Math.ceil(
          // a block smaller than B is one whole batch: a pass is one step
          (positive(options.epochs ?? 20, 'number of epochs') * largestBlock(partition)) / rows,
        );
  const groupSize =
    options.groupSize !== undefined
      ? positiveInt(options.groupSize, 'the group size')
      : defaultGroupSize(arch, rows, options.memoryBudgetBytes ?? 1 << 30);

  const missing = store.missingBlocks();
  const wanted = options.only ? new Set(options.only) : null;
  const todo = wanted ? missing.filter((k) => wanted.has(k)) : missing;
  const skipped = (wanted ? wanted.size : partition.blocks) - todo.length;
  const groups: number[][] = [];
  for (let i = 0; i < todo.length; i += groupSize) groups.push(todo.slice(i, i + groupSize));
  let done = skipped;
  let trained = 0;
  let blockSteps = 0;
  const setup: GroupSetup = { arch, data, partition, seed: options.seed, steps, rows, lr, clip };
  // Steps each group has reported (a worker thread reports a few times a second, not every step).
  const reported = new Array<number>(groups.length).fill(0);
  const progress = (gi: number, step: number, terms: { recon: number; kl: number }): void => {
    blockSteps += (step - (reported[gi] as number)) * (groups[gi] as number[]).length;
    reported[gi] = step;
    onProgress?.({
      group: gi,
      groups: groups.length,
      step,
      steps,
      blocksDone: done,
      blocks: partition.blocks,
      blockSteps,
      ...terms,
    });
  };
  const save = async (gi: number, flats: Float32Array[]): Promise<void> => {
    const blocks = groups[gi] as number[];
    for (let i = 0; i < blocks.length; i++)
      await store.writeTrained(blocks[i] as number, flats[i] as Float32Array);
    await store.syncDirectory();
    done += blocks.length;
    trained += blocks.length;
  };
  const result = (aborted: boolean): Stage1Result => ({
    trained,
    skipped,
    aborted,
    steps,
    groupSize,
    threads: 1,
  });

  const threads = Math.min(args.threads ?? 1, groups.length);
  if (threads > 1) {
    const shared = await trainGroupsInThreads({
      setup,
      groups,
      threads,
      progress,
      save,
      trainHere: (gi) =>
        trainGroup(
          setup,
          groups[gi] as number[],
          (step, terms) => progress(gi, step, terms),
          signal,
        ),
      signal,
    });
    return { ...result(shared.aborted), threads: shared.threadsUsed };
  }
  for (let gi = 0; gi < groups.length; gi++) {
    const flats = await trainGroup(
      setup,
      groups[gi] as number[],
      (step, terms) => progress(gi, step, terms),
      signal,
    );
    if (!flats) return result(true);
    await save(gi, flats);
  }
  return result(false);
}
