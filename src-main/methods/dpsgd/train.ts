/**
 * DP-SGD's training loop in the worker: one private stage (reported as
 * 'stage2', with `method: 'dpsgd'` on the `stage` event) training encoder
 * and decoder together (engine/dpsgd.ts) through the shared private stage —
 * write-ahead spends under the 'dpsgd' mechanism, checkpoints (parameters,
 * Adam state, the seeded generator; the Poisson sampler draws from the
 * CSPRNG and has no state), grids, pause/resume/cancel — then the released
 * decoder. The VAE's per-record noise comes from `ctx.recordNoise`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  deserializeDpsgdCheckpoint,
  DpsgdTrainer,
  parseArchitecture,
  selectBackend,
  serializeDpsgdCheckpoint,
  trainThreadCount,
  usefulThreads,
} from '../../engine';
import { activationBytesPerRecord } from '../../engine/memory';
import {
  loadTrainSplit,
  memory,
  privateStage,
  readCheckpointFile,
  requireMatchingCheckpoint,
} from '../../jobs/private-stage';
import type { DpsgdPlan, WorkerConfig } from '../../jobs/protocol';
import type { TrainingContext } from '../../jobs/training-context';
import type { MethodId } from '../catalog';
import { poissonNoise } from '../poisson-plan';
import type { EncoderKind } from '../../engine/dpsgd';
import type { RefineOptions } from '../../engine/posterior';

/**
 * DP-SGD: one private stage (reported as 'stage2') training encoder and
 * decoder together; only the decoder is released.
 */
export async function trainDpsgd(
  config: WorkerConfig,
  plan: DpsgdPlan,
  ctx: TrainingContext,
): Promise<void> {
  await trainPoisson(config, plan, ctx, { method: 'dpsgd', encoders: 'network', refine: null });
}

/**
 * The training loop of the Poisson-sampled methods (DP-SGD, DP²-VAE with
 * per-record encoders): the same engine (engine/dpsgd.ts), with an encoder
 * network or per-record posteriors.
 */
export async function trainPoisson(
  config: WorkerConfig,
  plan: Omit<DpsgdPlan, 'method' | 'batchSize'>,
  ctx: TrainingContext,
  how: { method: MethodId; encoders: EncoderKind; refine: RefineOptions | null },
): Promise<void> {
  const { send } = ctx;
  const arch = parseArchitecture(config.architecture);
  const data = await loadTrainSplit(config.datasetDir);
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  // Every core on the portable backends (engine/dpsgd-threads.ts), where a step holds
  // enough work to share; the mechanism is the same.
  const threads = usefulThreads({
    wanted: trainThreadCount({ backend: backend.name }),
    records: plan.sampleRate * data.count * (how.refine?.samples ?? 1),
    bytesPerRecord: activationBytesPerRecord(arch, {
      withEncoder: how.encoders === 'network',
      perExample: true,
    }),
  });
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory(), threads });
  const checkpointsDir = join(config.runDir, 'checkpoints');
  await mkdir(checkpointsDir, { recursive: true });
  send({ type: 'stage', stage: 'stage2', method: how.method });
  let trainer: DpsgdTrainer;
  if (config.resume) {
    const cp = deserializeDpsgdCheckpoint(await readCheckpointFile(config.resume.path));
    const o = cp.options;
    requireMatchingCheckpoint(config.resume, cp.step, [
      [o.sigma, plan.sigma],
      [o.sampleRate, plan.sampleRate],
      [o.clip, plan.clip],
      [o.steps, plan.steps],
      [o.encoders === 'per-record' ? 1 : 0, how.encoders === 'per-record' ? 1 : 0],
    ]);
    trainer = DpsgdTrainer.resume({ data, checkpoint: cp, recordNoise: ctx.recordNoise, threads });
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
        encoders: how.encoders,
        refine: how.refine,
      },
      recordNoise: ctx.recordNoise,
      threads,
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
    {
      rows: () => trainer.lastBatchSize,
      checkpointsDir,
      backendName: backend.name,
      noise: poissonNoise(plan),
    },
    ctx,
  );
}
