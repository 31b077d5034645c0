/**
 * Stage 2 of DP²-VAE — Algorithm 2 of Jiang et al. (arXiv 2208.03409): a
 * fresh decoder φ is trained with the Gaussian mechanism on top of the
 * stage-1 encoders. Each step t:
 *
 *   1. k ~ Uniform{0..K−1}                (node:crypto; part of the mechanism)
 *   2. batch S ⊆ D_k of size min(B, |D_k|) (seeded generator; any data-independent
 *                                          choice is fine: the whole block's
 *                                          contribution is accounted)
 *   3. ḡ = ∇_φ mean_{x∈S} −ELBO(x; θ_k, φ)  (θ_k fixed for this gradient)
 *   4. g̃ = ḡ·min(1, C/‖ḡ‖) + N(0, σ²C²I)   (privatize.ts, SecureGaussian)
 *   5. φ ← Adam(φ, g̃)                      (or SGD)
 *   6. θ_k ← θ_k − its plain gradient step  (own optimiser state; θ_k is never released;
 *                                          off by default: see `trainEncoders`)
 *
 * Only φ is releasable. The privacy accountant lives outside the engine: the
 * caller injects `epsilonAfter(steps)` and a write-ahead hook
 * `beforeNoisyUpdate(step)` awaited before every noisy update; training stops
 * at the step budget or before a step that would take ε past the target.
 * Reported losses are computed on private data without noise: private figures.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { checkInt, checkKind, checkPositive, invalidOption } from './option-checks';
import { parameterSpecs, type Architecture } from './architecture';
import {
  checkImages,
  disposeBatch,
  makeBatch,
  sampleWithoutReplacement,
  type EngineImages,
} from './batches';
import type { ResolvedStage2Options, Stage2Checkpoint } from './checkpoint';
import { elboGradients } from './cvae';
import type { EncoderStore } from './encoder-store';
import {
  clipByGroupNorm,
  disposeOptimizer,
  initOptimizer,
  optimizerStep,
  type OptimizerKind,
  type OptimizerState,
} from './optim';
import { allFlat, disposeAll, initParams, stackFlat } from './params';
import { blockRecords, partitionFingerprint, type Partition } from './partition';
import { privatizeInPlace } from './privatize';
import { mixSeed, SeededRng } from './rng';
import {
  runPrivateSteps,
  type PrivateRunResult,
  type PrivateStepHooks,
  type PrivateStopReason,
} from './private-steps';
import { SecureGaussian, secureRandomInt } from './secure-noise';

const STAGE2_STREAM = 0x737432; // "st2"

export interface Stage2Options {
  /** σ: the noise added to the clipped batch-mean gradient has std σ·C (must be > 0). */
  sigma: number;
  /** C: clipping norm of the batch-mean decoder gradient. */
  clip: number;
  /** B: batch size (a block smaller than B is used whole). */
  batchSize: number;
  /** Decoder learning rate. */
  lr: number;
  /** T: the step budget. */
  steps: number;
  /** K: the number of blocks (must match the partition). */
  blocks: number;
  /** Stop before a step that would make ε exceed this. */
  targetEpsilon?: number;
  /** Seed of the data-independent streams: decoder init, in-block batches, ε of the VAE. */
  seed: number;
  /** Decoder optimiser (default 'adam'). */
  optimizer?: OptimizerKind;
  /** Encoder optimiser in stage 2 (default 'adam'). */
  encoderOptimizer?: OptimizerKind;
  /** Encoder learning rate (default `lr`). */
  encoderLr?: number;
  /** Clipping of the encoder's (non-private) step, for stability; null = none (default `clip`). */
  encoderClip?: number | null;
  /** Whether θ_k takes its step (default true). */
  trainEncoders?: boolean;
}

export interface Stage2StepReport {
  /** Steps taken so far (this one included). */
  step: number;
  /** −ELBO terms of this step's batch before the update (nats/record; private figures). */
  recon: number;
  kl: number;
  /** ε spent after `step` steps, from the injected accountant. */
  epsilon: number;
}

export type Stage2Hooks = PrivateStepHooks<Omit<Stage2StepReport, 'step' | 'epsilon'>>;
export type Stage2StopReason = PrivateStopReason;
export type Stage2Result = PrivateRunResult;

