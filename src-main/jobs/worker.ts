/**
 * The training worker: the child process that runs one training run — DP²-VAE
 * (Jiang et al., arXiv 2208.03409) or DP-SGD on the same conditional VAE; the
 * method is data on the plan — and streams typed events to the runner
 * (protocol.ts).
 * The main process never trains; this process never writes the database.
 *
 * Started by the runner with `child_process.fork(workerPath, { execArgv:
 * ['--import', 'tsx'] })` (CLI, tests) or Electron's `utilityProcess`; the
 * transport is `process.send`/`process.on('message')` or `process.parentPort`.
 * It waits for a `start` message with its WorkerConfig, then:
 *
 * 1. reads the data set's train split (readDatasetFiles), selects the backend;
 * 2. stage 1, unless every encoder is already on disk: one encoder per block
 *    in `<runDir>/encoders` (private), resumable block by block;
 * 3. stage 2, fresh or from the checkpoint in the config: before each noisy
 *    update the steps are paid for write-ahead (`spend`, wait for `spent`;
 *    reserved in chunks, never past the step budget, the run's own target ε or
 *    the data set's cap, so a crash can only over-count); checkpoints every N
 *    steps and at pause/cancel in `<runDir>/checkpoints` (private); a
 *    10-class sample grid from the stage-2 decoder every M steps;
 * 4. at the end the released decoder: `<runDir>/decoder/weights.bin` and
 *    `architecture.json` (releasable), then `done`.
 *
 * A DP-SGD run has no stage 1: its one private stage (reported as 'stage2',
 * with `method: 'dpsgd'` on the `stage` event) trains encoder and decoder
 * together (engine/dpsgd.ts) through the same step 3 — write-ahead spends
 * under the 'dpsgd' mechanism, checkpoints (parameters, Adam state, the
 * seeded generator; the Poisson sampler draws from the CSPRNG and has no
 * state), grids, pause/resume/cancel — and step 4.
 *
 * Pause, resume and cancel act within one step: each stage checks an
 * AbortSignal before every step; a paused stage 2 is checkpointed and waits.
 * A paused stage 1 discards its unfinished group of blocks (finished encoders
 * are on disk) and restarts that group on resume.
 *
 * While it runs, the worker sends a `heartbeat` every few seconds; the runner
 * kills a worker silent for longer than its slowest step allows (heartbeat.ts).
 */
import { open, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toErrorPayload, UserError } from '../contract/errors';
import { encodePng, readDatasetFiles } from '../data';
import {
  defaultGroupSize,
  deserializeCheckpoint,
  deserializeDpsgdCheckpoint,
  DpsgdTrainer,
  EncoderStore,
  generateImages,
  grid,
  largestBlock,
  parameterSpecs,
  parseArchitecture,
  partitionRecords,
  selectBackend,
  serializeCheckpoint,
  serializeDpsgdCheckpoint,
  Stage2Trainer,
  trainStage1,
  writeCheckpointAtomic,
  type Architecture,
  type EngineImages,
  type Partition,
} from '../engine';
import { HEARTBEAT_INTERVAL_MS, startStallMeter } from './heartbeat';
import { watchParent } from './parent-watch';
import { composedTotal, ownEpsilon, planNoise, stepLimit, type RunNoise } from './budget';
import {
  parseParentMessage,
  processTransport,
  type ChildMessage,
  type DpsgdPlan,
  type StopReason,
  type TrainingPlan,
  type WorkerConfig,
  type WorkerTransport,
} from './protocol';

/** Thrown out of a stage-2 step when the runner grants no more steps (data set cap). */
class BudgetStop extends Error {}

/** Seed offset of the latent draws of the progress grids (fixed per run, so grids are comparable). */
const GRID_SEED_OFFSET = 0x67726964; // "grid"

const yieldToEvents = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Pause / resume / cancel state shared by the stages. */
class Control {
  cancelled = false;
  paused = false;
  /** Aborted on pause or cancel; replaced when a paused stage resumes. */
  segment = new AbortController();
  /** Steps taken (in the current stage's unit) when the last pause/cancel arrived. */
  requestedAt: number | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly position: () => number) {}

  pause(): void {
    if (this.cancelled || this.paused) return;
    this.paused = true;
    this.requestedAt = this.position();
    this.segment.abort();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.wake?.();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (!this.paused) this.requestedAt = this.position();
    this.segment.abort();
    this.wake?.();
  }

  /** Waits while paused (returns at once when not); then a fresh segment signal. */
  async waitWhilePaused(): Promise<void> {
    while (this.paused && !this.cancelled) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    if (!this.cancelled) this.segment = new AbortController();
  }
}

