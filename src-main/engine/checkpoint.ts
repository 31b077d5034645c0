/**
 * (De)serialisation of the whole stage-2 training state of DP²-VAE
 * (Algorithm 2 of Jiang et al., arXiv 2208.03409) to bytes, so a run killed
 * at any moment resumes from its last checkpoint with the same step count,
 * hence the same privacy accounting.
 *
 * Contents: architecture, resolved options, partition (seed + fingerprint),
 * steps taken, the in-block sampler's generator state, the decoder φ and its
 * optimiser state, and references to the encoders: the version of every
 * encoder file in the run's EncoderStore (those files hold θ_k and its
 * optimiser state; the store keeps them until the next checkpoint is durable).
 *
 * Layout (little-endian): 8-byte magic "DP2CKPT\n", u32 format version, u32
 * header length, UTF-8 JSON header (fixed key order), zero padding to 8 bytes,
 * the arrays (each 8-byte aligned, listed in the header), then SHA-256 of
 * everything before it. Float32 arrays are stored bit for bit, so a round trip
 * is exact, and serialise(deserialise(b)) = b.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../contract/errors';
import { writeWholeFile } from '../io/whole-file';
import { parseArchitecture, type Architecture } from './architecture';
import type { OptimizerKind } from './optim';
import type { RngState } from './rng';

export const CHECKPOINT_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode('DP2CKPT\n');
const HASH_BYTES = 32;

/** Stage-2 options with every default filled in (stored in checkpoints). */
export interface ResolvedStage2Options {
  sigma: number;
  clip: number;
  batchSize: number;
  lr: number;
  steps: number;
  blocks: number;
  targetEpsilon: number | null;
  seed: number;
  optimizer: OptimizerKind;
  encoderOptimizer: OptimizerKind;
  encoderLr: number;
  encoderClip: number | null;
  trainEncoders: boolean;
}

export interface Stage2Checkpoint {
  kind: 'dp2vae-stage2';
  architecture: Architecture;
  options: ResolvedStage2Options;
  partition: { count: number; blocks: number; seed: number; fingerprint: string };
  /** Noisy steps taken (the privacy accounting is a function of this). */
  step: number;
  /** State of the seeded generator that picks the batch inside a block and ε. */
  samplerRng: RngState;
  /** Decoder φ, one array per parameter (architecture order). */
  decoder: Float32Array[];
  decoderOptimizer: { kind: OptimizerKind; t: number; m: Float32Array[]; v: Float32Array[] };
  /** Version of each encoder's file in the run's EncoderStore. */
  encoderVersions: Uint32Array;
  /** Free JSON for the caller (run id, backend, ...). */
  meta: Record<string, unknown>;
}

