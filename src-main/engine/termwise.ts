/**
 * Term-wise DP-SGD of the conditional VAE with a batch-coupled regulariser
 * (Takahashi et al., arXiv 2006.11204; our reading, docs/privacy.md). The
 * loss of a Poisson sample S is Σ_i −ELBO(x_i) + λ·B·MMD²(codes, prior);
 * each step t:
 *
 *   1. S ← Poisson sample at rate q (node:crypto)
 *   2. the codes z_i of S (ε_i from record-noise.ts), and the coupled
 *      cotangents u_i of MMD² (termwise-terms.ts; M prior samples, data-free)
 *   3. 'termwise': G₁ = Σ_i clip_{C₁}(∇ −ELBO_i) + N(0, σ₁²C₁²)
 *                  G₂ = Σ_i s_i J_iᵀ λu_i + N(0, σ₂²(2C₂)²)  (encoder only)
 *      'naive':    G = Σ_i clip_C(∇ −ELBO_i + J_iᵀ λu_i) + N(0, σ²Δ²),
 *                  Δ = (2·cap + 1)·C, a sample above `cap` records is dropped
 *                  (a noise-only step): per-record clipping of a coupled loss
 *   4. (θ, φ) ← Adam((θ, φ), (G₁ + G₂)/(q·N))
 *
 * With divergence 'kl' there is no coupled term and step 3 is DP-SGD.
 *
 * Line 2: the trainer's thread draws each record's ε, the codes are computed
 * on every thread, and the cotangents here (u needs every code of S); the
 * sums of line 3 are DP-SGD's (sharded-sum.ts), in this thread or spread
 * over worker threads, each record's ε and u read by its position in S. The update uses
 * G₁ + G₂ only, so the two terms' noises on the encoder's coordinates are
 * drawn as one Gaussian of the summed variance: the same law.
 * Privacy: the Poisson-subsampled Gaussian of noise multiplier σ (the pair
 * (G₁, G₂) scaled by its noise is one Gaussian: privacy/termwise.ts), the
 * 'dpsgd' mechanism of src-main/privacy. Only the decoder φ is releasable.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { termNoises, type TermNoise } from '../privacy/termwise';
import { checkInt, checkKind, checkPositive, invalidOption } from './option-checks';
import {
  imageSize,
  parameterSpecs,
  parseArchitecture,
  type Architecture,
  type MlpCvaeArchitecture,
} from './architecture';
import { checkImages, recordRows, type EngineImages } from './batches';
import { packContainer, unpackContainer, type ContainerArray } from './checkpoint';
import type { FlatBatch } from './dpsgd-clip';
import { scheduledLr, type LrSchedule } from './dpsgd';
import { sumFigures, type CoupledTerm } from './dpsgd-shard';
import { checkedArrays, FlatParams, type OptimizerArrays } from './flat-params';
import type { OptimizerKind } from './optim';
import { disposeAll, initFlat, splitFlat } from './params';
import { secureRecordNoise, type RecordNoise } from './record-noise';
import { mixSeed, SeededRng } from './rng';
import { SecureGaussian, securePoissonSample } from './secure-noise';
import { ShardedSum, sharedImages, threadsWanted } from './sharded-sum';
import { runPrivateSteps, type PrivateRunResult, type PrivateStepHooks } from './private-steps';
import { groupedCotangents, mmdSquared, type MmdKernel } from './termwise-terms';

const TERMWISE_STREAM = 0x747277; // "trw"

/** The prior/divergence pair: plain KL (per-record), or KL plus MMD to N(0, I) with a kernel. */
export type Divergence = 'kl' | 'mmd-imq' | 'mmd-rbf';
/** 'termwise': the paper's mechanism; 'naive': per-record DP-SGD on the same loss (research). */
export type TermwiseMode = 'termwise' | 'naive';

