/**
 * A `mepf` run's plan: a preset, the user's overrides and a target (ε, δ)
 * become the full settings. The release is one Gaussian mechanism, so σ is
 * calibrated for one step (release.ts calibrateReleaseSigma); the generator's
 * steps cost nothing and are the preset's.
 */
import { randomInt } from 'node:crypto';
import { UserError } from '../../contract/errors';
import type { RunNoise } from '../../jobs/budget';
import { readPriorManifest } from '../../priors/prior-file';
import {
  checkOverrides,
  checkPresetName,
  checkTarget,
  refuseForeignSettings,
  type ResolvePlanInput,
  type ResolvedRunPlan,
} from '../plan-input';
import { MEPF_PRESETS } from './presets';
import type { MepfPlan } from './plan-schema';
import {
  featureLayers,
  layerChannels,
  DEFAULT_FEATURE_NET,
} from '../../priors/network/architecture';
import {
  calibrateReleaseSigma,
  expectedNoiseToSignal,
  releaseEpsilon,
  releaseMechanism,
} from './release';
import { epsilonOf, type MechanismSpec } from '../../privacy';
import { calibrateComposedSigma, composedEpsilon } from '../../privacy/compose-specs';
import type { ReleasedClassifier } from '../plan-fields';
import { mepfSettings } from './settings';

/**
 * The weight w of the class counts in the released vector. The error of the
 * released means is flat around its optimum w = D^(−1/4) (docs/methods.md:
 * 6.2 % at w = 0.1 and at 0.109 for the prior's 7 168 numbers, 0.1 for 10 000
 * random Fourier features), so one fixed w serves every feature source and
 * the sensitivity Δ = √(1 + w²) is known before any image is read.
 */
export const MEPF_COUNT_WEIGHT = 0.1;

/**
 * The noise of a `mepf` plan as the ledger records it: the release is one
 * Gaussian mechanism on a vector of sensitivity Δ with noise σΔ, which is
 * DP-SGD's mechanism at sampling rate 1 for one step (clip Δ). A plan that
 * trains from another run's release spends nothing (its `steps` is 0).
 */
export function mepfNoise(plan: MepfPlan): RunNoise {
  return {
    mechanism: 'dpsgd',
    sampleRate: 1,
    sigma: plan.sigma,
    accountant: plan.accountant ?? 'rdp',
  };
}

/**
 * The full settings of a `mepf` run: σ, when not given, the smallest noise
 * whose one release stays within the target ε (the plan's accountant); the
 * prior's identity recorded for `prior` features (refused in plain words when
 * the prior is missing or damaged). With a `labeller` (a released private
 * classifier the caller looked up), the target covers the labelled images:
 * σ is the smallest whose release, composed with the classifier, stays
 * within it (privacy/compose-specs.ts calibrateComposedSigma).
 * @throws UserError INVALID_INPUT for a setting of another method, a bad value,
 *   or a given σ whose release would pass the target; UNREACHABLE_TARGET
 *   when the classifier alone has spent the target.
 */
