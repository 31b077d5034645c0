/**
 * Term-wise DP-SGD's training loop in the worker, on every core where a step
 * holds enough work (engine/sharded-sum.ts): one private stage
 * (reported as 'stage2', `method: 'termwise'`) through the shared private
 * stage — write-ahead spends under the 'dpsgd' mechanism at the pair's σ,
 * checkpoints, grids, pause/resume/cancel — then the released decoder.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArchitecture, selectBackend } from '../../engine';
import { activationBytesPerRecord } from '../../engine/memory';
import {
  deserializeTermwiseCheckpoint,
  serializeTermwiseCheckpoint,
  TermwiseTrainer,
} from '../../engine/termwise';
import { trainThreadCount, usefulThreads } from '../../engine/train-threads';
import {
  loadTrainSplit,
  memory,
  privateStage,
  readCheckpointFile,
  requireMatchingCheckpoint,
} from '../../jobs/private-stage';
import type { WorkerConfig } from '../../jobs/protocol';
import type { TrainingContext } from '../../jobs/training-context';
import type { TermwisePlan } from './plan-schema';
import { termwiseNoise } from './plan';

/** Term-wise DP-SGD: encoder and decoder together; only the decoder is released. */
export async function trainTermwise(
  config: WorkerConfig,
  plan: TermwisePlan,
  ctx: TrainingContext,
): Promise<void> {
  const { send } = ctx;
  const arch = parseArchitecture(config.architecture);
  const data = await loadTrainSplit(config.datasetDir);
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  // Every core where a step holds enough work to share, as DP-SGD (engine/sharded-sum.ts).
  const threads = usefulThreads({
    wanted: trainThreadCount({ backend: backend.name }),
    records: plan.sampleRate * data.count,
    bytesPerRecord: activationBytesPerRecord(arch, { withEncoder: true, perExample: true }),
  });
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory(), threads });
  const checkpointsDir = join(config.runDir, 'checkpoints');
  await mkdir(checkpointsDir, { recursive: true });
  send({ type: 'stage', stage: 'stage2', method: 'termwise' });
  let trainer: TermwiseTrainer;
  if (config.resume) {
    const cp = deserializeTermwiseCheckpoint(await readCheckpointFile(config.resume.path));
    const o = cp.options;
    requireMatchingCheckpoint(config.resume, cp.step, [
      [o.sigma, plan.sigma],
      [o.sampleRate, plan.sampleRate],
      [o.clip, plan.clip],
      [o.steps, plan.steps],
      [o.divergenceClip, plan.divergenceClip],
      [o.mode === 'naive' ? 1 : 0, plan.mode === 'naive' ? 1 : 0],
    ]);
    trainer = TermwiseTrainer.resume({
      data,
      checkpoint: cp,
      recordNoise: ctx.recordNoise,
      threads,
    });
  } else {
    trainer = TermwiseTrainer.start({
      arch,
      data,
      options: {
        sampleRate: plan.sampleRate,
        sigma: plan.sigma,
        clip: plan.clip,
        divergence: plan.divergence,
        divergenceWeight: plan.divergenceWeight,
        divergenceClip: plan.divergenceClip,
        mode: plan.mode,
        batchCap: plan.batchCap,
        lr: plan.lr,
        steps: plan.steps,
        targetEpsilon: config.targetEpsilon,
        seed: plan.seed,
        optimizer: plan.optimizer,
        lrSchedule: plan.lrSchedule ?? 'constant',
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
        bytes: serializeTermwiseCheckpoint(trainer.checkpoint(meta)),
        commit: async () => {},
      }),
      decoderWeights: () => trainer.decoderWeights(),
      dispose: () => trainer.dispose(),
    },
    {
      rows: () => trainer.lastBatchSize,
      checkpointsDir,
      backendName: backend.name,
      noise: termwiseNoise(plan),
    },
    ctx,
  );
}