interface BlobRef {
  name: string;
  dtype: 'float32' | 'uint32';
  length: number;
  offset: number;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

function bytesOf(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The options in a fixed key order (so equal states serialise to equal bytes). */
function normaliseOptions(o: ResolvedStage2Options): ResolvedStage2Options {
  return {
    sigma: o.sigma,
    clip: o.clip,
    batchSize: o.batchSize,
    lr: o.lr,
    steps: o.steps,
    blocks: o.blocks,
    targetEpsilon: o.targetEpsilon,
    seed: o.seed,
    optimizer: o.optimizer,
    encoderOptimizer: o.encoderOptimizer,
    encoderLr: o.encoderLr,
    encoderClip: o.encoderClip,
    trainEncoders: o.trainEncoders,
  };
}

/** A named array of a checkpoint container. */
export type ContainerArray = [string, Float32Array | Uint32Array];

/**
 * Packs a JSON header and named arrays into the checkpoint container (layout
 * above; the header gets a final `blobs` key listing the arrays). Shared by
 * every checkpoint kind; deterministic for a header with a fixed key order.
 */
export function packContainer(
  header: Record<string, unknown>,
  arrays: ContainerArray[],
): Uint8Array {
  let offset = 0;
  const blobs: BlobRef[] = arrays.map(([name, a]) => {
    const ref: BlobRef = {
      name,
      dtype: a instanceof Float32Array ? 'float32' : 'uint32',
      length: a.length,
      offset,
    };
    offset = align8(offset + a.byteLength);
    return ref;
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...header, blobs }));
  const bodyStart = align8(MAGIC.length + 8 + json.length);
  const total = bodyStart + offset + HASH_BYTES;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(MAGIC.length, CHECKPOINT_FORMAT_VERSION, true);
  dv.setUint32(MAGIC.length + 4, json.length, true);
  out.set(json, MAGIC.length + 8);
  arrays.forEach(([, a], i) => out.set(bytesOf(a), bodyStart + (blobs[i] as BlobRef).offset));
  const hash = createHash('sha256')
    .update(out.subarray(0, total - HASH_BYTES))
    .digest();
  out.set(hash, total - HASH_BYTES);
  return out;
}

/** Serialises a checkpoint (deterministic: equal states give equal bytes). */
export function serializeCheckpoint(cp: Stage2Checkpoint): Uint8Array {
  const arrays: ContainerArray[] = [];
  cp.decoder.forEach((a, i) => arrays.push([`decoder.${i}`, a]));
  cp.decoderOptimizer.m.forEach((a, i) => arrays.push([`decoderOptimizer.m.${i}`, a]));
  cp.decoderOptimizer.v.forEach((a, i) => arrays.push([`decoderOptimizer.v.${i}`, a]));
  arrays.push(['encoderVersions', cp.encoderVersions]);
  const header = {
    kind: cp.kind,
    architecture: parseArchitecture(cp.architecture),
    options: normaliseOptions(cp.options),
    partition: {
      count: cp.partition.count,
      blocks: cp.partition.blocks,
      seed: cp.partition.seed,
      fingerprint: cp.partition.fingerprint,
    },
    step: cp.step,
    samplerRng: [...cp.samplerRng],
    decoderOptimizer: { kind: cp.decoderOptimizer.kind, t: cp.decoderOptimizer.t },
    counts: {
      decoder: cp.decoder.length,
      m: cp.decoderOptimizer.m.length,
      v: cp.decoderOptimizer.v.length,
    },
    meta: cp.meta,
  };
  return packContainer(header, arrays);
}

function corrupt(why: string): never {
  throw new UserError('CORRUPT_DATA', `This training checkpoint cannot be read: ${why}.`);
}

/**
 * Verifies and unpacks a checkpoint container: its JSON header and a getter
 * for its arrays (copies, owned and aligned). Throws UserError('CORRUPT_DATA'
 * | 'UNSUPPORTED') in plain words.
 */
export function unpackContainer(bytes: Uint8Array): {
  header: Record<string, unknown>;
  array: <T extends Float32Array | Uint32Array>(name: string) => T;
  list: (prefix: string, n: number) => Float32Array[];
} {
  if (bytes.length < MAGIC.length + 8 + HASH_BYTES) corrupt('the file is too short');
  for (let i = 0; i < MAGIC.length; i++)
    if (bytes[i] !== MAGIC[i]) corrupt('it is not a DP² Studio checkpoint');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(MAGIC.length, true);
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    throw new UserError(
      'UNSUPPORTED',
      `This checkpoint has format version ${version}; this version of DP² Studio reads version ${CHECKPOINT_FORMAT_VERSION}.`,
    );
  }
  const end = bytes.length - HASH_BYTES;
  const hash = createHash('sha256').update(bytes.subarray(0, end)).digest();
  if (!hash.equals(bytes.subarray(end)))
    corrupt('its checksum does not match (the file is damaged or incomplete)');
  const jsonLen = dv.getUint32(MAGIC.length + 4, true);
  if (MAGIC.length + 8 + jsonLen > end) corrupt('the header is truncated');
  let header: Record<string, unknown> & { blobs?: BlobRef[] };
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(MAGIC.length + 8, MAGIC.length + 8 + jsonLen)),
    );
  } catch {
    corrupt('the header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.blobs))
    corrupt('the header lists no arrays');
  const bodyStart = align8(MAGIC.length + 8 + jsonLen);
  const arrays = new Map<string, Float32Array | Uint32Array>();
  for (const b of header.blobs as BlobRef[]) {
    const start = bodyStart + b.offset;
    const nbytes = b.length * 4;
    if (!Number.isSafeInteger(start) || start + nbytes > end)
      corrupt(`array ${b.name} lies outside the file`);
    // Copy into an owned, aligned buffer (a Buffer's slice would be a view into the file).
    const raw = new Uint8Array(bytes.subarray(start, start + nbytes));
    arrays.set(
      b.name,
      b.dtype === 'float32' ? new Float32Array(raw.buffer) : new Uint32Array(raw.buffer),
    );
  }
  const array = <T extends Float32Array | Uint32Array>(name: string): T => {
    const a = arrays.get(name);
    if (!a) corrupt(`array ${name} is missing`);
    return a as T;
  };
  const list = (prefix: string, n: number): Float32Array[] =>
    Array.from({ length: n }, (_, i) => array<Float32Array>(`${prefix}.${i}`));
  return { header, array, list };
}

/** Parses and verifies a checkpoint; throws UserError('CORRUPT_DATA' | 'UNSUPPORTED') in plain words. */
export function deserializeCheckpoint(bytes: Uint8Array): Stage2Checkpoint {
  const { header: raw, array, list } = unpackContainer(bytes);
  const header = raw as {
    kind: string;
    architecture: unknown;
    options: ResolvedStage2Options;
    partition: Stage2Checkpoint['partition'];
    step: number;
    samplerRng: RngState;
    decoderOptimizer: { kind: OptimizerKind; t: number };
    counts: { decoder: number; m: number; v: number };
    meta: Record<string, unknown>;
  };
  if (header.kind !== 'dp2vae-stage2') corrupt(`unknown checkpoint kind ${String(header.kind)}`);
  return {
    kind: 'dp2vae-stage2',
    architecture: parseArchitecture(header.architecture),
    options: header.options,
    partition: header.partition,
    step: header.step,
    samplerRng: header.samplerRng,
    decoder: list('decoder', header.counts.decoder),
    decoderOptimizer: {
      kind: header.decoderOptimizer.kind,
      t: header.decoderOptimizer.t,
      m: list('decoderOptimizer.m', header.counts.m),
      v: list('decoderOptimizer.v', header.counts.v),
    },
    encoderVersions: array<Uint32Array>('encoderVersions'),
    meta: header.meta,
  };
}

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder,
 * fsync, rename over `path`, then fsync of the folder (where the platform
 * allows). A crash or a failed write leaves either the old file or the new
 * one, never a mix, and no temporary file; a full disk is a plain UserError.
 */
export async function writeCheckpointAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await writeWholeFile(path, bytes, 'the training checkpoint');
}
