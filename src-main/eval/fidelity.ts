/**
 * Fidelity of synthetic images in the feature space of a classifier trained
 * on the REAL training split — an offline stand-in for FID, whose Inception
 * network cannot be downloaded here (and is a poor judge of 28×28 digits
 * anyway). As in FID (Heusel et al. 2017), the features are a global
 * average pool of the last convolution: the downstream CNN of Appendix B.4
 * (classifiers.ts), ReLU(conv 2) averaged over positions — 64 numbers.
 *
 * - `fld`: the Fréchet distance d² between Gaussians fitted to the features
 *   of the real test split and of the synthetic images (frechet.ts). Only
 *   comparable between runs that use the same extractor (same real training
 *   split, seed and budget); not comparable with published FIDs.
 * - Per-class improved precision/recall (Kynkäänniemi et al. 2019, k = 3;
 *   manifold.ts) between the real test images and the synthetic images of
 *   each class, on at most `maxPerClass` seeded-random images of each.
 *
 * The extractor is trained on private images and the figures are computed
 * against the private test split: private figures, never exported.
 */
import { UserError } from '../contract/errors';
import { SeededRng } from '../engine/rng';
import { CNN_FILTERS, type Classifier } from './classifiers';
import { frechetDistance, gaussianStats } from './frechet';
import {
  checkImages,
  classCount,
  requireSameGeometry,
  pickImages,
  type EvalImages,
  type ImageGeometry,
} from './images';
import { DEFAULT_K, precisionRecall } from './manifold';
import {
  accuracy,
  extractFeatures,
  trainClassifier,
  type TrainConfig,
  type TrainStep,
} from './train';

/** The figure's name for display: what it measures, and in which feature space. */
export const FLD_LABEL = 'Fréchet distance, real-data CNN features';

/** What the features are, in words (shown next to the number). */
export const FLD_DESCRIPTION =
  'Fréchet distance (d², as FID) in the feature space of a fixed network: the protocol’s CNN ' +
  '(3×3 convolutions, 32 then 64 filters, stride 2) trained on the data set’s real training split ' +
  '(one epoch and at least 500 Adam steps, seed 0), features the global average of its last ' +
  'convolution (64 numbers). Lower is better; read it beside the real-vs-real value.';

/** The feature network, in a few words (named in every report). */
export const FEATURE_NETWORK =
  'protocol CNN trained on the real training split (seed 0), 64 features';

/** Images per class used for precision/recall, unless given. */
export const DEFAULT_MAX_PER_CLASS = 1000;

/** A trained feature extractor; dispose it when done. */
export interface FeatureExtractor {
  /** Short name of the feature space. */
  name: 'cnn-real-train';
  /** The feature network in a few words ({@link FEATURE_NETWORK}). */
  network: string;
  description: string;
  geometry: ImageGeometry;
  classes: number;
  dims: number;
  /** Accuracy of the extractor's CNN on the images given to {@link trainFeatureExtractor} as `realTest`, in %. */
  realTestAccuracy?: number;
  /** Feature rows of `images` (row-major [count, dims]). */
  features(images: EvalImages): { values: Float64Array; count: number; dims: number };
  dispose(): void;
}

/**
 * The extractor's training budget: one epoch at a constant step, and at
 * least 500 steps however small the real training split (protocol v3).
 * Kept apart from the utility CNN's budget, so that the feature space does
 * not move when the classifiers' budgets are tuned.
 */
export const EXTRACTOR_CONFIG: Readonly<TrainConfig> = {
  epochs: 1,
  minSteps: 500,
  batchSize: 128,
  learningRate: 3e-3,
  schedule: 'constant',
};

/**
 * Trains the CNN of the utility protocol on the real training split and
 * returns its pooled last-convolution features as an extractor.
 */
export async function trainFeatureExtractor(options: {
  realTrain: EvalImages;
  /** When given, the extractor's accuracy on it is recorded (a sanity check). */
  realTest?: EvalImages;
  classes?: number;
  seed?: number;
  config?: Partial<TrainConfig>;
  signal?: AbortSignal;
  onStep?: (s: TrainStep) => void;
}): Promise<FeatureExtractor> {
  const geometry = checkImages(options.realTrain, 'the real training images');
  const classes = options.classes ?? classCount(options.realTrain);
  const model: Classifier = await trainClassifier({
    kind: 'cnn',
    train: options.realTrain,
    classes,
    seed: options.seed ?? 0,
    config: { ...EXTRACTOR_CONFIG, ...options.config },
    signal: options.signal,
    onStep: options.onStep,
  });
  const realTestAccuracy = options.realTest ? accuracy(model, options.realTest) : undefined;
  return {
    name: 'cnn-real-train',
    network: FEATURE_NETWORK,
    description: FLD_DESCRIPTION,
    geometry,
    classes,
    dims: CNN_FILTERS[1],
    realTestAccuracy,
    features: (images) => {
      requireSameGeometry(
        checkImages(images, 'the images'),
        'the images',
        geometry,
        'the feature extractor',
      );
      return extractFeatures(model, images);
    },
    dispose: () => model.dispose(),
  };
}

/** Precision and recall of one class's synthetic images against its real ones. */
export interface ClassFidelity {
  label: number;
  /** Images of this class used (after subsampling). */
  real: number;
  synthetic: number;
  /** null when a set has too few images of this class (≤ k) to build its manifold. */
  precision: number | null;
  recall: number | null;
}

/**
 * The same figures for real images against real images: a sample of the
 * real training split (as many images as the synthetic set, when there are
 * that many) against the real test split. The distance the synthetic set
 * would have if it were as good as real data, so that its own can be read
 * ("how far from real").
 */
