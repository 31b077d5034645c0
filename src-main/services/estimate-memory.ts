/**
 * Peak memory of a planned run, before it starts (New run, `dp2 train`):
 * the training process's runtime, the model's parameters and optimiser
 * state, the activations of one (micro-)batch, and the prepared images.
 * A model of what the engine holds, calibrated on measured runs
 * (docs/methods.md, "Image sizes"); an estimate to choose a size by, not a
 * limit.
 */
import { parameterCount, type Architecture } from '../engine/architecture';
import { defaultGroupSize } from '../engine/stage1';
import { activationBytesPerRecord, CONV_WORKSPACE_BYTES, microBatchRows } from '../engine/memory';
import { usefulThreads } from '../engine/train-threads';
import { defaultRffPool } from '../methods/mepf/embedding';

/** Memory of the training process before any model or data (node, tfjs, the WebAssembly backend), measured: 207 MB. */
const RUNTIME_MB = 200;

/**
 * What each further training thread (engine/dpsgd-threads.ts) adds besides its
 * batch: its own tfjs runtime and WebAssembly heap. Measured: DP-SGD of the
 * small model at batch 1024 peaked at 302 MB on one thread and 498 MB on two.
 */
const THREAD_RUNTIME_MB = 150;

/** Random Fourier frequencies of mepf's `rff` source per length scale, and its scales. */
const RFF_FLOATS_PER_INPUT = 5000 * 2;

/** What a run holds at its peak, in MB, part by part. */
export interface MemoryEstimate {
  peakMb: number;
  parts: { name: string; mb: number }[];
  basis: string;
}

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);

/**
 * The peak memory of a planned run of `method` on a data set of `images`
 * records (both splits; the worker holds them as bytes) and `trainCount`
 * training records, with the plan's settings and the run's model.
 */
export function estimateMemory(input: {
  method: string;
  plan: Record<string, unknown>;
  arch: Architecture;
  images: number;
  trainCount: number;
  /** Threads a DP-SGD step runs on (engine/dpsgd-threads.ts; default 1). */
  threads?: number;
}): MemoryEstimate {
  const { method, plan, arch, images, trainCount } = input;
  let threads = 1;
  const num = (key: string, fallback: number): number =>
    typeof plan[key] === 'number' ? plan[key] : fallback;
  const { height, width, channels } = arch.image;
  const pixels = height * width * channels;
  const enc = parameterCount(arch, 'encoder');
  const dec = parameterCount(arch, 'decoder');
  const parts: { name: string; mb: number }[] = [{ name: 'runtime', mb: RUNTIME_MB }];
  let params: number;
  let batch: number;
  let extra: { name: string; bytes: number } | null = null;
  if (method === 'mepf') {
    // The generator (a decoder) with Adam, a generator batch through it, and φ's frequencies.
    params = 4 * 6 * dec;
    const rows = num('generatorBatch', 100);
    batch = rows * activationBytesPerRecord(arch, { withEncoder: false, perExample: false });
    if (plan.features === 'rff' || plan.features === undefined) {
      const pool = defaultRffPool(arch.image);
      // Ω and Ωᵀ of each of two length scales, and the JS array Ω is drawn into.
      extra = {
        name: 'features',
        bytes: 4 * 3 * RFF_FLOATS_PER_INPUT * (pixels / (pool * pool)),
      };
    }
  } else if (method === 'randp') {
    // A linear classifier on the prior's features: the (mapped) features of every training
    // image, one copy (the map is applied where they are computed), at most 4 096 per image.
    params = 4 * 6 * 4096 * arch.classes;
    batch = 0;
    extra = { name: 'features', bytes: 4 * trainCount * 4096 };
  } else if (typeof plan.sampleRate === 'number') {
    // DP-SGD (and per-record encoders): one micro-batch of per-example gradients.
    // On several threads, each holds its share of the step, at most one micro-batch.
    const perRecord = method === 'dp2vae-per-record';
    const expected = Math.ceil(plan.sampleRate * trainCount * 1.1);
    const perRecordBytes = activationBytesPerRecord(arch, {
      withEncoder: !perRecord,
      perExample: true,
    });
    // The threads the run will use (methods/dpsgd/train.ts, methods/termwise/train.ts): only
    // where a step has work to share.
    threads = usefulThreads({
      wanted: input.threads ?? 1,
      records: plan.sampleRate * trainCount * num('importanceSamples', 1),
      bytesPerRecord: perRecordBytes,
    });
    const rows = Math.min(microBatchRows(arch, !perRecord), Math.ceil(expected / threads));
    const holding = Math.min(threads, Math.ceil(expected / rows));
    params = 4 * 6 * (perRecord ? dec : enc + dec);
    batch = holding * rows * perRecordBytes;
    if (arch.kind === 'conv-cvae') batch += (holding - 1) * CONV_WORKSPACE_BYTES;
    if (perRecord)
      extra = { name: 'per-record encoders', bytes: 4 * 3 * 2 * arch.latent * trainCount };
  } else {
    // DP²-VAE: stage 1 trains a group of encoder–decoder pairs at once (engine/stage1.ts),
    // one group per thread, the memory budget split between them (methods/dp2vae/train.ts).
    threads = Math.max(1, input.threads ?? 1);
    const blocks = num('blocks', 1);
    const rows = Math.min(num('batchSize', 64), Math.ceil(trainCount / blocks));
    const perModel =
      4 * 12 * (enc + dec) +
      rows * activationBytesPerRecord(arch, { withEncoder: true, perExample: false });
    const group = Math.min(defaultGroupSize(arch, rows, 2 ** 30 / threads), blocks);
    const held = Math.min(blocks, threads * group);
    params = held * 4 * 12 * (enc + dec);
    batch = held * (perModel - 4 * 12 * (enc + dec));
  }
  if (arch.kind === 'conv-cvae' && batch > 0) batch += CONV_WORKSPACE_BYTES;
  parts.push({ name: 'model and optimiser', mb: mb(params) });
  parts.push({ name: 'one batch', mb: mb(batch) });
  if (extra) parts.push({ name: extra.name, mb: mb(extra.bytes) });
  // Threads read the images from a shared copy of them.
  parts.push({ name: 'images', mb: mb((threads > 1 ? 2 : 1) * images * pixels) });
  if (threads > 1) parts.push({ name: 'training threads', mb: (threads - 1) * THREAD_RUNTIME_MB });
  return {
    peakMb: parts.reduce((n, p) => n + p.mb, 0),
    parts,
    basis: `a model of what training holds at ${height}×${width}×${channels}, calibrated on measured runs; the evaluation afterwards needs its own`,
  };
}
