/**
 * The private stage every method's training loop shares: write-ahead spends
 * (never past the step budget, the run's own target ε or the data set's
 * cap), ε events, checkpoints, sample grids, pause/resume/cancel, and at the
 * end the released decoder. A method supplies a {@link PrivateTrainer}.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../contract/errors';
import { writeWholeFile } from '../io/whole-file';
import { encodePng, readDatasetFiles } from '../data';
import {
  generateImages,
  grid,
  parameterSpecs,
  writeCheckpointAtomic,
  type Architecture,
  type EngineImages,
} from '../engine';
import { composedTotal, ownEpsilon, stepLimit, type RunNoise } from './budget';
import type { StopReason, WorkerConfig } from './protocol';
import type { TrainingContext } from './training-context';
import { yieldToEvents } from '../engine/cooperate';

/** Thrown out of a stage-2 step when the runner grants no more steps (data set cap). */
class BudgetStop extends Error {}

/** Seed offset of the latent draws of the progress grids (fixed per run, so grids are comparable). */
const GRID_SEED_OFFSET = 0x67726964; // "grid"

export async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir)) n += (await stat(join(dir, name))).size;
  return n;
}

export function memory(): { rssBytes: number; heapUsedBytes: number; totalBytes: number } {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, totalBytes: totalmem() };
}

/** The released decoder: float32 little-endian weights in architecture order, and a description. */
export async function writeDecoder(
  dir: string,
  arch: Architecture,
  weights: Float32Array[],
): Promise<number> {
  await mkdir(dir, { recursive: true });
  const specs = parameterSpecs(arch, 'decoder');
  const total = weights.reduce((n, w) => n + w.length, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  const parameters = specs.map((s, i) => {
    const w = weights[i] as Float32Array;
    flat.set(w, offset);
    const entry = { name: s.name, shape: s.shape, offset, length: w.length };
    offset += w.length;
    return entry;
  });
  const bytes = new Uint8Array(flat.buffer);
  await writeWholeFile(join(dir, 'weights.bin'), bytes, 'The released decoder');
  const description = {
    format: 'dp2-decoder',
    version: 1,
    dtype: 'float32',
    byteOrder: 'little-endian',
    weights: 'weights.bin',
    architecture: arch,
    parameters,
  };
  await writeWholeFile(
    join(dir, 'architecture.json'),
    new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`),
    'The released decoder',
  );
  return bytes.byteLength;
}

/** The train split of a data set as the engine reads it. */
export async function loadTrainSplit(dir: string): Promise<EngineImages> {
  const { train } = await readDatasetFiles(dir);
  if (!(train.y instanceof Uint8Array)) {
    throw new UserError(
      'UNSUPPORTED',
      'This data set has more than 256 classes; DP²-VAE training supports at most 256.',
    );
  }
  return {
    x: train.x,
    y: train.y,
    count: train.count,
    height: train.height,
    width: train.width,
    channels: train.channels,
  };
}

/**
 * A checkpoint resumes only the run that wrote it: the privacy settings
 * (checkpoint, plan) must be equal and its step the one the ledger expects.
 */
export function requireMatchingCheckpoint(
  resume: { path: string; step: number },
  checkpointStep: number,
  settings: readonly (readonly [number, number])[],
): void {
  if (checkpointStep !== resume.step || settings.some(([saved, planned]) => saved !== planned)) {
    throw new UserError(
      'CORRUPT_DATA',
      `The checkpoint ${resume.path} does not match this run's settings; it cannot be resumed.`,
    );
  }
}

/** The bytes of a checkpoint file, or a plain-words refusal when it is gone. */
export async function readCheckpointFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw new UserError(
      'CORRUPT_DATA',
      `The checkpoint ${path} of this run is missing, so the run cannot be resumed. Start a new run; the privacy already spent stays recorded.`,
    );
  }
}

/**
 * A `(done, total)` callback that reports a stage's progress from the time it
 * is made: records per second and the time left, as the progress event says.
 */
export function stageProgress(
  send: TrainingContext['send'],
  stage: 'stage1' | 'stage2',
): (done: number, total: number) => void {
  const started = performance.now();
  return (done, total) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    send({
      type: 'progress',
      stage,
      step: done,
      totalSteps: total,
      samplesPerSecond: rate,
      etaSeconds: rate > 0 ? (total - done) / rate : null,
    });
  };
}