/** Request/acknowledge pairs with the runner (one outstanding request per kind). */
class Acks {
  private spend: { fromStep: number; resolve: (to: number) => void } | null = null;
  private checkpoint: { path: string; resolve: () => void } | null = null;

  waitSpent(fromStep: number): Promise<number> {
    return new Promise((resolve) => (this.spend = { fromStep, resolve }));
  }
  spent(fromStep: number, toStep: number): void {
    const p = this.spend;
    if (!p || p.fromStep !== fromStep) {
      throw new Error(`Unexpected ledger acknowledgement for step ${fromStep}.`);
    }
    this.spend = null;
    p.resolve(toStep);
  }
  waitCheckpoint(path: string): Promise<void> {
    return new Promise((resolve) => (this.checkpoint = { path, resolve }));
  }
  checkpointRecorded(path: string): void {
    const p = this.checkpoint;
    if (!p || p.path !== path)
      throw new Error(`Unexpected checkpoint acknowledgement for ${path}.`);
    this.checkpoint = null;
    p.resolve();
  }
}

/** Writes `bytes` to `path` via a temporary file, fsync and rename. */
async function writeFileDurable(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir)) n += (await stat(join(dir, name))).size;
  return n;
}

function memory(): { rssBytes: number; heapUsedBytes: number; totalBytes: number } {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, totalBytes: totalmem() };
}

