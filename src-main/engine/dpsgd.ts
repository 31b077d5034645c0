/**
 * DP-SGD training of the conditional VAE (Abadi et al. 2016, applied to the
 * whole VAE as in the DP-SGD baselines of DP²-VAE, arXiv 2208.03409): the
 * encoder θ and decoder φ are trained TOGETHER, each step t:
 *
 *   1. S ← Poisson sample: each record independently with probability q
 *      (node:crypto; part of the mechanism, never shuffled fixed batches)
 *   2. g_i = ∇_{θ,φ} −ELBO(x_i, y_i; ε_i)  for i ∈ S   (ε_i ~ N(0, I) drawn
 *      per record from record-noise.ts: it never depends on which other
 *      records were sampled, so one record changes one term of the sum)
 *   3. ḡ = (Σ_i g_i·min(1, C/‖g_i‖) + N(0, σ²C²I)) / (q·N)   (dpsgd-clip.ts;
 *      the noise from SecureGaussian; an empty S is a noise-only step)
 *   4. (θ, φ) ← Adam((θ, φ), ḡ)   (or SGD)
 *
 * Privacy: the Poisson-subsampled Gaussian mechanism with noise multiplier σ
 * under add/remove adjacency, T steps (the 'dpsgd' mechanism of
 * src-main/privacy). Only φ is releasable — θ is noised too, but the released
 * artifact is the decoder alone, written in the same format as DP²-VAE's.
 *
 * With per-record encoders (DP²-VAE at K = N, posterior.ts) there is no
 * encoder network: before line 2 each sampled record's own posterior is
 * refined without noise against the current decoder, and lines 2–4 apply to
 * the decoder φ alone. The mechanism and its accounting are unchanged.
 *
 * Lines 2–3 may run on several threads (dpsgd-threads.ts): each takes some
 * of S and draws the noise for some of the coordinates; the sum, the noise
 * and so the mechanism are the same.
 *
 * The accountant lives outside the engine: as for stage 2 of DP²-VAE the
 * caller injects `epsilonAfter(steps)` and the write-ahead hook
 * `beforeNoisyUpdate(step)`, awaited before every noisy update.
 */
import { UserError } from '../contract/errors';
import { checkInt, checkKind, checkPositive, invalidOption } from './option-checks';
import { parameterSpecs, parseArchitecture, type Architecture } from './architecture';
import { checkImages, type EngineImages } from './batches';
import { packContainer, unpackContainer, type ContainerArray } from './checkpoint';
import type { FlatBatch } from './dpsgd-clip';
import { shardBatch, sumFigures, type ShardContext } from './dpsgd-shard';
import { sharedCopy } from './dpsgd-threads';
import { checkedArrays, FlatParams, type OptimizerArrays } from './flat-params';
import { microBatchRows } from './memory';
import type { OptimizerKind } from './optim';
import { disposeAll, initFlat, splitFlat } from './params';
import { secureRecordNoise, type RecordNoise } from './record-noise';
import { priorPosteriors, type PosteriorTable, type RefineOptions } from './posterior';
import { mixSeed } from './rng';
import { securePoissonSample } from './secure-noise';
import { ShardedSum, sharedImages, threadsWanted } from './sharded-sum';
import { runPrivateSteps, type PrivateRunResult, type PrivateStepHooks } from './private-steps';

const DPSGD_STREAM = 0x647073; // "dps"