export interface TermwiseOptions {
  sampleRate: number;
  /** σ: the pair's noise multiplier (what the accountant composes). */
  sigma: number;
  /** C₁: the per-record term's clipping norm (naive: the one clip). */
  clip: number;
  divergence: Divergence;
  /** λ: the weight of B·MMD² in the loss. */
  divergenceWeight: number;
  /** C₂: bound on one record's own divergence gradient (sensitivity of G₂ is 2C₂). */
  divergenceClip: number;
  mode: TermwiseMode;
  /** Naive only: samples above this many records become noise-only steps. */
  batchCap: number;
  /** M: prior samples per step for the MMD. */
  priorSamples?: number;
  /**
   * G: records are paired within groups of about this many (drawn per
   * record and step from the seed, never from the data); the B² pairs of
   * a large batch cost B·G. Default 256.
   */
  pairGroup?: number;
  lr: number;
  steps: number;
  targetEpsilon?: number;
  seed: number;
  optimizer?: OptimizerKind;
  maxRows?: number;
  lrSchedule?: LrSchedule;
}

export interface ResolvedTermwiseOptions {
  sampleRate: number;
  sigma: number;
  clip: number;
  divergence: Divergence;
  divergenceWeight: number;
  divergenceClip: number;
  mode: TermwiseMode;
  batchCap: number;
  priorSamples: number;
  pairGroup: number;
  lr: number;
  steps: number;
  targetEpsilon: number | null;
  seed: number;
  optimizer: OptimizerKind;
  maxRows: number;
  lrSchedule: LrSchedule;
}

function checkChoice<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    invalidOption(`${what} must be one of ${allowed.join(', ')}; got ${String(v)}.`);
  return v as T;
}

/** Validates term-wise options and fills in defaults. */
export function resolveTermwiseOptions(o: TermwiseOptions): ResolvedTermwiseOptions {
  const q = o.sampleRate;
  if (typeof q !== 'number' || !(q > 0 && q <= 1))
    invalidOption(`The sampling rate q must be in (0, 1]; got ${String(q)}.`);
  const schedule = o.lrSchedule ?? 'constant';
  if (schedule !== 'constant' && schedule !== 'cosine')
    invalidOption(`The learning-rate schedule must be "constant" or "cosine".`);
  return {
    sampleRate: q,
    sigma: checkPositive(o.sigma, 'The noise multiplier σ'),
    clip: checkPositive(o.clip, 'The clipping norm C'),
    divergence: checkChoice(o.divergence, ['kl', 'mmd-imq', 'mmd-rbf'] as const, 'The divergence'),
    divergenceWeight: checkPositive(o.divergenceWeight, 'The divergence weight λ'),
    divergenceClip: checkPositive(o.divergenceClip, 'The divergence clipping norm C₂'),
    mode: checkChoice(o.mode, ['termwise', 'naive'] as const, 'The mechanism'),
    batchCap: checkInt(o.batchCap, 'The batch cap', 1),
    priorSamples: checkInt(o.priorSamples ?? 256, 'The prior samples', 2),
    pairGroup: checkInt(o.pairGroup ?? 256, 'The pair group size', 2),
    lr: checkPositive(o.lr, 'The learning rate'),
    steps: checkInt(o.steps, 'The number of steps', 0),
    targetEpsilon:
      o.targetEpsilon === undefined || o.targetEpsilon === null
        ? null
        : checkPositive(o.targetEpsilon, 'The target ε'),
    seed: checkInt(o.seed, 'The seed', 0),
    optimizer: checkKind(o.optimizer ?? 'adam', 'The optimiser'),
    maxRows: checkInt(o.maxRows ?? 512, 'The micro-batch size', 1),
    lrSchedule: schedule,
  };
}

/** The whole term-wise training state (checkpoint kind 'termwise'). */
export interface TermwiseCheckpoint {
  kind: 'termwise';
  architecture: Architecture;
  options: ResolvedTermwiseOptions;
  records: number;
  step: number;
  encoder: Float32Array[];
  decoder: Float32Array[];
  optimizer: { kind: OptimizerKind; t: number; m: Float32Array[]; v: Float32Array[] };
  meta: Record<string, unknown>;
}

export interface TermwiseStepReport {
  batchSize: number;
  /** Mean −ELBO terms of this step's records (private figures, stay local). */
  recon: number;
  kl: number;
  /** The batch's MMD² estimate (private figure; 0 for 'kl'). */
  mmd: number;
  clippedFraction: number;
}

export type TermwiseHooks = PrivateStepHooks<TermwiseStepReport>;

/** One step's gradient sums before noise (exposed for the sensitivity tests). */
export interface TermSums {
  /** G₁ (naive: the one clipped sum; not apart: G₁ + G₂), encoder then decoder, flat. */
  perRecord: Float32Array;
  /** G₂ over the encoder's coordinates (zeros on the decoder's); null without a coupled term or not apart. */
  divergence: Float32Array | null;
  recon: number;
  kl: number;
  mmd: number;
  clipped: number;
}