/** What the private stage needs of a trainer (DP²-VAE's stage 2 or DP-SGD). */
export interface PrivateTrainer {
  readonly step: number;
  run(hooks: {
    epsilonAfter: (steps: number) => number;
    beforeNoisyUpdate: (step: number) => Promise<void>;
    onStep: (r: { step: number; recon: number; kl: number }) => Promise<void>;
    signal: AbortSignal;
  }): Promise<{ stoppedBy: 'steps' | 'epsilon' | 'aborted' }>;
  /** The whole state as bytes, and what to do once they are recorded. */
  checkpoint(
    meta: Record<string, unknown>,
  ): Promise<{ bytes: Uint8Array; commit: () => Promise<void> }>;
  /** The released decoder's weights (grids are drawn from it); absent for a trainer that releases another model. */
  decoderWeights?(): Float32Array[];
  /**
   * For a trainer whose release is not a decoder (a classifier): writes its
   * releasable model under the run's folder once training ends (not when
   * cancelled) and says what it wrote. No grids are drawn for such a trainer.
   */
  release?(runDir: string): Promise<ReleasedModel>;
  dispose(): void;
}

/** A releasable model a trainer wrote itself (its folder and the bytes of its weights). */
export interface ReleasedModel {
  kind: 'classifier';
  dir: string;
  weightsBytes: number;
}

/**
 * The private stage of either method: write-ahead spends, ε events,
 * checkpoints, grids, pause/resume/cancel, the budget cap, and at the end the
 * released decoder.
 */