/** Validates stage-2 options and fills in defaults. σ = 0 is refused: it would release un-noised gradients. */
export function resolveStage2Options(o: Stage2Options): ResolvedStage2Options {
  const sigma = checkPositive(o.sigma, 'The noise multiplier σ');
  const clip = checkPositive(o.clip, 'The clipping norm C');
  const lr = checkPositive(o.lr, 'The learning rate');
  return {
    sigma,
    clip,
    batchSize: checkInt(o.batchSize, 'The batch size', 1),
    lr,
    steps: checkInt(o.steps, 'The number of steps', 0),
    blocks: checkInt(o.blocks, 'The number of blocks', 1),
    targetEpsilon:
      o.targetEpsilon === undefined ? null : checkPositive(o.targetEpsilon, 'The target ε'),
    seed: checkInt(o.seed, 'The seed', 0),
    optimizer: checkKind(o.optimizer ?? 'adam', 'The decoder optimiser'),
    encoderOptimizer: checkKind(o.encoderOptimizer ?? 'adam', 'The encoder optimiser'),
    encoderLr: checkPositive(o.encoderLr ?? lr, 'The encoder learning rate'),
    encoderClip:
      o.encoderClip === null
        ? null
        : checkPositive(o.encoderClip ?? clip, 'The encoder clipping norm'),
    // Off by default: an encoder that learns only when its block is picked makes
    // each step depend on hidden past picks, which the per-step accounting
    // (WBK, or the block-sampling PLD) does not cover.
    trainEncoders: o.trainEncoders ?? false,
  };
}

interface TrainerParts {
  arch: Architecture;
  data: EngineImages;
  partition: Partition;
  store: EncoderStore;
  options: ResolvedStage2Options;
  step: number;
  decoder: tf.Tensor[];
  decoderOpt: OptimizerState;
  /** Saved in checkpoints for their format; steps draw from per-step streams (noisyStep). */
  sampler: SeededRng;
}

/** Stage-2 trainer: holds φ, its optimiser and the sampler; the encoders live in the store. */
export class Stage2Trainer {
  private readonly arch: Architecture;
  private readonly data: EngineImages;
  private readonly partition: Partition;
  private readonly store: EncoderStore;
  readonly options: ResolvedStage2Options;
  private stepsTaken: number;
  private decoder: tf.Tensor[];
  private decoderOpt: OptimizerState;
  private readonly sampler: SeededRng;
  private readonly noise = new SecureGaussian();
  private readonly gradVec: Float32Array;
  private readonly scratch: Float32Array;
  private readonly fingerprint: string;

  private constructor(p: TrainerParts) {
    this.arch = p.arch;
    this.data = p.data;
    this.partition = p.partition;
    this.store = p.store;
    this.options = p.options;
    this.stepsTaken = p.step;
    this.decoder = p.decoder;
    this.decoderOpt = p.decoderOpt;
    this.sampler = p.sampler;
    const d = p.decoder.reduce((n, t) => n + t.size, 0);
    this.gradVec = new Float32Array(d);
    this.scratch = new Float32Array(d);
    this.fingerprint = partitionFingerprint(p.partition);
  }

  private static check(
    arch: Architecture,
    data: EngineImages,
    partition: Partition,
    store: EncoderStore,
    blocks: number,
  ): void {
    checkImages(arch, data);
    if (partition.count !== data.count)
      invalidOption('The partition was made for a data set of another size.');
    if (partition.blocks !== blocks || store.blocks !== blocks) {
      invalidOption(
        `Stage 2 is set for ${blocks} blocks but the partition has ${partition.blocks} and the encoder folder ${store.blocks}.`,
      );
    }
    const missing = store.missingBlocks();
    if (missing.length > 0) {
      throw new UserError(
        'NOT_FOUND',
        `Stage 1 has not finished: ${missing.length} of ${blocks} encoders are missing. Finish stage 1 first.`,
      );
    }
  }