/** Requires the MLP model (the exact Jacobian norm is written for it). */
function mlpOnly(arch: Architecture): MlpCvaeArchitecture {
  if (arch.kind !== 'mlp-cvae') {
    throw new UserError(
      'UNSUPPORTED',
      'Term-wise DP-SGD trains the MLP model of 28×28 grey images only in this version; choose DP-SGD for other image sizes.',
    );
  }
  return arch;
}

/** Poisson-sampled term-wise DP-SGD trainer of the whole CVAE. */
export class TermwiseTrainer {
  readonly arch: MlpCvaeArchitecture;
  readonly options: ResolvedTermwiseOptions;
  readonly terms: TermNoise[];
  private readonly data: EngineImages;
  private stepsTaken: number;
  /** Encoder then decoder parameters, flat, with Adam's state (flat-params.ts). */
  private readonly params: FlatParams;
  /** The coupled term's per-position ε, codes and cotangents (null for 'kl'). */
  private readonly coupled: CoupledTerm | null;
  /** Each step's clipped sums, in this thread or over several (sharded-sum.ts). */
  private readonly sums: ShardedSum;
  private readonly recordNoise: RecordNoise;
  private readonly noise = new SecureGaussian();
  lastBatchSize = 0;

  private constructor(p: {
    arch: MlpCvaeArchitecture;
    data: EngineImages;
    options: ResolvedTermwiseOptions;
    step: number;
    encoder: Float32Array[];
    decoder: Float32Array[];
    opt: OptimizerArrays;
    recordNoise: RecordNoise | undefined;
    threads: number | undefined;
  }) {
    const { arch, options } = p;
    this.recordNoise = p.recordNoise ?? secureRecordNoise();
    const wanted = threadsWanted(this.recordNoise, p.threads);
    const threaded = wanted > 1;
    this.arch = arch;
    this.data = threaded ? sharedImages(p.data) : p.data;
    this.options = options;
    this.stepsTaken = p.step;
    this.terms = termNoises(options);
    const specs = [...parameterSpecs(arch, 'encoder'), ...parameterSpecs(arch, 'decoder')];
    this.params = new FlatParams({
      shapes: specs.map((sp) => [1, ...sp.shape]),
      encoder: p.encoder,
      decoder: p.decoder,
      opt: p.opt,
      shared: threaded,
    });
    const perPosition = (): Float32Array => {
      const n = this.data.count * arch.latent;
      return threaded ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
    };
    this.coupled =
      options.divergence === 'kl'
        ? null
        : {
            mode: options.mode,
            weight: options.divergenceWeight,
            clip: options.divergenceClip,
            eps: perPosition(),
            cotangents: perPosition(),
            codes: perPosition(),
          };
    this.sums = new ShardedSum(
      {
        arch,
        data: this.data,
        clip: options.clip,
        refine: null,
        recordNoise: this.recordNoise,
        posteriors: null,
        rows: options.maxRows,
        coupled: this.coupled,
      },
      this.params,
      wanted,
    );
  }

  /** A fresh run, parameters from the seed. */
  static start(args: {
    arch: Architecture;
    data: EngineImages;
    options: TermwiseOptions;
    recordNoise?: RecordNoise;
    /** Threads per step (dpsgd-threads.ts; default 1). Does not change the mechanism. */
    threads?: number;
  }): TermwiseTrainer {
    const options = resolveTermwiseOptions(args.options);
    const arch = mlpOnly(parseArchitecture(args.arch));
    checkImages(arch, args.data);
    const part = (which: 'encoder' | 'decoder', stream: number): Float32Array[] =>
      splitFlat(arch, which, initFlat(arch, which, mixSeed(options.seed, TERMWISE_STREAM, stream)));
    return new TermwiseTrainer({
      arch,
      data: args.data,
      options,
      step: 0,
      encoder: part('encoder', 0),
      decoder: part('decoder', 1),
      opt: { kind: options.optimizer, t: 0, m: [], v: [] },
      recordNoise: args.recordNoise,
      threads: args.threads,
    });
  }