export interface FidelityReference {
  fld: number;
  precision: number | null;
  recall: number | null;
  /** Real training images in the sample. */
  n_real_train: number;
}

export interface FidelityResult {
  /** Fréchet distance d² between real-test and synthetic features. */
  fld: number;
  /** Real-vs-real figures in the same feature space (absent when no real training split was given). */
  reference?: FidelityReference;
  feature: string;
  dims: number;
  /** Mean over the classes that have both numbers. */
  precision: number | null;
  recall: number | null;
  perClass: ClassFidelity[];
  k: number;
  n_real: number;
  n_synthetic: number;
}

/** Labelled feature rows. */
export interface LabelledFeatures {
  values: ArrayLike<number>;
  count: number;
  dims: number;
  labels: ArrayLike<number>;
}

function rowsOf(
  f: LabelledFeatures,
  label: number,
  max: number,
  rng: SeededRng,
): { values: Float64Array; count: number; dims: number } {
  const idx: number[] = [];
  for (let i = 0; i < f.count; i++) if (f.labels[i] === label) idx.push(i);
  rng.shuffle(idx);
  const keep = idx.slice(0, max).sort((a, b) => a - b);
  const values = new Float64Array(keep.length * f.dims);
  keep.forEach((r, i) => {
    for (let j = 0; j < f.dims; j++) values[i * f.dims + j] = f.values[r * f.dims + j] as number;
  });
  return { values, count: keep.length, dims: f.dims };
}

/** Stream tag of the subsampling draws. */
const SUBSAMPLE_STREAM = 0x73756273;

/** Fidelity figures from features already extracted (pure; module comment). */
export function fidelityFromFeatures(options: {
  real: LabelledFeatures;
  synthetic: LabelledFeatures;
  feature?: string;
  k?: number;
  maxPerClass?: number;
  seed?: number;
}): FidelityResult {
  const { real, synthetic } = options;
  const k = options.k ?? DEFAULT_K;
  const maxPerClass = options.maxPerClass ?? DEFAULT_MAX_PER_CLASS;
  if (real.count < 2 || synthetic.count < 2) {
    throw new UserError('INVALID_INPUT', 'Fidelity needs at least 2 real and 2 synthetic images.');
  }
  const fld = frechetDistance(
    gaussianStats(real.values, real.count, real.dims),
    gaussianStats(synthetic.values, synthetic.count, synthetic.dims),
  );
  const labels = new Set<number>();
  for (let i = 0; i < real.count; i++) labels.add(real.labels[i] as number);
  const perClass: ClassFidelity[] = [];
  for (const label of [...labels].sort((a, b) => a - b)) {
    const rng = SeededRng.fromSeed(options.seed ?? 0, SUBSAMPLE_STREAM, label);
    const r = rowsOf(real, label, maxPerClass, rng);
    const s = rowsOf(synthetic, label, maxPerClass, rng);
    let precision: number | null = null;
    let recall: number | null = null;
    if (r.count > k && s.count > k) ({ precision, recall } = precisionRecall(r, s, k));
    perClass.push({ label, real: r.count, synthetic: s.count, precision, recall });
  }
  const both = perClass.filter((c) => c.precision !== null && c.recall !== null);
  const avg = (f: (c: ClassFidelity) => number): number | null =>
    both.length === 0 ? null : both.reduce((a, c) => a + f(c), 0) / both.length;
  return {
    fld,
    feature: options.feature ?? 'features',
    dims: real.dims,
    precision: avg((c) => c.precision as number),
    recall: avg((c) => c.recall as number),
    perClass,
    k,
    n_real: real.count,
    n_synthetic: synthetic.count,
  };
}

/** Stream tag of the real-vs-real sample's draw. */
const REFERENCE_STREAM = 0x72656672;

/** A seeded sample of `count` images of `images` (all of them when there are no more). */
function sampleImages(images: EvalImages, count: number, seed: number): EvalImages {
  if (count >= images.count) return images;
  const idx = new Uint32Array(images.count);
  for (let i = 0; i < images.count; i++) idx[i] = i;
  SeededRng.fromSeed(seed, REFERENCE_STREAM).shuffle(idx);
  return pickImages(images, idx.slice(0, count).sort());
}

/**
 * Fidelity of `synthetic` against `realTest` in the extractor's feature
 * space and, when `realTrain` is given, the real-vs-real reference
 * ({@link FidelityReference}).
 */
export function evaluateFidelity(options: {
  extractor: FeatureExtractor;
  realTest: EvalImages;
  synthetic: EvalImages;
  realTrain?: EvalImages;
  k?: number;
  maxPerClass?: number;
  seed?: number;
}): FidelityResult {
  const { extractor, realTest, synthetic, realTrain } = options;
  const real = { ...extractor.features(realTest), labels: realTest.y };
  const against = (other: EvalImages): FidelityResult =>
    fidelityFromFeatures({
      real,
      synthetic: { ...extractor.features(other), labels: other.y },
      feature: extractor.description,
      k: options.k,
      maxPerClass: options.maxPerClass,
      seed: options.seed,
    });
  const result = against(synthetic);
  if (realTrain === undefined) return result;
  const sample = sampleImages(realTrain, synthetic.count, options.seed ?? 0);
  const ref = against(sample);
  return {
    ...result,
    reference: {
      fld: ref.fld,
      precision: ref.precision,
      recall: ref.recall,
      n_real_train: sample.count,
    },
  };
}