/** The released decoder: float32 little-endian weights in architecture order, and a description. */
async function writeDecoder(
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
  await writeFileDurable(join(dir, 'weights.bin'), bytes);
  const description = {
    format: 'dp2-decoder',
    version: 1,
    dtype: 'float32',
    byteOrder: 'little-endian',
    weights: 'weights.bin',
    architecture: arch,
    parameters,
  };
  await writeFileDurable(
    join(dir, 'architecture.json'),
    new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`),
  );
  return bytes.byteLength;
}

/** Runs one job over `transport`; resolves when the job has ended (done or error sent). */
export async function runWorker(transport: WorkerTransport): Promise<void> {
  const send = (m: ChildMessage): void => transport.send(m);
  let position = (): number => 0;
  const control = new Control(() => position());
  const acks = new Acks();
  let started: ((config: WorkerConfig) => void) | null = null;
  const configReady = new Promise<WorkerConfig>((r) => (started = r));
  let failProtocol: (err: Error) => void = () => {};
  const protocolFailed = new Promise<never>((_, reject) => (failProtocol = reject));
  protocolFailed.catch(() => {});

  transport.onMessage((raw) => {
    try {
      const msg = parseParentMessage(raw);
      switch (msg.type) {
        case 'start':
          started?.(msg.config);
          started = null;
          break;
        case 'spent':
          acks.spent(msg.fromStep, msg.toStep);
          break;
        case 'checkpoint-recorded':
          acks.checkpointRecorded(msg.path);
          break;
        case 'pause':
          control.pause();
          break;
        case 'resume':
          control.resume();
          break;
        case 'cancel':
          control.cancel();
          break;
      }
    } catch (err) {
      failProtocol(err as Error);
    }
  });
  send({ type: 'ready', pid: process.pid });
  const stopHeartbeat = startStallMeter(HEARTBEAT_INTERVAL_MS, (longestStallMs) =>
    send({ type: 'heartbeat', longestStallMs }),
  );

  try {
    const config = await Promise.race([configReady, protocolFailed]);
    await Promise.race([
      train(config, { send, control, acks, setPosition: (f) => (position = f) }),
      protocolFailed,
    ]);
  } catch (err) {
    send({ type: 'error', ...toErrorPayload(err) });
  } finally {
    stopHeartbeat();
  }
}

interface Ctx {
  send: (m: ChildMessage) => void;
  control: Control;
  acks: Acks;
  setPosition: (f: () => number) => void;
}

async function loadTrainSplit(dir: string): Promise<EngineImages> {
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

async function train(config: WorkerConfig, ctx: Ctx): Promise<void> {
  const plan = config.plan;
  if (plan.method === 'dpsgd') return trainDpsgd(config, plan, ctx);
  return trainDp2vae(config, plan, ctx);
}

/** DP²-VAE: stage 1 (encoders per block), then stage 2 (the private decoder). */
async function trainDp2vae(config: WorkerConfig, plan: TrainingPlan, ctx: Ctx): Promise<void> {
  const { send, control } = ctx;
  const { runDir } = config;
  const arch = parseArchitecture(config.architecture);
  const data = await loadTrainSplit(config.datasetDir);
  if (plan.blocks > data.count) {
    throw new UserError(
      'INVALID_INPUT',
      `The run asks for ${plan.blocks} blocks but the data set has only ${data.count} training images.`,
    );
  }
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory() });

  const partition = partitionRecords(data.count, plan.blocks, plan.seed);
  const encodersDir = join(runDir, 'encoders');
  const checkpointsDir = join(runDir, 'checkpoints');
  await mkdir(checkpointsDir, { recursive: true });
  const store = await EncoderStore.open(encodersDir, arch, plan.blocks);

  if (store.missingBlocks().length > 0) {
    if (config.resume) {
      throw new UserError(
        'CORRUPT_DATA',
        `The encoders of this run are incomplete in ${encodersDir}, so its checkpoint cannot be resumed. Start a new run.`,
      );
    }
    const finished = await stage1(config, plan, arch, data, partition, store, ctx);
    if (!finished) {
      send({
        type: 'done',
        steps: 0,
        epsilon: 0,
        stoppedBy: 'cancelled',
        requestedAt: control.requestedAt,
        decoder: null,
      });
      return;
    }
  }
  send({ type: 'stage', stage: 'stage2', method: 'dp2vae' });
  const trainer = await openStage2(config, plan, arch, data, partition, store);
  const rows = Math.min(plan.batchSize, Math.floor(data.count / plan.blocks));
  await privateStage(
    config,
    arch,
    {
      get step() {
        return trainer.step;
      },
      run: (hooks) => trainer.run(hooks),
      checkpoint: async (meta) => {
        const { state, commit } = await trainer.checkpoint(meta);
        return { bytes: serializeCheckpoint(state), commit };
      },
      decoderWeights: () => trainer.decoderWeights(),
      dispose: () => trainer.dispose(),
    },
    { rows: () => rows, checkpointsDir, backendName: backend.name },
    ctx,
  );
}

/**
 * DP-SGD: one private stage (reported as 'stage2') training encoder and
 * decoder together; only the decoder is released.
 */
async function trainDpsgd(config: WorkerConfig, plan: DpsgdPlan, ctx: Ctx): Promise<void> {
  const { send } = ctx;
  const arch = parseArchitecture(config.architecture);
  const data = await loadTrainSplit(config.datasetDir);
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory() });
  const checkpointsDir = join(config.runDir, 'checkpoints');
  await mkdir(checkpointsDir, { recursive: true });
  send({ type: 'stage', stage: 'stage2', method: 'dpsgd' });
  let trainer: DpsgdTrainer;
  if (config.resume) {
    const cp = deserializeDpsgdCheckpoint(await readCheckpointFile(config.resume.path));
    const o = cp.options;
    requireMatchingCheckpoint(config.resume, cp.step, [
      [o.sigma, plan.sigma],
      [o.sampleRate, plan.sampleRate],
      [o.clip, plan.clip],
      [o.steps, plan.steps],
    ]);
    trainer = DpsgdTrainer.resume({ data, checkpoint: cp });
  } else {
    trainer = DpsgdTrainer.start({
      arch,
      data,
      options: {
        sampleRate: plan.sampleRate,
        sigma: plan.sigma,
        clip: plan.clip,
        lr: plan.lr,
        steps: plan.steps,
        targetEpsilon: config.targetEpsilon,
        seed: plan.seed,
        optimizer: plan.optimizer,
        lrSchedule: plan.lrSchedule ?? 'constant',
      },
    });
  }
  await privateStage(
    config,
    arch,
    {
      get step() {
        return trainer.step;
      },
      run: (hooks) => trainer.run(hooks),
      checkpoint: async (meta) => ({
        bytes: serializeDpsgdCheckpoint(trainer.checkpoint(meta)),
        commit: async () => {},
      }),
      decoderWeights: () => trainer.decoderWeights(),
      dispose: () => trainer.dispose(),
    },
    { rows: () => trainer.lastBatchSize, checkpointsDir, backendName: backend.name },
    ctx,
  );
}

/**
 * A checkpoint resumes only the run that wrote it: the privacy settings
 * (checkpoint, plan) must be equal and its step the one the ledger expects.
 */
function requireMatchingCheckpoint(
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

async function readCheckpointFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw new UserError(
      'CORRUPT_DATA',
      `The checkpoint ${path} of this run is missing, so the run cannot be resumed. Start a new run; the privacy already spent stays recorded.`,
    );
  }
}

/** Stage 1 until every encoder is on disk; false when cancelled. */
async function stage1(
  config: WorkerConfig,
  plan: TrainingPlan,
  arch: Architecture,
  data: EngineImages,
  partition: Partition,
  store: EncoderStore,
  ctx: Ctx,
): Promise<boolean> {
  const { send, control } = ctx;
  send({ type: 'stage', stage: 'stage1', method: 'dp2vae' });
  const largest = largestBlock(partition);
  const rows = Math.min(plan.batchSize, largest);
  // Passes over the largest block, each of ⌈block / rows⌉ steps.
  const stepsPerBlock = Math.max(1, Math.ceil((plan.pretrainEpochs * largest) / rows));
  const groupSize = defaultGroupSize(arch, rows, 1 << 30);
  const K = plan.blocks;
  const total = K * stepsPerBlock;
  let done = (K - store.missingBlocks().length) * stepsPerBlock;
  ctx.setPosition(() => done);
  let lastT = performance.now();
  let rate = 0; // block-steps per second
  for (;;) {
    const todo = store.missingBlocks().length;
    if (todo === 0) break;
    const before = K - todo;
    const sizeOf = (g: number): number => Math.min(groupSize, todo - g * groupSize);
    const result = await trainStage1({
      arch,
      data,
      partition,
      store,
      options: {
        seed: plan.seed,
        steps: stepsPerBlock,
        batchSize: plan.batchSize,
        lr: plan.pretrainLr,
        clip: plan.pretrainClip,
        groupSize,
      },
      signal: control.segment.signal,
      onProgress: (p) => {
        const g = sizeOf(p.group);
        done = (before + p.group * groupSize) * stepsPerBlock + g * p.step;
        const now = performance.now();
        const dt = (now - lastT) / 1000;
        lastT = now;
        if (dt > 0) rate = rate === 0 ? g / dt : 0.8 * rate + 0.2 * (g / dt);
        send({ type: 'metrics', stage: 'stage1', step: done, recon: p.recon, kl: p.kl });
        send({
          type: 'progress',
          stage: 'stage1',
          step: done,
          totalSteps: total,
          samplesPerSecond: Number.isFinite(rate * rows) ? rate * rows : 0,
          etaSeconds: rate > 0 ? (total - done) / rate : null,
        });
      },
    });
    done = (K - store.missingBlocks().length) * stepsPerBlock;
    if (!result.aborted) continue;
    if (control.cancelled) return false;
    send({
      type: 'paused',
      stage: 'stage1',
      step: done,
      requestedAt: control.requestedAt ?? done,
    });
    await control.waitWhilePaused();
    if (control.cancelled) return false;
    lastT = performance.now();
    send({ type: 'resumed', stage: 'stage1', step: done });
  }
  send({
    type: 'checkpoint',
    stage: 'stage1',
    step: total,
    path: store.dir,
    bytes: await folderBytes(store.dir),
  });
  return true;
}

/** Stage 2 of DP²-VAE, fresh or from the checkpoint in the config. */
async function openStage2(
  config: WorkerConfig,
  plan: TrainingPlan,
  arch: Architecture,
  data: EngineImages,
  partition: Partition,
  store: EncoderStore,
): Promise<Stage2Trainer> {
  if (config.resume) {
    const cp = deserializeCheckpoint(await readCheckpointFile(config.resume.path));
    const o = cp.options;
    requireMatchingCheckpoint(config.resume, cp.step, [
      [o.sigma, plan.sigma],
      [o.blocks, plan.blocks],
      [o.clip, plan.clip],
      [o.steps, plan.steps],
    ]);
    return Stage2Trainer.resume({ data, partition, store, checkpoint: cp });
  }
  return Stage2Trainer.start({
    arch,
    data,
    partition,
    store,
    options: {
      sigma: plan.sigma,
      clip: plan.clip,
      batchSize: plan.batchSize,
      lr: plan.lr,
      steps: plan.steps,
      blocks: plan.blocks,
      targetEpsilon: config.targetEpsilon,
      seed: plan.seed,
      optimizer: plan.optimizer,
    },
  });
}

/** What the private stage needs of a trainer (DP²-VAE's stage 2 or DP-SGD). */
interface PrivateTrainer {
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
  decoderWeights(): Float32Array[];
  dispose(): void;
}

/**
 * The private stage of either method: write-ahead spends, ε events,
 * checkpoints, grids, pause/resume/cancel, the budget cap, and at the end the
 * released decoder.
 */
async function privateStage(
  config: WorkerConfig,
  arch: Architecture,
  trainer: PrivateTrainer,
  opts: { rows: () => number; checkpointsDir: string; backendName: string },
  ctx: Ctx,
): Promise<void> {
  const { send, control, acks } = ctx;
  const { plan, schedule, runDir } = config;
  const { checkpointsDir, backendName } = opts;
  const noise: RunNoise = planNoise(plan);
  try {
    const startStep = trainer.step;
    ctx.setPosition(() => trainer.step);
    const limits = stepLimit({
      noise,
      steps: plan.steps,
      targetEpsilon: config.targetEpsilon,
      delta: config.delta,
      budget: config.budget,
      paidSteps: config.paidSteps,
      startStep,
    });
    let limit = limits.limit;
    let limitReason = limits.reason;
    // Steps after the checkpoint are paid again (their noise is fresh).
    let reservedTo = startStep;
    let lastCheckpoint = startStep;
    let halted = false;

    const ownMemo = new Map<number, number>();
    const epsilonAfter = (s: number): number => {
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
          config.paidSteps + s - startStep,
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

    const drawGrid = (step: number): void => {
      const images = generateImages(arch, trainer.decoderWeights(), {
        perClass: schedule.gridPerClass,
        seed: (plan.seed + GRID_SEED_OFFSET) % 2 ** 31,
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

    const steps = trainer.step;
    if (steps > lastCheckpoint) await checkpoint();
    if (stoppedBy === 'cancelled') {
      send({
        type: 'done',
        steps,
        epsilon: epsilonAfter(steps),
        stoppedBy,
        requestedAt: control.requestedAt,
        decoder: null,
      });
      return;
    }
    sendEpsilon(steps);
    drawGrid(steps);
    const decoderDir = join(runDir, 'decoder');
    const weightsBytes = await writeDecoder(decoderDir, arch, trainer.decoderWeights());
    send({
      type: 'done',
      steps,
      epsilon: epsilonAfter(steps),
      stoppedBy,
      requestedAt: null,
      decoder: { dir: decoderDir, weightsBytes },
    });
  } finally {
    trainer.dispose();
  }
}

/** Whether this module is the process's entry point (fork) or runs in Electron's utilityProcess. */
function isEntryPoint(): boolean {
  if ((process as unknown as { parentPort?: unknown }).parentPort) return true;
  const main = process.argv[1];
  if (!main) return false;
  try {
    return (
      pathToFileURL(resolve(main)).href === import.meta.url ||
      resolve(main) === fileURLToPath(import.meta.url)
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const transport = processTransport();
  // The runner is gone (main process crashed or quit): stop at once; the run resumes later.
  transport.onParentGone(() => process.exit(1));
  watchParent();
  void runWorker(transport)
    .then(() => transport.close())
    .then(
      () => {
        // Nothing should keep the process alive now; make sure of it.
        setTimeout(() => process.exit(0), 2000).unref();
      },
      (err: unknown) => {
        process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
        process.exit(1);
      },
    );
}
