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
import { clippedSum, type FlatBatch } from './dpsgd-clip';
import { scheduledLr, type LrSchedule } from './dpsgd';
import { disposeOptimizer, initOptimizer, optimizerStep, type OptimizerKind } from './optim';
import type { OptimizerState } from './optim';
import { disposeAll, initParams } from './params';
import { secureRecordNoise, type RecordNoise } from './record-noise';
import { mixSeed, SeededRng } from './rng';
import { SecureGaussian, securePoissonSample } from './secure-noise';
import { runPrivateSteps, type PrivateRunResult, type PrivateStepHooks } from './private-steps';
import {
  disposePass,
  groupedCotangents,
  encoderPass,
  mmdSquared,
  termwiseDivergenceFromPass,
  type EncoderPass,
  type MmdKernel,
} from './termwise-terms';

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
  /** G₁ (naive: the one clipped sum), encoder then decoder, flat. */
  perRecord: Float32Array;
  /** G₂ over the encoder's coordinates (zeros on the decoder's); null without a coupled term. */
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
  private params: tf.Tensor[];
  private readonly nEnc: number;
  private opt: OptimizerState;
  private readonly recordNoise: RecordNoise;
  private readonly noise = new SecureGaussian();
  lastBatchSize = 0;

  private constructor(p: {
    arch: MlpCvaeArchitecture;
    data: EngineImages;
    options: ResolvedTermwiseOptions;
    step: number;
    params: tf.Tensor[];
    nEnc: number;
    opt: OptimizerState;
    recordNoise: RecordNoise | undefined;
  }) {
    this.arch = p.arch;
    this.data = p.data;
    this.options = p.options;
    this.stepsTaken = p.step;
    this.params = p.params;
    this.nEnc = p.nEnc;
    this.opt = p.opt;
    this.recordNoise = p.recordNoise ?? secureRecordNoise();
    this.terms = termNoises(p.options);
  }

  /** A fresh run, parameters from the seed. */
  static start(args: {
    arch: Architecture;
    data: EngineImages;
    options: TermwiseOptions;
    recordNoise?: RecordNoise;
  }): TermwiseTrainer {
    const options = resolveTermwiseOptions(args.options);
    const arch = mlpOnly(parseArchitecture(args.arch));
    checkImages(arch, args.data);
    const enc = initParams(arch, 'encoder', [mixSeed(options.seed, TERMWISE_STREAM, 0)]).tensors;
    const dec = initParams(arch, 'decoder', [mixSeed(options.seed, TERMWISE_STREAM, 1)]).tensors;
    const params = [...enc, ...dec];
    return new TermwiseTrainer({
      arch,
      data: args.data,
      options,
      step: 0,
      params,
      nEnc: enc.length,
      opt: initOptimizer(options.optimizer, params),
      recordNoise: args.recordNoise,
    });
  }

  /** Continues from a checkpoint (same data, same options). */
  static resume(args: {
    data: EngineImages;
    checkpoint: TermwiseCheckpoint;
    recordNoise?: RecordNoise;
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
    const params = tensorsOf([...cp.encoder, ...cp.decoder], 'parameters');
    const o = cp.optimizer;
    if (o.kind !== options.optimizer)
      throw new UserError('CORRUPT_DATA', "The checkpoint's optimiser state does not match.");
    const opt: OptimizerState =
      o.kind === 'adam'
        ? { kind: 'adam', t: o.t, m: tensorsOf(o.m, 'moments'), v: tensorsOf(o.v, 'moments') }
        : { kind: 'sgd', t: o.t, m: [], v: [] };
    return new TermwiseTrainer({
      arch,
      data: args.data,
      options,
      step: cp.step,
      params,
      nEnc: cp.encoder.length,
      opt,
      recordNoise: args.recordNoise,
    });
  }

  get step(): number {
    return this.stepsTaken;
  }

  get expectedBatch(): number {
    return this.options.sampleRate * this.data.count;
  }

  /** The decoder φ (the releasable part). */
  decoderWeights(): Float32Array[] {
    return this.params.slice(this.nEnc).map((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  /** Runs steps until the budget T, the target ε (never passed) or the signal. */
  async run(hooks: TermwiseHooks): Promise<PrivateRunResult> {
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

  /** The flat batch of `records` for step `step` (ε per record from the record-noise source). */
  batchOf(records: Uint32Array, step: number): FlatBatch {
    const { arch, data } = this;
    const n = records.length;
    const d = imageSize(arch);
    const c = arch.classes;
    const { x, y } = recordRows(arch, data, records);
    const eps = new Float32Array(n * arch.latent);
    for (let r = 0; r < n; r++) {
      const rec = records[r] as number;
      this.recordNoise.fill({
        record: rec,
        step,
        out: eps.subarray(r * arch.latent, (r + 1) * arch.latent),
      });
    }
    return {
      x: tf.tensor2d(x, [n, d]),
      y: tf.tensor2d(y, [n, c]),
      eps: tf.tensor2d(eps, [n, arch.latent]),
    };
  }

  /**
   * The gradient sums of step `step` on `records` before any noise
   * (lines 2–3 of the module comment, without the noise), with the prior
   * samples given ([M, L], data-independent).
   */
  termSums(records: Uint32Array, step: number, prior: tf.Tensor2D): TermSums {
    const { options, arch } = this;
    const L = arch.latent;
    const enc = this.params.slice(0, this.nEnc);
    const dec = this.params.slice(this.nEnc);
    const d = this.params.reduce((n, t) => n + t.size, 0);
    const dEnc = enc.reduce((n, t) => n + t.size, 0);
    const perRecord = new Float32Array(d);
    const coupled = options.divergence !== 'kl';
    const divergence = coupled && options.mode === 'termwise' ? new Float32Array(d) : null;
    const kernel: MmdKernel = options.divergence === 'mmd-rbf' ? 'rbf' : 'imq';
    const B = records.length;
    // Pass 1: every chunk's batch and encoder pass (kept), and every code, for the coupled cotangents.
    const chunks: { part: Uint32Array; batch: FlatBatch; pass: EncoderPass | null }[] = [];
    let recon = 0;
    let kl = 0;
    let clipped = 0;
    let mmd = 0;
    const add = (into: Float32Array, grads: tf.Tensor[]): void => {
      let off = 0;
      for (const g of grads) {
        const v = g.dataSync() as Float32Array;
        for (let i = 0; i < v.length; i++)
          into[off + i] = (into[off + i] as number) + (v[i] as number);
        off += v.length;
      }
    };
    try {
      let u: Float32Array | null = null;
      for (let s = 0; s < B; s += options.maxRows) {
        const part = records.subarray(s, s + options.maxRows);
        const batch = this.batchOf(part, step);
        chunks.push({ part, batch, pass: null });
        if (coupled) {
          const chunk = chunks[chunks.length - 1] as (typeof chunks)[number];
          chunk.pass = encoderPass(arch, enc, batch.x, batch.y, batch.eps);
        }
      }
      if (coupled && B > 0) {
        const z = new Float32Array(B * L);
        let at = 0;
        for (const c of chunks) {
          z.set(c.pass!.z.dataSync() as Float32Array, at);
          at += c.part.length * L;
        }
        u = groupedCotangents(kernel, z, B, L, prior, this.pairGroups(records, step));
        // MMD² for the curves only every 10th step (it is a B×B pass of its own).
        if (step % 10 === 0) mmd = mmdSquared(kernel, z, B, L, prior);
      }
      let s = 0;
      for (const { part, batch, pass } of chunks) {
        const n = part.length;
        const uPart = u ? u.subarray(s * L, (s + n) * L) : null;
        s += n;
        if (uPart && options.mode === 'naive') {
          const cot = Float32Array.from(uPart, (v) => v * options.divergenceWeight);
          batch.zCotangent = tf.tensor2d(cot, [n, L]);
        }
        const sum = clippedSum(arch, { encoder: enc, decoder: dec }, batch, options.clip);
        add(perRecord, sum.grads);
        disposeAll(sum.grads);
        recon += sum.reconSum;
        kl += sum.klSum;
        for (const nm of sum.norms) if (nm > options.clip * (1 - 1e-5)) clipped++;
        if (uPart && divergence && pass) {
          const div = termwiseDivergenceFromPass(arch, enc, pass, uPart, {
            weight: options.divergenceWeight,
            clip: options.divergenceClip,
          });
          add(divergence.subarray(0, dEnc), div.grads);
          disposeAll(div.grads);
        }
      }
    } finally {
      for (const { batch, pass } of chunks) {
        tf.dispose([batch.x, batch.y, batch.eps]);
        if (batch.zCotangent) batch.zCotangent.dispose();
        if (pass) disposePass(pass);
      }
    }
    return { perRecord, divergence, recon, kl, mmd, clipped };
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
  private noisyStep(): TermwiseStepReport {
    const { options } = this;
    let sample = securePoissonSample(this.data.count, options.sampleRate);
    // Naive: a sample above the cap is dropped (its sensitivity bound needs the cap).
    if (options.mode === 'naive' && options.divergence !== 'kl' && sample.length > options.batchCap)
      sample = new Uint32Array(0);
    this.lastBatchSize = sample.length;
    const prior = this.priorSamples();
    let sums: TermSums;
    try {
      sums = this.termSums(sample, this.stepsTaken + 1, prior);
    } finally {
      prior.dispose();
    }
    const vec = sums.perRecord;
    const noise = new Float32Array(vec.length);
    const [first, second] = this.terms as [TermNoise, TermNoise | undefined];
    this.noise.fill(noise, first.sigma * first.sensitivity);
    for (let i = 0; i < vec.length; i++) vec[i] = (vec[i] as number) + (noise[i] as number);
    if (second && sums.divergence) {
      const dEnc = this.params.slice(0, this.nEnc).reduce((n, t) => n + t.size, 0);
      const n2 = this.noise.sample(dEnc, second.sigma * second.sensitivity);
      const div = sums.divergence;
      for (let i = 0; i < dEnc; i++)
        vec[i] = (vec[i] as number) + (div[i] as number) + (n2[i] as number);
    }
    const scale = 1 / this.expectedBatch;
    let off = 0;
    const noisy = this.params.map((p) => {
      const t = tf.tensor(
        Float32Array.from(vec.subarray(off, off + p.size), (v) => v * scale),
        p.shape,
        'float32',
      );
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
      recon: b > 0 ? sums.recon / b : 0,
      kl: b > 0 ? sums.kl / b : 0,
      mmd: sums.mmd,
      clippedFraction: b > 0 ? sums.clipped / b : 0,
    };
  }

  /** The whole state. */
  checkpoint(meta: Record<string, unknown> = {}): TermwiseCheckpoint {
    const read = (ts: readonly tf.Tensor[]): Float32Array[] =>
      ts.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    return {
      kind: 'termwise',
      architecture: this.arch,
      options: { ...this.options },
      records: this.data.count,
      step: this.stepsTaken,
      encoder: read(this.params.slice(0, this.nEnc)),
      decoder: read(this.params.slice(this.nEnc)),
      optimizer: { kind: this.opt.kind, t: this.opt.t, m: read(this.opt.m), v: read(this.opt.v) },
      meta,
    };
  }

  dispose(): void {
    disposeAll(this.params);
    disposeOptimizer(this.opt);
    this.params = [];
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