  /** Continues from a checkpoint (same data, same options). */
  static resume(args: {
    data: EngineImages;
    checkpoint: TermwiseCheckpoint;
    recordNoise?: RecordNoise;
    threads?: number;
  }): TermwiseTrainer {
    const cp = args.checkpoint;
    const arch = mlpOnly(parseArchitecture(cp.architecture));
    const options = resolveTermwiseOptions({
      ...cp.options,
      targetEpsilon: cp.options.targetEpsilon ?? undefined,
    });
    checkImages(arch, args.data);
    if (cp.records !== args.data.count) {
      throw new UserError(
        'CORRUPT_DATA',
        `The checkpoint was made on ${cp.records} records, not ${args.data.count}; it cannot be resumed.`,
      );
    }
    if (!Number.isSafeInteger(cp.step) || cp.step < 0 || cp.step > options.steps)
      throw new UserError('CORRUPT_DATA', `The checkpoint's step count (${cp.step}) is invalid.`);
    const specs = [...parameterSpecs(arch, 'encoder'), ...parameterSpecs(arch, 'decoder')];
    const checked = (list: Float32Array[], what: string): Float32Array[] =>
      checkedArrays(list, specs, what);
    const params = checked([...cp.encoder, ...cp.decoder], 'parameters');
    const o = cp.optimizer;
    if (o.kind !== options.optimizer)
      throw new UserError('CORRUPT_DATA', "The checkpoint's optimiser state does not match.");
    return new TermwiseTrainer({
      arch,
      data: args.data,
      options,
      step: cp.step,
      encoder: params.slice(0, cp.encoder.length),
      decoder: params.slice(cp.encoder.length),
      opt:
        o.kind === 'adam'
          ? { kind: 'adam', t: o.t, m: checked(o.m, 'moments'), v: checked(o.v, 'moments') }
          : { kind: 'sgd', t: o.t, m: [], v: [] },
      recordNoise: args.recordNoise,
      threads: args.threads,
    });
  }

  get step(): number {
    return this.stepsTaken;
  }

  get expectedBatch(): number {
    return this.options.sampleRate * this.data.count;
  }

  /** Threads a step runs on: 1 until {@link run} has started the workers. */
  get threads(): number {
    return this.sums.threads;
  }

  /** The decoder φ (the releasable part). */
  decoderWeights(): Float32Array[] {
    return this.params.arrays().slice(this.params.nEnc);
  }

  /** Runs steps until the budget T, the target ε (never passed) or the signal. */
  async run(hooks: TermwiseHooks): Promise<PrivateRunResult> {
    await this.sums.start();
    return runPrivateSteps({
      taken: this.stepsTaken,
      steps: this.options.steps,
      target: this.options.targetEpsilon,
      hooks,
      takeStep: async (next) => {
        const report = await this.noisyStep();
        this.stepsTaken = next;
        return report;
      },
    });
  }

  /** The flat batch of `records` for step `step` (ε per record from the record-noise source). */
  batchOf(records: Uint32Array, step: number): FlatBatch {
    const { arch, data } = this;
    const n = records.length;
    const { x, y } = recordRows(arch, data, records);
    const eps = new Float32Array(n * arch.latent);
    this.fillEps(records, step, eps);
    return {
      x: tf.tensor2d(x, [n, imageSize(arch)]),
      y: tf.tensor2d(y, [n, arch.classes]),
      eps: tf.tensor2d(eps, [n, arch.latent]),
    };
  }

  /** Each record's ε at `step`, from the record-noise source, record by record into `out`. */
  private fillEps(records: Uint32Array, step: number, out: Float32Array): void {
    const L = this.arch.latent;
    records.forEach((record, r) =>
      this.recordNoise.fill({ record, step, out: out.subarray(r * L, (r + 1) * L) }),
    );
  }

  /**
   * Line 2 of the module comment, before the shards run: every sampled
   * record's ε (by its position in the sample) and the coupled cotangents
   * of all the codes. Returns the batch's MMD² every 10th step (a private
   * figure for the curves), else 0.
   */
  private async prepareCoupled(
    records: Uint32Array,
    step: number,
    prior: tf.Tensor2D,
    encoder: tf.Tensor[],
  ): Promise<number> {
    const { coupled, arch, options } = this;
    const B = records.length;
    if (!coupled || B === 0) return 0;
    const L = arch.latent;
    this.fillEps(records, step, coupled.eps.subarray(0, B * L));
    // The codes on every thread; the cotangents need all of them, so they are made here.
    const z = await this.sums.codes(records, encoder);
    const kernel: MmdKernel = options.divergence === 'mmd-rbf' ? 'rbf' : 'imq';
    coupled.cotangents.set(
      groupedCotangents(kernel, z, B, L, prior, this.pairGroups(records, step)),
    );
    // MMD² for the curves only every 10th step (it is a B×B pass of its own).
    return step % 10 === 0 ? mmdSquared(kernel, z, B, L, prior) : 0;
  }