export interface DpsgdOptions {
  /** q: each record joins a step's batch independently with this probability. */
  sampleRate: number;
  /** σ: noise std σ·C on the sum of clipped per-example gradients (must be > 0). */
  sigma: number;
  /** C: per-example clipping norm (encoder and decoder gradient as one vector). */
  clip: number;
  /** Adam (or SGD) learning rate. */
  lr: number;
  /** T: the step budget. */
  steps: number;
  /** Stop before a step that would make ε exceed this. */
  targetEpsilon?: number;
  /**
   * Seed of the parameters' initialisation. It does not fix the Poisson
   * samples, the mechanism's noise or the VAE's ε (all from node:crypto).
   */
  seed: number;
  /** Optimiser (default 'adam'). */
  optimizer?: OptimizerKind;
  /** Records per physical micro-batch (memory bound; default 512). Does not change the result. */
  maxRows?: number;
  /**
   * Learning-rate schedule over the step budget T (default 'constant'):
   * 'cosine' is lr·½(1 + cos(π·(t−1)/T)) at step t, so the last noisy steps
   * move the model less (data-independent: it depends on t and T only).
   */
  lrSchedule?: LrSchedule;
  /**
   * Where a record's posterior comes from (default 'network'): an encoder
   * network trained with the decoder (both get the clipped, noised gradient),
   * or 'per-record' encoders (posterior.ts: each record's own posterior,
   * refined without noise; only the decoder is trained by DP-SGD).
   */
  encoders?: EncoderKind;
  /** How per-record posteriors are refined (encoders 'per-record' only). */
  refine?: RefineOptions | null;
}

export type EncoderKind = 'network' | 'per-record';

export type LrSchedule = 'constant' | 'cosine';

/** The learning rate of step `step` (1-based) of `steps`. */
export function scheduledLr(lr: number, schedule: LrSchedule, step: number, steps: number): number {
  if (schedule === 'constant' || steps <= 1) return lr;
  const t = Math.min(Math.max(step - 1, 0), steps) / steps;
  return lr * 0.5 * (1 + Math.cos(Math.PI * t));
}

export interface ResolvedDpsgdOptions {
  sampleRate: number;
  sigma: number;
  clip: number;
  lr: number;
  steps: number;
  targetEpsilon: number | null;
  seed: number;
  optimizer: OptimizerKind;
  maxRows: number;
  lrSchedule: LrSchedule;
  encoders: EncoderKind;
  refine: RefineOptions | null;
}

/** The whole DP-SGD training state (checkpoint kind 'dpsgd'). */
export interface DpsgdCheckpoint {
  kind: 'dpsgd';
  architecture: Architecture;
  options: ResolvedDpsgdOptions;
  /** Record count of the training data (a resume on other data is refused). */
  records: number;
  /** Noisy steps taken (the accounting is a function of this; the sampler has no state). */
  step: number;
  /** The encoder network's parameters (empty with per-record encoders). */
  encoder: Float32Array[];
  decoder: Float32Array[];
  /** Every record's posterior (per-record encoders only; private, never released). */
  posteriors: PosteriorTable | null;
  optimizer: { kind: OptimizerKind; t: number; m: Float32Array[]; v: Float32Array[] };
  meta: Record<string, unknown>;
}

export interface DpsgdStepReport {
  step: number;
  /** Records in this step's Poisson sample. */
  batchSize: number;
  /** Mean −ELBO terms of this step's records before the update (nats; private figures; 0 when empty). */
  recon: number;
  kl: number;
  /** Fraction of this step's records whose gradient was clipped. */
  clippedFraction: number;
  epsilon: number;
}

export type DpsgdHooks = PrivateStepHooks<Omit<DpsgdStepReport, 'step' | 'epsilon'>>;

/** Validates DP-SGD options and fills in defaults; σ = 0 is refused. */
export function resolveDpsgdOptions(o: DpsgdOptions): ResolvedDpsgdOptions {
  const q = o.sampleRate;
  if (typeof q !== 'number' || !(q > 0 && q <= 1))
    invalidOption(`The sampling rate q must be in (0, 1]; got ${String(q)}.`);
  const optimizer = checkKind(o.optimizer ?? 'adam', 'The optimiser');
  return {
    sampleRate: q,
    sigma: checkPositive(o.sigma, 'The noise multiplier σ'),
    clip: checkPositive(o.clip, 'The clipping norm C'),
    lr: checkPositive(o.lr, 'The learning rate'),
    steps: checkInt(o.steps, 'The number of steps', 0),
    targetEpsilon:
      o.targetEpsilon === undefined || o.targetEpsilon === null
        ? null
        : checkPositive(o.targetEpsilon, 'The target ε'),
    seed: checkInt(o.seed, 'The seed', 0),
    optimizer,
    maxRows: checkInt(o.maxRows ?? 512, 'The micro-batch size', 1),
    lrSchedule: checkSchedule(o.lrSchedule ?? 'constant'),
    ...checkEncoders(o.encoders ?? 'network', o.refine),
  };
}