export function resolveMepfPlan(input: ResolvePlanInput): ResolvedRunPlan<MepfPlan> {
  const preset = MEPF_PRESETS[checkPresetName(input.preset)];
  const o = checkOverrides(input.overrides);
  refuseForeignSettings(o, mepfSettings, {
    name: 'mepf',
    why: 'they release once (no private steps, batches or clipping) and then train a generator without further privacy cost.',
  });
  const { target, delta } = checkTarget(input);
  const accountant = o.accountant ?? 'rdp';
  const labeller = planLabeller(o.labeller, input.labeller);
  // A run from an earlier release takes its σ (descriptor fromSource): only a new release is calibrated.
  const composes = o.fromRelease === undefined ? labeller : null;
  const sigma =
    o.sigma ??
    (composes
      ? // The target covers the labelled images: the release gets what the classifier left.
        calibrateComposedSigma({
          spent: [labellerSpec(composes)],
          spec: { mechanism: 'gaussian', steps: 1 },
          epsilon: target,
          delta,
        }).sigma
      : calibrateReleaseSigma({ epsilon: target, delta, accountant }).sigma);
  const features = o.features ?? preset.features;
  const manifest = features === 'prior' ? readPriorManifest() : null;
  const plan: MepfPlan = {
    method: 'mepf',
    accountant,
    features,
    ...(manifest
      ? {
          priorName: manifest.name,
          priorSha256: manifest.weights.sha256,
          priorStatement: manifest.statement,
        }
      : {}),
    sigma,
    countWeight: o.countWeight ?? MEPF_COUNT_WEIGHT,
    steps: o.fromRelease === undefined ? 1 : 0,
    ...(o.fromRelease === undefined ? {} : { fromRelease: o.fromRelease }),
    ...(labeller ? { labeller } : {}),
    generatorSteps: o.generatorSteps ?? preset.generatorSteps,
    generatorBatch: o.generatorBatch ?? preset.generatorBatch,
    ...GENERATOR_BY_FEATURES[features],
    ...(o.lr === undefined ? {} : { lr: o.lr }),
    seed: o.seed ?? randomInt(2 ** 31 - 1),
  };
  const epsilon = releaseEpsilon({ sigma, delta, accountant }).epsilon;
  const images = labeller ? labelledEpsilon(plan, delta) : epsilon;
  if (images > target && o.fromRelease === undefined) {
    // One release cannot stop half-way as a run of many steps can.
    throw new UserError(
      'INVALID_INPUT',
      `With σ = ${sigma} the one release would ${labeller ? `bring the labelled images to ε = ${images.toPrecision(3)} (with the classifier of run ${labeller.run})` : `spend ε = ${epsilon.toPrecision(3)}`}, above the target ε = ${target}. Give a larger σ, or leave σ empty to have it set by the target.`,
    );
  }
  const notes = composes
    ? [
        `The images are labelled by the private classifier of run ${composes.run} (ε = ${fmt(labellerEpsilon(composes, delta))} on its own, already spent). Together with this run’s release (ε = ${fmt(epsilon)}) the labelled images are ε = ${fmt(images)}: the release’s noise was set so that the two stay within the target.`,
      ]
    : [];
  return { plan, epsilon, notes };
}

const fmt = (x: number): string => Number(x.toPrecision(3)).toString();

/**
 * The labeller a plan records: the classifier the caller looked up for the
 * `labeller` setting (jobs/linked-runs.ts), which must be the run it names.
 */
function planLabeller(
  run: number | undefined,
  found: ReleasedClassifier | undefined,
): ReleasedClassifier | null {
  if (run === undefined) return null;
  if (found?.run !== run) {
    throw new UserError(
      'INTERNAL',
      `The classifier of run ${run} was not looked up before the plan was made.`,
    );
  }
  return found;
}

/** The classifier's mechanism as its certificate states it (Poisson-subsampled Gaussian). */
export function labellerSpec(labeller: ReleasedClassifier): MechanismSpec {
  const { sampleRate, sigma, steps } = labeller;
  return { mechanism: 'dpsgd', sampleRate, sigma, steps };
}

/** ε of the classifier alone, by its own accountant (what its certificate states). */
export function labellerEpsilon(labeller: ReleasedClassifier, delta: number): number {
  return epsilonOf({
    spec: labellerSpec(labeller),
    delta,
    accountant: labeller.accountant ?? 'rdp',
  }).epsilon;
}

/**
 * ε of the images of a labelled plan: its release (one Gaussian) composed
 * with its classifier's mechanism in RDP (privacy/compose-specs.ts
 * composedEpsilon; Mironov 2017, Proposition 1). The images are
 * post-processing of both (Dwork and Roth 2014, Proposition 2.1).
 */
export function labelledEpsilon(plan: MepfPlan, delta: number): number {
  const specs = [releaseMechanism(plan.sigma)];
  if (plan.labeller) specs.push(labellerSpec(plan.labeller));
  return composedEpsilon({ specs, delta }).epsilon;
}

/** Random Fourier frequencies of each length scale of the `rff` source (embedding.ts's default). */
const RFF_FREQUENCIES = 5000;

/**
 * Length scales of the `rff` source relative to √(pixels): two Gaussian
 * kernels together (9.8 and 5.6 at 28×28). Measured on MNIST at ε = 1
 * (docs/methods.md): the default scale alone lets a mix of neighbouring
 * classes match a class's mean (CNN 58–64 %), the narrow one alone gives no
 * gradient far from the data (the generator collapses), both together 68 %.
 */
export const RFF_SCALES = [0.35, 0.2] as const;

/**
 * The generator's optimiser per feature source (measured, docs/methods.md):
 * random Fourier features train well with a larger cosine-decayed step and
 * the unbiased estimator (more varied images); the network features diverged
 * at 5e-3 and keep the first measured settings.
 */
const GENERATOR_BY_FEATURES = {
  rff: { lr: 5e-3, lrSchedule: 'cosine', estimator: 'unbiased' },
  prior: { lr: 1e-3, lrSchedule: 'constant', estimator: 'moving-average' },
  'random-net': { lr: 1e-3, lrSchedule: 'constant', estimator: 'moving-average' },
} as const satisfies Record<
  MepfPlan['features'],
  Pick<MepfPlan, 'lr' | 'lrSchedule' | 'estimator'>