  /**
   * The gradient sums of step `step` on `records` before any noise
   * (lines 2–3 of the module comment, without the noise), with the prior
   * samples given ([M, L], data-independent): each term apart, in this
   * thread (the sensitivity tests), or with `apart: false` G₁ + G₂ as a
   * step adds them, on the trainer's threads.
   */
  async termSums(
    records: Uint32Array,
    step: number,
    prior: tf.Tensor2D,
    { apart = true }: { apart?: boolean } = {},
  ): Promise<TermSums> {
    await this.sums.start();
    const tensors = this.params.tensors();
    try {
      const mmd = await this.prepareCoupled(records, step, prior, tensors.encoder);
      const separate = apart && this.coupled?.mode === 'termwise';
      const divergence = separate ? new Float32Array(this.params.size) : undefined;
      const { sum, figures } = await this.sums.run(records, step, tensors, divergence);
      const total = sumFigures(figures);
      return {
        perRecord: Float32Array.from(sum),
        divergence: divergence ?? null,
        recon: total.recon,
        kl: total.kl,
        mmd,
        clipped: total.clipped,
      };
    } finally {
      disposeAll([...tensors.encoder, ...tensors.decoder]);
    }
  }

  /**
   * Each record's pair group at `step`: uniform over K = round(q·N/G) groups,
   * from the seed, the record's index and the step only (data-independent, and
   * a record's group never depends on which others were sampled).
   */
  pairGroups(records: Uint32Array, step: number): Uint32Array {
    const k = Math.max(1, Math.round(this.expectedBatch / this.options.pairGroup));
    const out = new Uint32Array(records.length);
    if (k === 1) return out;
    const key = mixSeed(this.options.seed, TERMWISE_STREAM, 2);
    for (let i = 0; i < records.length; i++)
      out[i] = SeededRng.fromSeed(key, records[i] as number, step).nextInt(k);
    return out;
  }

  /** M fresh prior samples N(0, I) (data-independent). */
  private priorSamples(): tf.Tensor2D {
    const M = this.options.priorSamples;
    const L = this.arch.latent;
    return tf.tensor2d(this.noise.sample(M * L, 1), [M, L]);
  }

  /** One step (module comment). */
  private async noisyStep(): Promise<TermwiseStepReport> {
    const { options } = this;
    let sample = securePoissonSample(this.data.count, options.sampleRate);
    // Naive: a sample above the cap is dropped (its sensitivity bound needs the cap).
    if (options.mode === 'naive' && options.divergence !== 'kl' && sample.length > options.batchCap)
      sample = new Uint32Array(0);
    this.lastBatchSize = sample.length;
    const step = this.stepsTaken + 1;
    const prior = this.priorSamples();
    const tensors = this.params.tensors();
    let mmd;
    let result;
    try {
      mmd = await this.prepareCoupled(sample, step, prior, tensors.encoder);
      result = await this.sums.run(sample, step, tensors);
    } finally {
      prior.dispose();
      disposeAll([...tensors.encoder, ...tensors.decoder]);
    }
    // G₁ + G₂ with each term's noise: N(0, (σ₁Δ₁)²) everywhere and, on the encoder's
    // coordinates, N(0, (σ₂Δ₂)²) for G₂ — drawn as one Gaussian of the summed variance,
    // which is the same law (the update only ever uses the sum).
    const { sum, unitNoise, figures } = result;
    const [first, second] = this.terms as [TermNoise, TermNoise | undefined];
    const std1 = first.sigma * first.sensitivity;
    const std2 =
      second && this.coupled?.mode === 'termwise' ? second.sigma * second.sensitivity : 0;
    const stdEnc = Math.hypot(std1, std2);
    const dEnc = this.params.encoderSize;
    const scale = 1 / this.expectedBatch;
    for (let i = 0; i < sum.length; i++)
      sum[i] = ((sum[i] as number) + (i < dEnc ? stdEnc : std1) * (unitNoise[i] as number)) * scale;
    this.params.update(sum, {
      kind: options.optimizer,
      lr: scheduledLr(options.lr, options.lrSchedule, step, options.steps),
    });
    const total = sumFigures(figures);
    const b = sample.length;
    return {
      batchSize: b,
      recon: b > 0 ? total.recon / b : 0,
      kl: b > 0 ? total.kl / b : 0,
      mmd,
      clippedFraction: b > 0 ? total.clipped / b : 0,
    };
  }