function checkEncoders(
  encoders: unknown,
  refine: RefineOptions | undefined | null,
): { encoders: EncoderKind; refine: RefineOptions | null } {
  if (encoders === 'network') {
    if (refine) invalidOption('Posterior refinement applies to per-record encoders only.');
    return { encoders, refine: null };
  }
  if (encoders !== 'per-record')
    invalidOption(`The encoders must be "network" or "per-record"; got ${String(encoders)}.`);
  if (!refine) invalidOption('Per-record encoders need their refinement settings.');
  return {
    encoders,
    refine: {
      steps: checkInt(refine.steps, 'The refinement steps', 0, 255),
      firstVisitSteps: checkInt(refine.firstVisitSteps, 'The first-visit refinement steps', 0, 255),
      lr: checkPositive(refine.lr, 'The refinement step size'),
      samples: checkInt(refine.samples ?? 1, 'The importance samples', 1, 64),
    },
  };
}

function checkSchedule(v: unknown): LrSchedule {
  if (v !== 'constant' && v !== 'cosine')
    invalidOption(`The learning-rate schedule must be "constant" or "cosine"; got ${String(v)}.`);
  return v;
}

/** Poisson-sampled DP-SGD trainer of the whole CVAE. */
export class DpsgdTrainer {
  readonly arch: Architecture;
  readonly options: ResolvedDpsgdOptions;
  private readonly data: EngineImages;
  private stepsTaken: number;
  /** Encoder (if any) then decoder parameters, flat, with Adam's state (flat-params.ts). */
  private readonly params: FlatParams;
  /** Per-record encoders' posteriors (null with an encoder network). */
  private readonly posteriors: PosteriorTable | null;
  /** Each step's clipped sum, in this thread or over several (sharded-sum.ts). */
  private readonly sums: ShardedSum;
  /** Records of the last step's sample (for progress figures). */
  lastBatchSize = 0;

  private constructor(p: {
    arch: Architecture;
    data: EngineImages;
    options: ResolvedDpsgdOptions;
    step: number;
    /** Encoder (if any) then decoder parameters, one array per spec. */
    encoder: Float32Array[];
    decoder: Float32Array[];
    posteriors: PosteriorTable | null;
    opt: OptimizerArrays;
    recordNoise: RecordNoise | undefined;
    threads: number | undefined;
  }) {
    const recordNoise = p.recordNoise ?? secureRecordNoise();
    const wanted = threadsWanted(recordNoise, p.threads);
    const threaded = wanted > 1;
    this.posteriors =
      threaded && p.posteriors
        ? {
            latent: p.posteriors.latent,
            mu: sharedCopy(p.posteriors.mu),
            logvar: sharedCopy(p.posteriors.logvar),
            visits: sharedCopy(p.posteriors.visits),
          }
        : p.posteriors;
    this.arch = p.arch;
    this.data = threaded ? sharedImages(p.data) : p.data;
    this.options = p.options;
    this.stepsTaken = p.step;
    const specs = [
      ...(p.encoder.length > 0 ? parameterSpecs(p.arch, 'encoder') : []),
      ...parameterSpecs(p.arch, 'decoder'),
    ];
    this.params = new FlatParams({
      shapes: specs.map((sp) => [1, ...sp.shape]),
      encoder: p.encoder,
      decoder: p.decoder,
      opt: p.opt,
      shared: threaded,
    });
    const ctx: ShardContext = {
      arch: p.arch,
      data: this.data,
      clip: p.options.clip,
      refine: p.options.refine,
      recordNoise,
      posteriors: this.posteriors,
      // Records per micro-batch: each takes K rows with importance samples.
      rows: Math.max(
        1,
        Math.floor(
          microBatchRows(p.arch, p.encoder.length > 0, p.options.maxRows) /
            (p.options.refine?.samples ?? 1),
        ),
      ),
      coupled: null,
    };
    this.sums = new ShardedSum(ctx, this.params, wanted);
  }