export async function privateStage(
  config: WorkerConfig,
  arch: Architecture,
  trainer: PrivateTrainer,
  opts: {
    rows: () => number;
    checkpointsDir: string;
    backendName: string;
    /** The plan's noise (its method's privacy plan). */
    noise: RunNoise;
    /**
     * Set when the trainer's steps cost no privacy (post-processing of a
     * release made before, e.g. `mepf`'s generator): it takes `steps` steps
     * and never asks for a spend; the decoder's noisy steps are `noisySteps`
     * (its release's), of which this run paid `paid` (0 when it trains from
     * another run's release).
     */
    postProcessing?: { steps: number; noisySteps: number; paid: number };
  },
  ctx: TrainingContext,
): Promise<void> {
  const { send, control, acks } = ctx;
  const { plan, schedule, runDir } = config;
  const { checkpointsDir, backendName } = opts;
  const { noise } = opts;
  try {
    const startStep = trainer.step;
    ctx.setPosition(() => trainer.step);
    const post = opts.postProcessing;
    const limits = post
      ? { limit: post.steps, reason: 'steps' as const }
      : stepLimit({
          noise,
          steps: plan.steps,
          targetEpsilon: config.targetEpsilon,
          delta: config.delta,
          budget: config.budget,
          paidSteps: config.paidSteps,
          startStep,
        });
    let limit = limits.limit;
    let limitReason: 'steps' | 'epsilon' | 'budget' = limits.reason;
    // Steps after the checkpoint are paid again (their noise is fresh).
    let reservedTo = startStep;
    let lastCheckpoint = startStep;
    let halted = false;

    const ownMemo = new Map<number, number>();
    // The noisy steps behind the decoder after s trainer steps.
    const noisyAfter = (s: number): number => (post ? post.noisySteps : s);
    const epsilonAfter = (trainerSteps: number): number => {
      const s = noisyAfter(trainerSteps);
      let e = ownMemo.get(s);
      if (e === undefined) {
        e = ownEpsilon(noise, s, config.delta);
        if (ownMemo.size > 64) ownMemo.clear();
        ownMemo.set(s, e);
      }
      return e;
    };
    const totalAfter = (s: number): number => {
      try {
        return composedTotal(
          config.budget.priorSpecs,
          noise,
          post ? post.paid : config.paidSteps + s - startStep,
          config.budget.delta,
        );
      } catch {
        return epsilonAfter(s); // mixed relations cannot be composed: show the run's own
      }
    };
    const sendEpsilon = (s: number): void =>
      send({ type: 'epsilon', step: s, epsilon: epsilonAfter(s), total: totalAfter(s) });

    const checkpoint = async (): Promise<void> => {
      const step = trainer.step;
      const { bytes, commit } = await trainer.checkpoint({
        runId: config.runId,
        backend: backendName,
      });
      const path = join(checkpointsDir, `stage2-${String(step).padStart(9, '0')}.ckpt`);
      await writeCheckpointAtomic(path, bytes);
      const recorded = acks.waitCheckpoint(path);
      send({ type: 'checkpoint', stage: 'stage2', step, path, bytes: bytes.byteLength });
      await recorded;
      await commit();
      lastCheckpoint = step;
      // Older checkpoints name encoder files `commit` may have removed: they are no longer resumable.
      for (const name of await readdir(checkpointsDir)) {
        const p = join(checkpointsDir, name);
        if (p !== path && name.startsWith('stage2-')) await rm(p, { force: true });
      }
    };

    const decoderWeights = trainer.decoderWeights?.bind(trainer);
    const drawGrid = (step: number): void => {
      // A trainer without a decoder (a classifier) has nothing to draw.
      if (!decoderWeights) return;
      const seed = 'seed' in plan ? plan.seed : 0;
      const images = generateImages(arch, decoderWeights(), {
        perClass: schedule.gridPerClass,
        seed: (seed + GRID_SEED_OFFSET) % 2 ** 31,
      });
      const g = grid(images, arch.classes, schedule.gridPerClass);
      const png = encodePng({
        width: g.width,
        height: g.height,
        channels: g.channels,
        data: g.data,
      });
      send({
        type: 'grid',
        step,
        perClass: schedule.gridPerClass,
        png: Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64'),
      });
    };

    let lastT = performance.now();
    let rate = 0; // steps per second
    let sampleRate = 0; // records per second

    const beforeNoisyUpdate = async (step: number): Promise<void> => {
      if (post) throw new Error('A post-processing stage asked to pay for a noisy step.');
      if (step <= reservedTo) return;
      if (step > limit) throw new BudgetStop();
      const to = Math.min(step + schedule.reserveChunk - 1, limit);
      const granted = acks.waitSpent(step);
      send({ type: 'spend', fromStep: step, toStep: to });
      const grantedTo = await granted;
      if (grantedTo < step) {
        limit = step - 1;
        limitReason = 'budget';
        throw new BudgetStop();
      }
      reservedTo = grantedTo;
      if (grantedTo < to) {
        limit = grantedTo;
        limitReason = 'budget';
      }
    };

    const onStep = async (r: { step: number; recon: number; kl: number }): Promise<void> => {
      const now = performance.now();
      const dt = (now - lastT) / 1000;
      lastT = now;
      if (dt > 0) {
        rate = rate === 0 ? 1 / dt : 0.9 * rate + 0.1 * (1 / dt);
        const rows = opts.rows();
        sampleRate = sampleRate === 0 ? rows / dt : 0.9 * sampleRate + 0.1 * (rows / dt);
      }
      send({ type: 'metrics', stage: 'stage2', step: r.step, recon: r.recon, kl: r.kl });
      send({
        type: 'progress',
        stage: 'stage2',
        step: r.step,
        totalSteps: limit,
        samplesPerSecond: Number.isFinite(sampleRate) ? sampleRate : 0,
        etaSeconds: rate > 0 ? Math.max(0, limit - r.step) / rate : null,
      });
      if (r.step % schedule.epsilonEvery === 0) sendEpsilon(r.step);
      if (schedule.gridEvery > 0 && r.step % schedule.gridEvery === 0) drawGrid(r.step);
      if (r.step % schedule.checkpointEvery === 0) await checkpoint();
      if (r.step >= limit && limitReason === 'budget') {
        halted = true;
        control.segment.abort();
      }
    };

    if (trainer.step >= limit && limitReason === 'budget') halted = true;
    let stoppedBy: StopReason;
    for (;;) {
      if (halted) {
        stoppedBy = 'budget';
        break;
      }
      let result;
      try {
        result = await trainer.run({
          epsilonAfter,
          beforeNoisyUpdate,
          onStep,
          signal: control.segment.signal,
        });
      } catch (err) {
        if (!(err instanceof BudgetStop)) throw err;
        stoppedBy = 'budget';
        break;
      }
      if (result.stoppedBy !== 'aborted') {
        stoppedBy = result.stoppedBy;
        break;
      }
      if (halted) continue;
      if (control.cancelled) {
        stoppedBy = 'cancelled';
        break;
      }
      // Paused: make the state durable, then wait.
      if (trainer.step > lastCheckpoint) await checkpoint();
      send({
        type: 'paused',
        stage: 'stage2',
        step: trainer.step,
        requestedAt: control.requestedAt ?? trainer.step,
      });
      await control.waitWhilePaused();
      if (control.cancelled) {
        stoppedBy = 'cancelled';
        break;
      }
      lastT = performance.now();
      rate = 0;
      sampleRate = 0;
      send({ type: 'resumed', stage: 'stage2', step: trainer.step });
      await yieldToEvents();
    }

    if (trainer.step > lastCheckpoint) await checkpoint();
    const steps = noisyAfter(trainer.step);
    if (stoppedBy === 'cancelled') {
      send({
        type: 'done',
        steps,
        epsilon: epsilonAfter(trainer.step),
        stoppedBy,
        requestedAt: control.requestedAt,
        decoder: null,
      });
      return;
    }
    sendEpsilon(trainer.step);
    if (trainer.release) {
      const model = await trainer.release(runDir);
      send({
        type: 'done',
        steps,
        epsilon: epsilonAfter(trainer.step),
        stoppedBy,
        requestedAt: null,
        decoder: null,
        model,
      });
      return;
    }
    if (!decoderWeights)
      throw new Error('A private trainer released neither a decoder nor a model.');
    drawGrid(trainer.step);
    const decoderDir = join(runDir, 'decoder');
    const weightsBytes = await writeDecoder(decoderDir, arch, decoderWeights());
    send({
      type: 'done',
      steps,
      epsilon: epsilonAfter(trainer.step),
      stoppedBy,
      requestedAt: null,
      decoder: { dir: decoderDir, weightsBytes },
    });
  } finally {
    trainer.dispose();
  }
}