  /** A fresh stage 2 on the stage-1 encoders in `store` (resets the store to them). */
  static async start(args: {
    arch: Architecture;
    data: EngineImages;
    partition: Partition;
    store: EncoderStore;
    options: Stage2Options;
  }): Promise<Stage2Trainer> {
    const options = resolveStage2Options(args.options);
    Stage2Trainer.check(args.arch, args.data, args.partition, args.store, options.blocks);
    await args.store.restore(new Uint32Array(options.blocks));
    const decoder = initParams(args.arch, 'decoder', [
      mixSeed(options.seed, STAGE2_STREAM, 0),
    ]).tensors;
    return new Stage2Trainer({
      ...args,
      options,
      step: 0,
      decoder,
      decoderOpt: initOptimizer(options.optimizer, decoder),
      sampler: SeededRng.fromSeed(options.seed, STAGE2_STREAM, 1),
    });
  }

  /** Continues from a checkpoint; encoder files after it are discarded. */
  static async resume(args: {
    data: EngineImages;
    partition: Partition;
    store: EncoderStore;
    checkpoint: Stage2Checkpoint;
  }): Promise<Stage2Trainer> {
    const cp = args.checkpoint;
    const arch = cp.architecture;
    const o0 = cp.options;
    const options = resolveStage2Options({
      ...o0,
      targetEpsilon: o0.targetEpsilon ?? undefined,
    });
    if (!Number.isSafeInteger(cp.step) || cp.step < 0 || cp.step > options.steps) {
      throw new UserError('CORRUPT_DATA', `The checkpoint's step count (${cp.step}) is invalid.`);
    }
    Stage2Trainer.check(arch, args.data, args.partition, args.store, options.blocks);
    if (partitionFingerprint(args.partition) !== cp.partition.fingerprint) {
      throw new UserError(
        'CORRUPT_DATA',
        'The checkpoint was made with another partition of the data; it cannot be resumed.',
      );
    }
    await args.store.restore(cp.encoderVersions);
    const specs = parameterSpecs(arch, 'decoder');
    const tensorsOf = (arrays: Float32Array[]): tf.Tensor[] => {
      if (arrays.length !== specs.length)
        throw new UserError(
          'CORRUPT_DATA',
          'The checkpoint decoder does not match its architecture.',
        );
      return arrays.map((a, i) =>
        tf.tensor(a, [1, ...(specs[i] as { shape: number[] }).shape], 'float32'),
      );
    };
    const decoder = tensorsOf(cp.decoder);
    const o = cp.decoderOptimizer;
    return new Stage2Trainer({
      arch,
      data: args.data,
      partition: args.partition,
      store: args.store,
      options,
      step: cp.step,
      decoder,
      decoderOpt:
        o.kind === 'adam'
          ? { kind: 'adam', t: o.t, m: tensorsOf(o.m), v: tensorsOf(o.v) }
          : { kind: 'sgd', t: o.t, m: [], v: [] },
      sampler: SeededRng.fromState(cp.samplerRng),
    });
  }

  /** Noisy steps taken so far. */
  get step(): number {
    return this.stepsTaken;
  }