  /**
   * A fresh run: encoder and decoder initialised from the seed. `recordNoise`
   * (default: node:crypto) is where each record's ε comes from; tests pass a
   * keyed one to compare steps on different samples.
   */
  static start(args: {
    arch: Architecture;
    data: EngineImages;
    options: DpsgdOptions;
    recordNoise?: RecordNoise;
    /** Threads per step (dpsgd-threads.ts; default 1). Does not change the mechanism. */
    threads?: number;
  }): DpsgdTrainer {
    const options = resolveDpsgdOptions(args.options);
    const arch = parseArchitecture(args.arch);
    checkImages(arch, args.data);
    const perRecord = options.encoders === 'per-record';
    const encoder = perRecord
      ? []
      : splitFlat(
          arch,
          'encoder',
          initFlat(arch, 'encoder', mixSeed(options.seed, DPSGD_STREAM, 0)),
        );
    const decoder = splitFlat(
      arch,
      'decoder',
      initFlat(arch, 'decoder', mixSeed(options.seed, DPSGD_STREAM, 1)),
    );
    return new DpsgdTrainer({
      arch,
      data: args.data,
      options,
      step: 0,
      encoder,
      decoder,
      posteriors: perRecord ? priorPosteriors(args.data.count, arch.latent) : null,
      opt: { kind: options.optimizer, t: 0, m: [], v: [] },
      recordNoise: args.recordNoise,
      threads: args.threads,
    });
  }

