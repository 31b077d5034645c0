/**
 * DP²-VAE's training loop in the worker: stage 1 (one encoder per block, no
 * noise, private, resumable block by block), then stage 2 (the released
 * decoder, one block per noisy step) through the shared private stage.
 *
 * Stage 2 draws each step's in-block randomness from a stream keyed by
 * (seed, step), not from `ctx.recordNoise`: the relation is replace-one and
 * the blocks' sizes are fixed by N (docs/privacy.md).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../contract/errors';
import {
  defaultGroupSize,
  deserializeCheckpoint,
  EncoderStore,
  largestBlock,
  parseArchitecture,
  partitionRecords,
  currentBackend,
  selectBackend,
  serializeCheckpoint,
  Stage2Trainer,
  trainStage1,
  trainThreadCount,
  type Architecture,
  type EngineImages,
  type Partition,
} from '../../engine';
import {
  folderBytes,
  loadTrainSplit,
  memory,
  privateStage,
  readCheckpointFile,
  requireMatchingCheckpoint,
} from '../../jobs/private-stage';
import type { TrainingPlan, WorkerConfig } from '../../jobs/protocol';
import type { TrainingContext } from '../../jobs/training-context';
import { dp2vaeNoise } from './plan';

/** DP²-VAE: stage 1 (encoders per block), then stage 2 (the private decoder). */
export async function trainDp2vae(
  config: WorkerConfig,
  plan: TrainingPlan,
  ctx: TrainingContext,
): Promise<void> {
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
  // Stage 1 trains on every core (engine/stage1-threads.ts); stage 2 on one thread.
  const threads = trainThreadCount({ backend: backend.name });
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory(), threads });

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
    { rows: () => rows, checkpointsDir, backendName: backend.name, noise: dp2vaeNoise(plan) },
    ctx,
  );
}

/** Stage 1 until every encoder is on disk; false when cancelled. */
async function stage1(
  config: WorkerConfig,
  plan: TrainingPlan,
  arch: Architecture,
  data: EngineImages,
  partition: Partition,
  store: EncoderStore,
  ctx: TrainingContext,
): Promise<boolean> {
  const { send, control } = ctx;
  send({ type: 'stage', stage: 'stage1', method: 'dp2vae' });
  const largest = largestBlock(partition);
  const rows = Math.min(plan.batchSize, largest);
  // Passes over the largest block, each of ⌈block / rows⌉ steps.
  const stepsPerBlock = Math.max(1, Math.ceil((plan.pretrainEpochs * largest) / rows));
  // Groups share out over every core (engine/stage1-threads.ts), each thread
  // holding one group: the memory budget is split between them.
  const threads = trainThreadCount({ backend: currentBackend()?.name ?? 'wasm' });
  const groupSize = defaultGroupSize(arch, rows, (1 << 30) / threads);
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
    let lastSteps = 0;
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
      threads,
      signal: control.segment.signal,
      onProgress: (p) => {
        done = before * stepsPerBlock + p.blockSteps;
        const now = performance.now();
        const dt = (now - lastT) / 1000;
        const moved = p.blockSteps - lastSteps;
        lastT = now;
        lastSteps = p.blockSteps;
        if (dt > 0) rate = rate === 0 ? moved / dt : 0.8 * rate + 0.2 * (moved / dt);
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
