/**
 * `randp`'s training loop in the worker (DP-RandP phase 2):
 *
 * 1. 'stage1' (no privacy cost): the prior (refused when its SHA-256 is not
 *    the plan's), the features of every training image (held in memory,
 *    never written), the public feature map (phase2.ts: per-record power and
 *    per-stage standardisation, whitening by the covariance of the prior's
 *    own procedural images) applied to them;
 * 2. 'stage2': DP-SGD on the linear classifier one step at a time
 *    (dp-linear.ts DpLinearStepper) through the shared private stage —
 *    every step paid for write-ahead before its sample and noise are drawn,
 *    ε events, checkpoints (the stepper's state), pause/resume/cancel;
 * 3. the release: the averaged classifier with the whitening folded in,
 *    written as a classifier folder (classifier.ts) the runner registers as
 *    releasable kind 'classifier'; then its accuracy on the data set's
 *    held-out test split, sent to the runner as a private figure (shown in
 *    the app only, never in the folder).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../contract/errors';
import { readDatasetFiles } from '../../data';
import { parseArchitecture, selectBackend } from '../../engine';
import { runPrivateSteps, type PrivateStepHooks } from '../../engine/private-steps';
import { ownEpsilon } from '../../jobs/budget';
import {
  memory,
  privateStage,
  readCheckpointFile,
  requireMatchingCheckpoint,
  stageProgress,
} from '../../jobs/private-stage';
import type { WorkerConfig } from '../../jobs/protocol';
import type { TrainingContext } from '../../jobs/training-context';
import { accountantVersion } from '../../privacy';
import { DPSGD_CERT_MECHANISM } from '../../privacy/certificate';
import { defaultReadout, type ImageBytes } from '../../priors/features';
import { extractFeaturesInParallel } from '../../priors/features-parallel';
import { disposeNet, type FeatureReadout } from '../../priors/network/feature-net';
import { loadPrior, priorsFolder, type LoadedPrior } from '../../priors/prior-file';
import { appVersion } from '../../services/version';
import {
  deserializeRandpCheckpoint,
  serializeRandpCheckpoint,
  type RandpCheckpointSettings,
} from './checkpoint';
import { predictImages, readClassifier, writeClassifier } from './classifier';
import { DpLinearStepper, type DpLinearState } from './dp-linear';
import { foldWhitening, phase2FeatureMap, type Phase2FeatureMap } from './phase2';
import { randpNoise } from './plan';
import type { RandpPlan } from './plan-schema';

/** The installed prior, refused in plain words when it is not the one the plan was made with. */
export function planPrior(plan: RandpPlan): LoadedPrior {
  const prior = loadPrior(plan.priorName);
  if (prior.manifest.weights.sha256 !== plan.priorSha256) {
    disposeNet(prior.net);
    throw new UserError(
      'INVALID_INPUT',
      `This run was planned with another random-process prior (SHA-256 ${plan.priorSha256.slice(0, 12)}…) than the one installed now (${prior.manifest.weights.sha256.slice(0, 12)}…). Start a new run.`,
    );
  }
  return prior;
}

/** The side of the square procedural images the public map is computed on, for this image shape. */
function publicSide(image: { height: number; width: number }): number {
  return image.height === image.width
    ? image.height
    : Math.round(Math.sqrt(image.height * image.width));
}

/** Thrown when the analyst cancels while the features are computed. */
class Cancelled extends Error {}

/**
 * The probe's inputs for `images`: the prior's features with the phase-2 map
 * applied where they are computed (feature workers), progress as 'stage1';
 * null when cancelled.
 */
async function features(
  prior: LoadedPrior,
  images: ImageBytes,
  readout: FeatureReadout,
  map: Phase2FeatureMap,
  ctx: TrainingContext,
): Promise<Float32Array | null> {
  const { send, control } = ctx;
  const stop = new AbortController();
  const report = stageProgress(send, 'stage1');
  try {
    const r = await extractFeaturesInParallel(images, {
      prior: prior.manifest.name,
      folder: priorsFolder(),
      net: prior.net,
      readout,
      map,
      signal: stop.signal,
      onProgress: (done, total) => {
        if (control.cancelled) {
          stop.abort();
          return;
        }
        report(done, total);
      },
    });
    if (control.cancelled) throw new Cancelled();
    return r.features;
  } catch (err) {
    if (err instanceof Cancelled || (err instanceof UserError && err.code === 'CANCELLED')) {
      return null;
    }
    throw err;
  }
}

/**
 * Drives the stepper through the private loop: before each step the abort
 * signal, T and the target ε are checked and the step is paid for
 * (`hooks.beforeNoisyUpdate`, write-ahead); only then are its sample and
 * noise drawn (`takeStep`). No loss is reported: a linear probe's loss on
 * the sample would be a private figure of no use here.
 */
export function runStepper(
  stepper: DpLinearStepper,
  limits: { steps: number; target: number | null },
  hooks: PrivateStepHooks<{ recon: number; kl: number }>,
  onBatch: (size: number) => void = () => {},
) {
  return runPrivateSteps({
    taken: stepper.step,
    steps: limits.steps,
    target: limits.target,
    hooks,
    takeStep: () => {
      onBatch(stepper.takeStep().batchSize);
      return { recon: 0, kl: 0 };
    },
  });
}

