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
 * The accountant lives outside the engine: as for stage 2 of DP²-VAE the
 * caller injects `epsilonAfter(steps)` and the write-ahead hook
 * `beforeNoisyUpdate(step)`, awaited before every noisy update.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { checkInt, checkKind, checkPositive, invalidOption } from './option-checks';
import { imageSize, parameterSpecs, parseArchitecture, type Architecture } from './architecture';
import { checkImages, recordRows, type EngineImages } from './batches';
import { packContainer, unpackContainer, type ContainerArray } from './checkpoint';
import { clippedSum, type FlatBatch } from './dpsgd-clip';
import { microBatchRows } from './memory';
import { disposeOptimizer, initOptimizer, optimizerStep, type OptimizerKind } from './optim';
import type { OptimizerState } from './optim';
import { disposeAll, initParams } from './params';
import { secureRecordNoise, type RecordNoise } from './record-noise';
import {
  gatherPosteriors,
  priorPosteriors,
  refinePosteriors,
  scatterPosteriors,
  type PosteriorTable,
  type RefineOptions,
} from './posterior';
import { mixSeed } from './rng';
import { SecureGaussian, securePoissonSample } from './secure-noise';
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
  private params: tf.Tensor[];
  private readonly nEnc: number;
  /** Per-record encoders' posteriors (null with an encoder network). */
  private readonly posteriors: PosteriorTable | null;
  private opt: OptimizerState;
  private readonly recordNoise: RecordNoise;
  private readonly noise = new SecureGaussian();
  private readonly gradVec: Float32Array;
  private readonly noiseVec: Float32Array;
  /** Records of the last step's sample (for progress figures). */
  lastBatchSize = 0;
  /** Rows of one micro-batch: `maxRows`, fewer where the model's activations would not fit (engine/memory.ts). */
  private readonly rows: number;

  private constructor(p: {
    arch: Architecture;
    data: EngineImages;
    options: ResolvedDpsgdOptions;
    step: number;
    params: tf.Tensor[];
    nEnc: number;
    posteriors: PosteriorTable | null;
    opt: OptimizerState;
    recordNoise: RecordNoise | undefined;
  }) {
    this.posteriors = p.posteriors;
    this.arch = p.arch;
    this.data = p.data;
    this.options = p.options;
    this.stepsTaken = p.step;
    this.params = p.params;
    this.nEnc = p.nEnc;
    this.opt = p.opt;
    this.recordNoise = p.recordNoise ?? secureRecordNoise();
    const d = p.params.reduce((n, t) => n + t.size, 0);
    this.gradVec = new Float32Array(d);
    this.noiseVec = new Float32Array(d);
    // Records per micro-batch: each takes K rows with importance samples.
    this.rows = Math.max(
      1,
      Math.floor(
        microBatchRows(p.arch, p.nEnc > 0, p.options.maxRows) / (p.options.refine?.samples ?? 1),
      ),
    );
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
  }): DpsgdTrainer {
    const options = resolveDpsgdOptions(args.options);
    const arch = parseArchitecture(args.arch);
    checkImages(arch, args.data);
    const perRecord = options.encoders === 'per-record';
    const enc = perRecord
      ? []
      : initParams(arch, 'encoder', [mixSeed(options.seed, DPSGD_STREAM, 0)]).tensors;
    const dec = initParams(arch, 'decoder', [mixSeed(options.seed, DPSGD_STREAM, 1)]).tensors;
    const params = [...enc, ...dec];
    return new DpsgdTrainer({
      arch,
      data: args.data,
      options,
      step: 0,
      params,
      nEnc: enc.length,
      posteriors: perRecord ? priorPosteriors(args.data.count, arch.latent) : null,
      opt: initOptimizer(options.optimizer, params),
      recordNoise: args.recordNoise,
    });
  }

  /** Continues from a checkpoint (same data, same options). */
  static resume(args: {
    data: EngineImages;
    checkpoint: DpsgdCheckpoint;
    recordNoise?: RecordNoise;
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
    const arrays = [...cp.encoder, ...cp.decoder];
    const tensorsOf = (list: Float32Array[], what: string): tf.Tensor[] => {
      if (list.length !== specs.length)
        throw new UserError('CORRUPT_DATA', `The checkpoint's ${what} do not match the model.`);
      return list.map((a, i) => {
        const shape = [1, ...(specs[i] as { shape: number[] }).shape];
        if (a.length !== shape.reduce((x, y) => x * y, 1))
          throw new UserError('CORRUPT_DATA', `The checkpoint's ${what} do not match the model.`);
        return tf.tensor(a, shape, 'float32');
      });
    };
    const params = tensorsOf(arrays, 'parameters');
    const o = cp.optimizer;
    const opt: OptimizerState =
      o.kind === 'adam'
        ? { kind: 'adam', t: o.t, m: tensorsOf(o.m, 'moments'), v: tensorsOf(o.v, 'moments') }
        : { kind: 'sgd', t: o.t, m: [], v: [] };
    if (o.kind !== options.optimizer)
      throw new UserError('CORRUPT_DATA', "The checkpoint's optimiser state does not match.");
    return new DpsgdTrainer({
      arch,
      data: args.data,
      options,
      step: cp.step,
      params,
      nEnc: cp.encoder.length,
      posteriors,
      opt,
      recordNoise: args.recordNoise,
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
    return this.params.slice(this.nEnc).map((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  /** The encoder θ (private: never released). */
  encoderWeights(): Float32Array[] {
    return this.params
      .slice(0, this.nEnc)
      .map((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  /**
   * Runs steps until the budget T, the target ε (never passed) or the signal.
   * `beforeNoisyUpdate(step)` is awaited before each noisy update.
   */
  async run(hooks: DpsgdHooks): Promise<PrivateRunResult> {
    return runPrivateSteps({
      taken: this.stepsTaken,
      steps: this.options.steps,
      target: this.options.targetEpsilon,
      hooks,
      takeStep: (next) => {
        const report = this.noisyStep();
        this.stepsTaken = next;
        return report;
      },
    });
  }

  /**
   * Builds the 2-D batch of `records` for noisy step `step`; each record's ε
   * comes from the record-noise source for that record alone. With
   * per-record encoders the batch carries each record's posterior refined
   * against the current decoder (not yet written back: see noisyStep).
   */
  batchOf(records: Uint32Array, step: number): FlatBatch {
    const { arch, data } = this;
    const n = records.length;
    const d = imageSize(arch);
    const c = arch.classes;
    const { x, y } = recordRows(arch, data, records);
    const k = arch.latent;
    // Per record and step: K draws of ε for the decoder's gradient, then K per refinement step.
    const refine = this.options.refine;
    const K = refine?.samples ?? 1;
    const draws = K * (1 + (refine ? Math.max(refine.steps, refine.firstVisitSteps) : 0));
    const noise = new Float32Array(n * k * draws);
    for (let r = 0; r < n; r++)
      this.recordNoise.fill({
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
    if (!refine || !this.posteriors) return batch;
    const table = this.posteriors;
    const refined = refinePosteriors(
      arch,
      this.params.slice(this.nEnc),
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

  /** The posterior table (per-record encoders; private training state), or null. */
  posteriorTable(): PosteriorTable | null {
    return this.posteriors;
  }

  /** One step (lines 1–4 of the module comment). */
  private noisyStep(): Omit<DpsgdStepReport, 'step' | 'epsilon'> {
    const { options } = this;
    const sample = securePoissonSample(this.data.count, options.sampleRate);
    this.lastBatchSize = sample.length;
    const vec = this.gradVec;
    vec.fill(0);
    let recon = 0;
    let kl = 0;
    let clipped = 0;
    const enc = this.params.slice(0, this.nEnc);
    const dec = this.params.slice(this.nEnc);
    for (let s = 0; s < sample.length; s += this.rows) {
      const records = sample.subarray(s, s + this.rows);
      const batch = this.batchOf(records, this.stepsTaken + 1);
      let sum;
      try {
        sum = clippedSum(this.arch, { encoder: enc, decoder: dec }, batch, options.clip);
        if (batch.posterior && this.posteriors) {
          scatterPosteriors(this.posteriors, records, {
            mu: batch.posterior.mu.dataSync() as Float32Array,
            logvar: batch.posterior.logvar.dataSync() as Float32Array,
          });
        }
      } finally {
        tf.dispose([batch.x, batch.y, batch.eps]);
        if (batch.posterior) tf.dispose([batch.posterior.mu, batch.posterior.logvar]);
      }
      let off = 0;
      for (const g of sum.grads) {
        const v = g.dataSync() as Float32Array;
        for (let i = 0; i < v.length; i++)
          vec[off + i] = (vec[off + i] as number) + (v[i] as number);
        off += v.length;
      }
      disposeAll(sum.grads);
      recon += sum.reconSum;
      kl += sum.klSum;
      for (const n of sum.norms) if (n > options.clip * (1 - 1e-5)) clipped++;
    }
    // Noise N(0, σ²C²) per coordinate from the CSPRNG, then divide by the expected batch q·N.
    this.noise.fill(this.noiseVec, options.sigma * options.clip);
    const scale = 1 / this.expectedBatch;
    for (let i = 0; i < vec.length; i++)
      vec[i] = ((vec[i] as number) + (this.noiseVec[i] as number)) * scale;
    let off = 0;
    const noisy = this.params.map((p) => {
      const t = tf.tensor(vec.subarray(off, off + p.size), p.shape, 'float32');
      off += p.size;
      return t;
    });
    const upd = optimizerStep(this.params, noisy, this.opt, {
      kind: options.optimizer,
      lr: scheduledLr(options.lr, options.lrSchedule, this.stepsTaken + 1, options.steps),
    });
    disposeAll(noisy);
    this.params = upd.params;
    this.opt = upd.state;
    const b = sample.length;
    return {
      batchSize: b,
      recon: b > 0 ? recon / b : 0,
      kl: b > 0 ? kl / b : 0,
      clippedFraction: b > 0 ? clipped / b : 0,
    };
  }

  /** The whole state (write it with writeCheckpointAtomic after serializeDpsgdCheckpoint). */
  checkpoint(meta: Record<string, unknown> = {}): DpsgdCheckpoint {
    const read = (ts: readonly tf.Tensor[]): Float32Array[] =>
      ts.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    return {
      kind: 'dpsgd',
      architecture: this.arch,
      options: { ...this.options },
      records: this.data.count,
      step: this.stepsTaken,
      encoder: read(this.params.slice(0, this.nEnc)),
      decoder: read(this.params.slice(this.nEnc)),
      posteriors: this.posteriors
        ? {
            latent: this.posteriors.latent,
            mu: this.posteriors.mu.slice(),
            logvar: this.posteriors.logvar.slice(),
            visits: this.posteriors.visits.slice(),
          }
        : null,
      optimizer: {
        kind: this.opt.kind,
        t: this.opt.t,
        m: read(this.opt.m),
        v: read(this.opt.v),
      },
      meta,
    };
  }

  /** Frees the parameter and optimiser tensors. */
  dispose(): void {
    disposeAll(this.params);
    disposeOptimizer(this.opt);
    this.params = [];
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