  /** The whole state. */
  checkpoint(meta: Record<string, unknown> = {}): TermwiseCheckpoint {
    const params = this.params.arrays();
    return {
      kind: 'termwise',
      architecture: this.arch,
      options: { ...this.options },
      records: this.data.count,
      step: this.stepsTaken,
      encoder: params.slice(0, this.params.nEnc),
      decoder: params.slice(this.params.nEnc),
      optimizer: this.params.optimizerArrays(),
      meta,
    };
  }

  /** Frees the optimiser's tensors and stops the worker threads. */
  dispose(): void {
    this.sums.dispose();
    this.params.dispose();
  }
}

/** Serialises a term-wise checkpoint (deterministic). */
export function serializeTermwiseCheckpoint(cp: TermwiseCheckpoint): Uint8Array {
  const arrays: ContainerArray[] = [];
  cp.encoder.forEach((a, i) => arrays.push([`encoder.${i}`, a]));
  cp.decoder.forEach((a, i) => arrays.push([`decoder.${i}`, a]));
  cp.optimizer.m.forEach((a, i) => arrays.push([`optimizer.m.${i}`, a]));
  cp.optimizer.v.forEach((a, i) => arrays.push([`optimizer.v.${i}`, a]));
  const o = cp.options;
  return packContainer(
    {
      kind: 'termwise',
      architecture: parseArchitecture(cp.architecture),
      options: {
        sampleRate: o.sampleRate,
        sigma: o.sigma,
        clip: o.clip,
        divergence: o.divergence,
        divergenceWeight: o.divergenceWeight,
        divergenceClip: o.divergenceClip,
        mode: o.mode,
        batchCap: o.batchCap,
        priorSamples: o.priorSamples,
        pairGroup: o.pairGroup,
        lr: o.lr,
        steps: o.steps,
        targetEpsilon: o.targetEpsilon,
        seed: o.seed,
        optimizer: o.optimizer,
        maxRows: o.maxRows,
        lrSchedule: o.lrSchedule,
      },
      records: cp.records,
      step: cp.step,
      optimizer: { kind: cp.optimizer.kind, t: cp.optimizer.t },
      counts: {
        encoder: cp.encoder.length,
        decoder: cp.decoder.length,
        m: cp.optimizer.m.length,
        v: cp.optimizer.v.length,
      },
      meta: cp.meta,
    },
    arrays,
  );
}

/** Parses a term-wise checkpoint (UserError CORRUPT_DATA in plain words). */
export function deserializeTermwiseCheckpoint(bytes: Uint8Array): TermwiseCheckpoint {
  const { header, list } = unpackContainer(bytes);
  const h = header as {
    kind: unknown;
    architecture: unknown;
    options: ResolvedTermwiseOptions;
    records: number;
    step: number;
    optimizer: { kind: OptimizerKind; t: number };
    counts: { encoder: number; decoder: number; m: number; v: number };
    meta: Record<string, unknown>;
  };
  if (h.kind !== 'termwise') {
    throw new UserError(
      'CORRUPT_DATA',
      `This training checkpoint cannot be read: it is a ${String(h.kind)} checkpoint, not a term-wise DP-SGD one.`,
    );
  }
  return {
    kind: 'termwise',
    architecture: parseArchitecture(h.architecture),
    // Checkpoints written before pair groups existed paired the whole sample.
    options: { ...h.options, pairGroup: h.options.pairGroup ?? 1e9 },
    records: h.records,
    step: h.step,
    encoder: list('encoder', h.counts.encoder),
    decoder: list('decoder', h.counts.decoder),
    optimizer: {
      kind: h.optimizer.kind,
      t: h.optimizer.t,
      m: list('optimizer.m', h.counts.m),
      v: list('optimizer.v', h.counts.v),
    },
    meta: h.meta,
  };
}