/** `randp`: features (no privacy cost), then the private classifier, then its release. */
export async function trainRandp(
  config: WorkerConfig,
  plan: RandpPlan,
  ctx: TrainingContext,
): Promise<void> {
  const { send } = ctx;
  const arch = parseArchitecture(config.architecture);
  const backend = await selectBackend(config.preferBackend ? { prefer: config.preferBackend } : {});
  send({ type: 'backend', name: backend.name, tried: backend.tried, memory: memory() });
  const files = await readDatasetFiles(config.datasetDir);
  const { train, test, header } = files;
  if (!(train.y instanceof Uint8Array)) {
    throw new UserError(
      'UNSUPPORTED',
      'This data set has more than 256 classes; a private classifier supports at most 256.',
    );
  }
  const classes = arch.classes;
  const image = { height: train.height, width: train.width, channels: train.channels ?? 1 };
  if (image.channels !== 1 && image.channels !== 3) {
    throw new UserError(
      'UNSUPPORTED',
      `A private classifier takes grey or colour images; this data set's have ${image.channels} channels.`,
    );
  }
  const prior = planPrior(plan);
  const cancelledEarly = (): void =>
    send({
      type: 'done',
      steps: 0,
      epsilon: 0,
      stoppedBy: 'cancelled',
      requestedAt: 0,
      decoder: null,
    });
  try {
    send({ type: 'stage', stage: 'stage1', method: 'randp' });
    const readout = defaultReadout(prior.net);
    // Public: made from the prior's procedural images only, at the data set's image size.
    const map = await phase2FeatureMap(prior.net, readout, {
      power: plan.power,
      shrink: plan.shrink,
      perFamily: plan.publicPerFamily,
      size: publicSide(image),
      channels: image.channels,
    });
    const x = await features(prior, { ...train, ...image, x: train.x }, readout, map, ctx);
    if (!x) return cancelledEarly();
    const dims = map.whitening.dims;
    const data = { features: x, labels: train.y, count: train.count, dims };

    const options = {
      classes,
      sigma: plan.sigma,
      sampleRate: plan.sampleRate,
      steps: plan.steps,
      clip: plan.clip,
      lr: plan.lr,
      momentum: plan.momentum,
      emaDecay: plan.emaDecay,
      optimizer: 'sgd' as const,
      lrSchedule: 'cosine' as const,
    };
    const settings: RandpCheckpointSettings = {
      sigma: plan.sigma,
      sampleRate: plan.sampleRate,
      clip: plan.clip,
      steps: plan.steps,
      lr: plan.lr,
      momentum: plan.momentum,
      emaDecay: plan.emaDecay,
      dims,
      classes,
    };
    let state: DpLinearState | undefined;
    if (config.resume) {
      const cp = deserializeRandpCheckpoint(await readCheckpointFile(config.resume.path));
      requireMatchingCheckpoint(
        config.resume,
        cp.state.t,
        (Object.keys(settings) as (keyof RandpCheckpointSettings)[]).map(
          (k) => [cp.settings[k], settings[k]] as const,
        ),
      );
      state = cp.state;
    }
    const stepper = new DpLinearStepper(data, options, state);
    const noise = randpNoise(plan);
    const checkpointsDir = join(config.runDir, 'checkpoints');
    await mkdir(checkpointsDir, { recursive: true });
    send({ type: 'stage', stage: 'stage2', method: 'randp' });
    let lastBatch = 0;
    await privateStage(
      config,
      arch,
      {
        get step() {
          return stepper.step;
        },
        run: async (hooks) => {
          const r = await runStepper(
            stepper,
            { steps: plan.steps, target: config.targetEpsilon },
            hooks,
            (b) => {
              lastBatch = b;
            },
          );
          return { stoppedBy: r.stoppedBy };
        },
        checkpoint: async (meta) => ({
          bytes: serializeRandpCheckpoint(stepper.state(), settings, meta),
          commit: async () => {},
        }),
        release: async (runDir) => {
          const dir = join(runDir, 'classifier');
          const model = foldWhitening(stepper.released(), map.whitening);
          const accountant = plan.accountant ?? 'rdp';
          const weightsBytes = await writeClassifier(dir, {
            model,
            net: prior.net,
            classes: header.classes,
            image,
            prior: {
              name: plan.priorName,
              weights_sha256: plan.priorSha256,
              statement: plan.priorStatement,
            },
            readout,
            perRecord: map.perRecord,
            whitening: map.whitening.source,
            privacy: {
              epsilon: stepper.step > 0 ? ownEpsilon(noise, stepper.step, config.delta) : 0,
              delta: config.delta,
              sigma: plan.sigma,
              sampleRate: plan.sampleRate,
              steps: stepper.step,
              clip: plan.clip,
              accountant: accountantVersion(accountant),
              mechanism: DPSGD_CERT_MECHANISM,
              adjacency: 'add-remove',
            },
            software: `DP² Studio ${appVersion()}`,
          });
          await sendTestAccuracy(dir, test, image, stepper.step, ctx);
          return { kind: 'classifier', dir, weightsBytes };
        },
        dispose: () => {},
      },
      {
        rows: () => lastBatch,
        checkpointsDir,
        backendName: backend.name,
        noise,
      },
      ctx,
    );
  } finally {
    disposeNet(prior.net);
  }
}

/**
 * The released classifier's accuracy on the held-out test split, through the
 * same path `dp2 predict` takes (the folder read back and verified). Private
 * (no noise): sent to the runner for the app only.
 */
async function sendTestAccuracy(
  dir: string,
  test: { x: Uint8Array; y: ArrayLike<number>; count: number },
  image: { height: number; width: number; channels: number },
  step: number,
  ctx: TrainingContext,
): Promise<void> {
  if (test.count === 0) return;
  const loaded = await readClassifier(dir);
  let pred: Uint8Array;
  try {
    ({ pred } = await predictImages(loaded, { ...image, x: test.x, count: test.count }));
  } finally {
    loaded.model.dispose();
  }
  let right = 0;
  for (let i = 0; i < test.count; i++) if (pred[i] === test.y[i]) right++;
  ctx.send({
    type: 'test-accuracy',
    step,
    accuracy: (100 * right) / test.count,
    images: test.count,
  });
}