  /** Continues from a checkpoint (same data, same options). */
  static resume(args: {
    data: EngineImages;
    checkpoint: DpsgdCheckpoint;
    recordNoise?: RecordNoise;
    threads?: number;
  }): DpsgdTrainer {
    const cp = args.checkpoint;
    const arch = parseArchitecture(cp.architecture);
    const options = resolveDpsgdOptions({
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
    if (!Number.isSafeInteger(cp.step) || cp.step < 0 || cp.step > options.steps) {
      throw new UserError('CORRUPT_DATA', `The checkpoint's step count (${cp.step}) is invalid.`);
    }
    const perRecord = options.encoders === 'per-record';
    const specs = [
      ...(perRecord ? [] : parameterSpecs(arch, 'encoder')),
      ...parameterSpecs(arch, 'decoder'),
    ];
    const posteriors = perRecord ? checkPosteriors(cp.posteriors, cp.records, arch.latent) : null;
    const checked = (list: Float32Array[], what: string): Float32Array[] =>
      checkedArrays(list, specs, what);
    const params = checked([...cp.encoder, ...cp.decoder], 'parameters');
    const o = cp.optimizer;
    if (o.kind !== options.optimizer)
      throw new UserError('CORRUPT_DATA', "The checkpoint's optimiser state does not match.");
    return new DpsgdTrainer({
      arch,
      data: args.data,
      options,
      step: cp.step,
      encoder: params.slice(0, cp.encoder.length),
      decoder: params.slice(cp.encoder.length),
      posteriors,
      opt:
        o.kind === 'adam'
          ? { kind: 'adam', t: o.t, m: checked(o.m, 'moments'), v: checked(o.v, 'moments') }
          : { kind: 'sgd', t: o.t, m: [], v: [] },
      recordNoise: args.recordNoise,
      threads: args.threads,
    });
  }

  /** Noisy steps taken so far. */
  get step(): number {
    return this.stepsTaken;
  }

  /** The expected batch size q·N (the divisor of the noisy sum). */
  get expectedBatch(): number {
    return this.options.sampleRate * this.data.count;
  }

  /** The decoder φ as one array per parameter (architecture order): the releasable part. */
  decoderWeights(): Float32Array[] {
    return this.params.arrays().slice(this.params.nEnc);
  }

  /** The encoder θ (private: never released). */
  encoderWeights(): Float32Array[] {
    return this.params.arrays().slice(0, this.params.nEnc);
  }

  /**
   * Runs steps until the budget T, the target ε (never passed) or the signal.
   * `beforeNoisyUpdate(step)` is awaited before each noisy update.
   */
  async run(hooks: DpsgdHooks): Promise<PrivateRunResult> {
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

  /** Threads a step runs on: 1 until {@link run} has started the workers. */
  get threads(): number {
    return this.sums.threads;
  }

  /**
   * The 2-D batch of `records` for noisy step `step` (dpsgd-shard.ts); with
   * per-record encoders it carries each record's posterior refined against
   * the current decoder (not written back).
   */
  batchOf(records: Uint32Array, step: number): FlatBatch {
    const { encoder, decoder } = this.params.tensors();
    try {
      return shardBatch(this.sums.ctx, decoder, records, step);
    } finally {
      disposeAll([...encoder, ...decoder]);
    }
  }

  /** The posterior table (per-record encoders; private training state), or null. */
  posteriorTable(): PosteriorTable | null {
    return this.posteriors;
  }

  /**
   * The clipped sum of `records` at step `step` without noise, as a copy
   * (tests and benches compare it across thread counts; training uses noisyStep).
   */
  async clippedSumOfRecords(records: Uint32Array, step: number): Promise<Float32Array> {
    await this.sums.start();
    const tensors = this.params.tensors();
    try {
      return Float32Array.from((await this.sums.run(records, step, tensors)).sum);
    } finally {
      disposeAll([...tensors.encoder, ...tensors.decoder]);
    }
  }

  /** One step (lines 1–4 of the module comment). */
  private async noisyStep(): Promise<Omit<DpsgdStepReport, 'step' | 'epsilon'>> {
    const { options } = this;
    const sample = securePoissonSample(this.data.count, options.sampleRate);
    this.lastBatchSize = sample.length;
    const tensors = this.params.tensors();
    let result;
    try {
      result = await this.sums.run(sample, this.stepsTaken + 1, tensors);
    } finally {
      disposeAll([...tensors.encoder, ...tensors.decoder]);
    }
    const { sum, unitNoise, figures } = result;
    // Noise N(0, σ²C²) per coordinate from the CSPRNG, then divide by the expected batch q·N.
    const std = options.sigma * options.clip;
    const scale = 1 / this.expectedBatch;
    for (let i = 0; i < sum.length; i++)
      sum[i] = ((sum[i] as number) + std * (unitNoise[i] as number)) * scale;
    // Into the flat vector, where every thread reads them at the next step.
    this.params.update(sum, {
      kind: options.optimizer,
      lr: scheduledLr(options.lr, options.lrSchedule, this.stepsTaken + 1, options.steps),
    });
    const total = sumFigures(figures);
    const b = sample.length;
    return {
      batchSize: b,
      recon: b > 0 ? total.recon / b : 0,
      kl: b > 0 ? total.kl / b : 0,
      clippedFraction: b > 0 ? total.clipped / b : 0,
    };
  }

  /** The whole state (write it with writeCheckpointAtomic after serializeDpsgdCheckpoint). */
  checkpoint(meta: Record<string, unknown> = {}): DpsgdCheckpoint {
    const params = this.params.arrays();
    return {
      kind: 'dpsgd',
      architecture: this.arch,
      options: { ...this.options },
      records: this.data.count,
      step: this.stepsTaken,
      encoder: params.slice(0, this.params.nEnc),
      decoder: params.slice(this.params.nEnc),
      posteriors: this.posteriors
        ? {
            latent: this.posteriors.latent,
            mu: this.posteriors.mu.slice(),
            logvar: this.posteriors.logvar.slice(),
            visits: this.posteriors.visits.slice(),
          }
        : null,
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

function normaliseDpsgdOptions(o: ResolvedDpsgdOptions): ResolvedDpsgdOptions {
  return {
    sampleRate: o.sampleRate,
    sigma: o.sigma,
    clip: o.clip,
    lr: o.lr,
    steps: o.steps,
    targetEpsilon: o.targetEpsilon,
    seed: o.seed,
    optimizer: o.optimizer,
    maxRows: o.maxRows,
    lrSchedule: o.lrSchedule,
    encoders: o.encoders,
    refine: o.refine
      ? {
          steps: o.refine.steps,
          firstVisitSteps: o.refine.firstVisitSteps,
          lr: o.refine.lr,
          samples: o.refine.samples ?? 1,
        }
      : null,
  };
}

/** A checkpoint's posterior table, checked against the data (CORRUPT_DATA in plain words). */
function checkPosteriors(
  table: PosteriorTable | null,
  records: number,
  latent: number,
): PosteriorTable {
  if (
    !table ||
    table.latent !== latent ||
    table.mu.length !== records * latent ||
    table.logvar.length !== records * latent ||
    table.visits.length !== records
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      "The checkpoint's per-record posteriors do not match the training data; it cannot be resumed.",
    );
  }
  return table;
}

/** Serialises a DP-SGD checkpoint in the checkpoint container (deterministic). */
export function serializeDpsgdCheckpoint(cp: DpsgdCheckpoint): Uint8Array {
  const arrays: ContainerArray[] = [];
  cp.encoder.forEach((a, i) => arrays.push([`encoder.${i}`, a]));
  cp.decoder.forEach((a, i) => arrays.push([`decoder.${i}`, a]));
  cp.optimizer.m.forEach((a, i) => arrays.push([`optimizer.m.${i}`, a]));
  cp.optimizer.v.forEach((a, i) => arrays.push([`optimizer.v.${i}`, a]));
  if (cp.posteriors) {
    arrays.push(['posterior.mu', cp.posteriors.mu]);
    arrays.push(['posterior.logvar', cp.posteriors.logvar]);
    arrays.push(['posterior.visits', cp.posteriors.visits]);
  }
  return packContainer(
    {
      kind: 'dpsgd',
      architecture: parseArchitecture(cp.architecture),
      options: normaliseDpsgdOptions(cp.options),
      records: cp.records,
      step: cp.step,
      optimizer: { kind: cp.optimizer.kind, t: cp.optimizer.t },
      counts: {
        encoder: cp.encoder.length,
        decoder: cp.decoder.length,
        m: cp.optimizer.m.length,
        v: cp.optimizer.v.length,
      },
      posteriorLatent: cp.posteriors ? cp.posteriors.latent : null,
      meta: cp.meta,
    },
    arrays,
  );
}

/** Parses and verifies a DP-SGD checkpoint (UserError CORRUPT_DATA | UNSUPPORTED in plain words). */
export function deserializeDpsgdCheckpoint(bytes: Uint8Array): DpsgdCheckpoint {
  const { header, array, list } = unpackContainer(bytes);
  const h = header as {
    kind: unknown;
    architecture: unknown;
    options: ResolvedDpsgdOptions;
    records: number;
    step: number;
    optimizer: { kind: OptimizerKind; t: number };
    counts: { encoder: number; decoder: number; m: number; v: number };
    posteriorLatent?: number | null;
    meta: Record<string, unknown>;
  };
  if (h.kind !== 'dpsgd') {
    throw new UserError(
      'CORRUPT_DATA',
      `This training checkpoint cannot be read: it is a ${String(h.kind)} checkpoint, not a DP-SGD one.`,
    );
  }
  return {
    kind: 'dpsgd',
    architecture: parseArchitecture(h.architecture),
    // Checkpoints written before per-record encoders existed have neither field.
    options: {
      ...h.options,
      encoders: h.options.encoders ?? 'network',
      refine: h.options.refine ?? null,
    },
    records: h.records,
    step: h.step,
    encoder: list('encoder', h.counts.encoder),
    decoder: list('decoder', h.counts.decoder),
    posteriors:
      typeof h.posteriorLatent === 'number'
        ? {
            latent: h.posteriorLatent,
            mu: array<Float32Array>('posterior.mu'),
            logvar: array<Float32Array>('posterior.logvar'),
            visits: array<Uint32Array>('posterior.visits'),
          }
        : null,
    optimizer: {
      kind: h.optimizer.kind,
      t: h.optimizer.t,
      m: list('optimizer.m', h.counts.m),
      v: list('optimizer.v', h.counts.v),
    },
    meta: h.meta,
  };
}