>;
/** Cells of the pooling grid of the network sources (embedding.ts's default 4×4). */
const GRID_CELLS = 16;

/**
 * The length D of φ for a feature source at embedding.ts's defaults (first
 * and second moments of every stage over a 4×4 grid; 5 000 random
 * frequencies), known before any image is read; a test checks it against
 * the maps themselves.
 */
export function featureDims(features: MepfPlan['features']): number {
  if (features === 'rff') return 2 * RFF_FREQUENCIES * RFF_SCALES.length;
  const spec = DEFAULT_FEATURE_NET;
  return 2 * GRID_CELLS * featureLayers(spec).reduce((n, l) => n + layerChannels(spec, l), 0);
}

/** Noise-to-signal ratio from which a class's released mean is mostly noise: the run needs a confirmation. */
export const CONFIRM_NOISE_RATIO = 1;
/** Classes listed one by one in the notes; more are summed up by the least and most noisy. */
const LISTED_CLASSES = 4;

/** Up to four class names, or how many classes. */
function classList(ks: readonly number[], name: (k: number) => string): string {
  return ks.length <= LISTED_CLASSES ? ks.map(name).join(', ') : `${ks.length} classes`;
}

/** Ratio from which a class gets a warning in the plan's notes. */
const WARN_NOISE_RATIO = 0.5;

const percent = (r: number): string =>
  `${r < 0.095 ? (100 * r).toFixed(1) : Math.round(100 * r)} %`;

/**
 * What the release's noise does to each class: the expected error of its
 * noisy mean features relative to the mean itself
 * (release.ts expectedNoiseToSignal, D from {@link featureDims}), in words;
 * a class whose noise would pass its signal must be confirmed before the run
 * starts. The counts are private: these lines stay inside the app.
 */
export function mepfClassNotes(
  plan: MepfPlan,
  data: { classes: readonly string[]; counts: readonly number[] },
): { notes: string[]; confirm: string | null } {
  const dims = featureDims(plan.features);
  const ratios = data.counts.map((count) =>
    expectedNoiseToSignal({ sigma: plan.sigma, countWeight: plan.countWeight, dims, count }),
  );
  const name = (k: number): string => `“${data.classes[k] ?? k}”`;
  const one = (k: number): string =>
    `class ${name(k)} (${data.counts[k]} images): noise about ${percent(ratios[k] as number)} of the signal`;
  const order = ratios
    .map((_, k) => k)
    .sort((a, b) => (ratios[a] as number) - (ratios[b] as number));
  const least = order[0] ?? 0;
  const most = order[order.length - 1] ?? 0;
  const notes = [
    `What the noise does to each class (the error of its released mean features, relative to the mean): ${
      ratios.length <= LISTED_CLASSES
        ? ratios.map((_, k) => one(k)).join('; ')
        : `from ${one(least)} to ${one(most)}`
    }.`,
  ];
  const weak = ratios.flatMap((r, k) =>
    r >= WARN_NOISE_RATIO && r < CONFIRM_NOISE_RATIO ? [k] : [],
  );
  if (weak.length > 0) {
    notes.push(
      `${classList(weak, name)}: the noise is a large part of the signal; expect blurred, less typical images of ${weak.length === 1 ? 'this class' : 'these classes'}.`,
    );
  }
  const tooSmall = ratios.flatMap((r, k) => (r >= CONFIRM_NOISE_RATIO ? [k] : []));
  const worst = tooSmall.reduce(
    (a, k) => ((ratios[k] as number) > (ratios[a] as number) ? k : a),
    tooSmall[0] ?? 0,
  );
  const confirm =
    // Training from a release made before changes nothing about its noise: nothing to confirm.
    tooSmall.length === 0 || plan.fromRelease !== undefined
      ? null
      : `${
          tooSmall.length === 1
            ? `Class ${name(worst)} has ${data.counts[worst]} training images`
            : `${tooSmall.length} of the ${ratios.length} classes have too few training images (fewest: ${name(worst)}, ${data.counts[worst]})`
        }: at this ε the noise of the release would be larger than the signal (about ${percent(ratios[worst] as number)}${tooSmall.length === 1 ? '' : ' at worst'}), so the generator would learn little of ${tooSmall.length === 1 ? 'that class' : 'those classes'}. Choose a larger ε or add images, or confirm that you want to start anyway.`;
  return { notes, confirm };
}
