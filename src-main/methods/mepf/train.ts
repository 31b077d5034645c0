/**
 * `mepf`'s training loop in the worker. Stage 1 (the private release): the
 * one step is paid for write-ahead (`spend` 1, wait for `spent`), then φ of
 * every training image is summed per class batch by batch (per-record
 * features never reach the disk), noised once (release.ts, node:crypto) and
 * written durably to `<runDir>/release/release.json` (releasable; the runner
 * registers it). Stage 2 (the generator): post-processing of the release
 * through the shared private stage (checkpoints, grids, pause / resume /
 * cancel, the released decoder), which asks for no spend.
 *
 * A run resumed after its release was written reads it back and pays nothing
 * more; one killed before that pays again for a fresh release (the ledger can
 * only over-count). A run trained from another run's release
 * (`fromRelease`) reads that run's file and never spends.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../contract/errors';
import { parseArchitecture, selectBackend } from '../../engine';
import { writeWholeFile } from '../../io/whole-file';
import { composedTotal, ownEpsilon } from '../../jobs/budget';
import {
  loadTrainSplit,
  memory,
  privateStage,
  readCheckpointFile,
  requireMatchingCheckpoint,
  stageProgress,
} from '../../jobs/private-stage';
import type { WorkerConfig } from '../../jobs/protocol';
import type { TrainingContext } from '../../jobs/training-context';
import type { Embedding } from './embedding';
import { GeneratorTrainer, matchTarget } from './generator';
import {
  deserializeGeneratorCheckpoint,
  serializeGeneratorCheckpoint,
} from './generator-checkpoint';
import { mepfNoise } from './plan';
import { newEmbedding, readRelease } from './release-file';
import type { MepfPlan } from './plan-schema';
import { classStatistic, releaseStatistic, releaseToJson, type MepfRelease } from './release';

/** Where a run keeps its own release (releasable: the output of the Gaussian mechanism). */
export function releasePath(runDir: string): string {
  return join(runDir, 'release', 'release.json');
}

/** Thrown out of the release's progress callback when the analyst cancels. */
class Cancelled extends Error {}

/** The private release (stage 1); null when cancelled before the noise was drawn. */
async function makeRelease(
  config: WorkerConfig,
  plan: MepfPlan,
  ctx: TrainingContext,
): Promise<{ release: MepfRelease; embedding: Embedding } | null> {
  const { send, acks, control } = ctx;
  const split = await loadTrainSplit(config.datasetDir);
  const data = { ...split, channels: split.channels ?? 1 };
  const classes = parseArchitecture(config.architecture).classes;
  send({ type: 'stage', stage: 'stage1', method: 'mepf' });
  // Write-ahead: the release is paid for before any noise exists.
  const granted = acks.waitSpent(1);
  send({ type: 'spend', fromStep: 1, toStep: 1 });
  if ((await granted) < 1) {
    throw new UserError(
      'BUDGET_EXCEEDED',
      'The data set’s privacy budget has no room left for this release; nothing was released.',
    );
  }
  const embedding = await newEmbedding(plan, {
    height: data.height,
    width: data.width,
    channels: data.channels,
  });
  const report = stageProgress(send, 'stage1');
  let stat;
  try {
    stat = await classStatistic(embedding, data, {
      classes,
      onProgress: (done, total) => {
        if (control.cancelled) throw new Cancelled();
        report(done, total);
      },
    });
  } catch (err) {
    embedding.dispose();
    if (err instanceof Cancelled) return null;
    throw err;
  }
  const release = releaseStatistic(stat, { sigma: plan.sigma, countWeight: plan.countWeight });
  stat.sums.fill(0);
  const path = releasePath(config.runDir);
  await mkdir(join(config.runDir, 'release'), { recursive: true });
  const bytes = new TextEncoder().encode(releaseToJson(release, embedding.description));
  await writeWholeFile(path, bytes, 'The release');
  send({ type: 'release', path, bytes: bytes.byteLength });
  return { release, embedding };
}

/** `mepf`: the release (unless there is one already), then the generator. */
export async function trainMepf(
  config: WorkerConfig,
  plan: MepfPlan,
  ctx: TrainingContext,
): Promise<void> {
  const { send } = ctx;
  const arch = parseArchitecture(config.architecture);
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory() });
  const noise = mepfNoise(plan);
  const own = releasePath(config.runDir);
  const source = config.sourceRelease ?? (existsSync(own) ? own : null);
  const made = source ? await readRelease(source, plan) : await makeRelease(config, plan, ctx);
  if (!made) {
    send({
      type: 'done',
      steps: 0,
      epsilon: 0,
      stoppedBy: 'cancelled',
      requestedAt: 0,
      decoder: null,
    });
    return;
  }
  if (source === own) send({ type: 'release', path: own, bytes: (await readFile(own)).byteLength });
  const paid = config.sourceRelease ? 0 : 1;
  send({
    type: 'epsilon',
    step: 0,
    epsilon: ownEpsilon(noise, 1, config.delta),
    total: composedTotal(config.budget.priorSpecs, noise, paid, config.budget.delta),
  });

  const { release, embedding } = made;
  const settings = {
    seed: plan.seed,
    steps: plan.generatorSteps,
    batchSize: plan.generatorBatch,
    learningRate: plan.lr,
  };
  const how = { schedule: plan.lrSchedule, estimator: plan.estimator };
  const target = matchTarget(release);
  let trainer: GeneratorTrainer;
  if (config.resume) {
    const cp = deserializeGeneratorCheckpoint(await readCheckpointFile(config.resume.path));
    requireMatchingCheckpoint(config.resume, cp.checkpoint.step, [
      [cp.settings.seed, settings.seed],
      [cp.settings.steps, settings.steps],
      [cp.settings.batchSize, settings.batchSize],
      [cp.settings.learningRate, settings.learningRate],
    ]);
    trainer = new GeneratorTrainer(embedding, target, { arch, ...settings, ...how }, cp.checkpoint);
  } else {
    trainer = new GeneratorTrainer(embedding, target, { arch, ...settings, ...how });
  }
  const checkpointsDir = join(config.runDir, 'checkpoints');
  await mkdir(checkpointsDir, { recursive: true });
  send({ type: 'stage', stage: 'stage2', method: 'mepf' });
  try {
    await privateStage(
      config,
      arch,
      {
        get step() {
          return trainer.step;
        },
        run: async ({ onStep, signal }) => {
          while (trainer.step < settings.steps) {
            if (signal.aborted) return { stoppedBy: 'aborted' };
            const loss = trainer.trainStep();
            // The matching loss stands in the loss curve's first term (no KL here).
            await onStep({ step: trainer.step, recon: loss, kl: 0 });
            await new Promise((r) => setImmediate(r));
          }
          return { stoppedBy: 'steps' };
        },
        checkpoint: async () => ({
          bytes: serializeGeneratorCheckpoint(trainer.checkpoint(), settings),
          commit: async () => {},
        }),
        decoderWeights: () => trainer.decoderWeights(),
        dispose: () => trainer.dispose(),
      },
      {
        rows: () => settings.batchSize,
        checkpointsDir,
        backendName: backend.name,
        noise,
        postProcessing: { steps: settings.steps, noisySteps: 1, paid },
      },
      ctx,
    );
  } finally {
    embedding.dispose();
  }
}