  /** The decoder φ (releasable), one array per parameter in architecture order. */
  decoderWeights(): Float32Array[] {
    return this.decoder.map((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  /**
   * Runs Algorithm 2 until the step budget, the ε target (checked with
   * `epsilonAfter(step + 1)` BEFORE spending) or the abort signal.
   */
  async run(hooks: Stage2Hooks): Promise<Stage2Result> {
    return runPrivateSteps({
      taken: this.stepsTaken,
      steps: this.options.steps,
      target: this.options.targetEpsilon,
      hooks,
      takeStep: async (next) => {
        const terms = await this.noisyStep(next);
        this.stepsTaken = next;
        return terms;
      },
    });
  }

  /** One step of Algorithm 2 (lines 1–6 above). */
  private async noisyStep(step: number): Promise<{ recon: number; kl: number }> {
    const { arch, options } = this;
    const k = secureRandomInt(options.blocks);
    const encState = await this.store.load(k);
    // A fresh stream per step, from (seed, step) alone: how much randomness a
    // step draws depends on its block's size, so one running stream would
    // carry hidden state about past picks into later steps.
    const rng = SeededRng.fromSeed(options.seed, STAGE2_STREAM, 2, step);
    const records = sampleWithoutReplacement(
      blockRecords(this.partition, k),
      options.batchSize,
      rng,
    );
    const batch = makeBatch(arch, this.data, [records], records.length, [rng]);
    const enc = stackFlat(arch, 'encoder', [encState.params]).tensors;
    let grads;
    try {
      grads = elboGradients(arch, enc, this.decoder, batch, {
        encoder: options.trainEncoders,
        decoder: true,
      });
    } catch (err) {
      disposeAll(enc);
      throw err;
    } finally {
      disposeBatch(batch);
    }
    // Decoder: clip the batch-mean gradient as one vector, add N(0, σ²C²I), update φ.
    const decGrads = grads.decoder as tf.Tensor[];
    let off = 0;
    for (const g of decGrads) {
      this.gradVec.set(g.dataSync() as Float32Array, off);
      off += g.size;
    }
    disposeAll(decGrads);
    privatizeInPlace(this.gradVec, options.clip, options.sigma, this.noise, this.scratch);
    off = 0;
    const noisy = this.decoder.map((p) => {
      const t = tf.tensor(this.gradVec.subarray(off, off + p.size), p.shape, 'float32');
      off += p.size;
      return t;
    });
    const upd = optimizerStep(this.decoder, noisy, this.decoderOpt, {
      kind: options.optimizer,
      lr: options.lr,
    });
    disposeAll(noisy);
    this.decoder = upd.params;
    this.decoderOpt = upd.state;
    // Encoder θ_k: its plain (non-private) step with its own optimiser state.
    if (options.trainEncoders && grads.encoder) {
      let eg = grads.encoder;
      if (options.encoderClip !== null) {
        const c = clipByGroupNorm(eg, options.encoderClip);
        disposeAll(eg);
        eg = c.grads;
      }
      const kind = options.encoderOptimizer;
      const state: OptimizerState =
        kind === 'adam' && encState.m && encState.v
          ? {
              kind,
              t: encState.t,
              m: stackFlat(arch, 'encoder', [encState.m]).tensors,
              v: stackFlat(arch, 'encoder', [encState.v]).tensors,
            }
          : { ...initOptimizer(kind, enc), t: encState.t };
      const e = optimizerStep(enc, eg, state, { kind, lr: options.encoderLr });
      disposeAll(eg);
      const params = allFlat(e.params, 1)[0] as Float32Array;
      const m = kind === 'adam' ? (allFlat(e.state.m, 1)[0] as Float32Array) : null;
      const v = kind === 'adam' ? (allFlat(e.state.v, 1)[0] as Float32Array) : null;
      disposeAll(e.params);
      disposeOptimizer(e.state);
      await this.store.save(k, { params, m, v, t: e.state.t });
    } else {
      disposeAll(enc);
    }
    return { recon: grads.recon[0] as number, kl: grads.kl[0] as number };
  }

  /**
   * Checkpoint, phase 1: the whole state as bytes (encoder files flushed and
   * fsynced). Write the bytes durably (writeCheckpointAtomic), THEN call
   * `commit()` so the store may delete files only older checkpoints need.
   * Do not run steps in between.
   */
  async checkpoint(
    meta: Record<string, unknown> = {},
  ): Promise<{ state: Stage2Checkpoint; commit: () => Promise<void> }> {
    const versions = await this.store.prepareSnapshot();
    const o = this.decoderOpt;
    const read = (ts: tf.Tensor[]): Float32Array[] =>
      ts.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    const p = this.partition;
    const state: Stage2Checkpoint = {
      kind: 'dp2vae-stage2',
      architecture: this.arch,
      options: this.options,
      partition: { count: p.count, blocks: p.blocks, seed: p.seed, fingerprint: this.fingerprint },
      step: this.stepsTaken,
      samplerRng: this.sampler.state(),
      decoder: read(this.decoder),
      decoderOptimizer: { kind: o.kind, t: o.t, m: read(o.m), v: read(o.v) },
      encoderVersions: versions,
      meta,
    };
    return { state, commit: () => this.store.commitSnapshot(versions) };
  }

  /** Frees the decoder and optimiser tensors. */
  dispose(): void {
    disposeAll(this.decoder);
    disposeOptimizer(this.decoderOpt);
    this.decoder = [];
  }
}
