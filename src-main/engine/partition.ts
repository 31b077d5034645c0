/**
 * Data-independent partition of the N private records into K disjoint blocks
 * (DP²-VAE, Jiang et al. arXiv 2208.03409, §3 and Algorithm 1: "randomly
 * partition D into K disjoint subsets"). The permutation depends only on
 * (N, K, seed), never on the records, so the block structure leaks nothing.
 * Block sizes differ by at most one: the first N mod K blocks hold ⌈N/K⌉.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../contract/errors';
import { SeededRng } from './rng';

/** Stream number of the partition within a run seed (keeps it apart from other streams). */
const PARTITION_STREAM = 0x70617274; // "part"

export interface Partition {
  /** Number of records N. */
  count: number;
  /** Number of blocks K. */
  blocks: number;
  /** Seed the permutation was drawn from. */
  seed: number;
  /** A permutation of 0..N−1; block k is `order[offsets[k] .. offsets[k+1])`. */
  order: Uint32Array;
  /** K + 1 offsets into `order`. */
  offsets: Uint32Array;
}

/** Splits records 0..count−1 into `blocks` disjoint blocks by a seeded random permutation. */
export function partitionRecords(count: number, blocks: number, seed: number): Partition {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new UserError(
      'INVALID_INPUT',
      `The data set must hold at least one record (got ${count}).`,
    );
  }
  if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > count) {
    throw new UserError(
      'INVALID_INPUT',
      `The number of blocks must be a whole number from 1 to the number of records (${count}); got ${blocks}.`,
    );
  }
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  SeededRng.fromSeed(seed, PARTITION_STREAM, count, blocks).shuffle(order);
  const offsets = new Uint32Array(blocks + 1);
  const base = Math.floor(count / blocks);
  const extra = count % blocks;
  for (let k = 0; k < blocks; k++) {
    offsets[k + 1] = (offsets[k] as number) + base + (k < extra ? 1 : 0);
  }
  return { count, blocks, seed, order, offsets };
}

/** The record indices of block k (a view into `partition.order`). */
export function blockRecords(partition: Partition, k: number): Uint32Array {
  if (!Number.isInteger(k) || k < 0 || k >= partition.blocks) {
    throw new RangeError(`Block ${k} does not exist (there are ${partition.blocks}).`);
  }
  return partition.order.subarray(partition.offsets[k], partition.offsets[k + 1]);
}

/** Size of the largest block, ⌈N/K⌉. */
export function largestBlock(partition: Partition): number {
  return Math.ceil(partition.count / partition.blocks);
}

/** SHA-256 of the permutation (hex): identifies a partition in checkpoints. */
export function partitionFingerprint(partition: Partition): string {
  const h = createHash('sha256');
  h.update(`${partition.count}/${partition.blocks}/`);
  h.update(
    new Uint8Array(partition.order.buffer, partition.order.byteOffset, partition.order.byteLength),
  );
  return h.digest('hex');
}
