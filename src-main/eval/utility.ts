/**
 * Downstream utility of synthetic data — the protocol of DP²-VAE's Table 1
 * (Jiang et al., arXiv 2208.03409, Appendix B.4): train a classifier on the
 * synthetic images and their labels only, then measure its accuracy on the
 * data set's held-out REAL test split; repeat over seeds and report
 * mean ± standard deviation, for logistic regression, an MLP and a small CNN
 * (classifiers.ts). Beside every accuracy: the majority-class rate of the
 * test split (what always answering its commonest class scores) and the
 * balanced accuracy (mean recall over the classes), which is what to read
 * when the classes are imbalanced.
 *
 * Training budget (DEFAULT_TRAIN_CONFIGS, protocol version 3): Adam, batch
 * 128, a cosine-decayed step size, and a number of steps that does not
 * shrink with the set (`minSteps`): a set of 1 000 images is passed over
 * many times, one of 60 000 a few times. 10 % of the synthetic images (at
 * most 1 000) are held out to stop early and keep the best weights — never
 * the real test split, which is only looked at once, at the end. Figures
 * measured with this budget are in docs/evaluation.md (bench/eval-table.ts).
 *
 * Until version 2 the budget was a number of epochs (the CNN two), so a
 * small set got few steps: 20 000 real MNIST images scored CNN 94.9 %.
 *
 * The accuracies are measured on private (real) test images, so they are
 * private figures: shown in the app, never written into an export or a
 * certificate (DESIGN.md, "The privacy boundary").
 */
import { UserError } from '../contract/errors';
import { CLASSIFIER_KINDS, type ClassifierKind } from './classifiers';
import { checkImages, classCount, requireSameGeometry, type EvalImages } from './images';
import { balancedAccuracy, isImbalanced, majorityRate } from './class-balance';
import {
  cancelled,
  fitClassifier,
  holdOutSplit,
  plannedSteps,
  predictLabels,
  type TrainConfig,
} from './train';

/** The seeds of the protocol: three runs (mean ± std). */
export const DEFAULT_SEEDS: readonly number[] = [0, 1, 2];

/** Early stopping of every classifier: on 10 % of the synthetic images, at most 1 000. */
const EARLY_STOPPING = {
  schedule: 'cosine',
  validationShare: 0.1,
  maxValidation: 1000,
  checks: 10,
  patience: 3,
} as const;

/**
 * Per-classifier training budget (module comment). Steps: at least
 * `minSteps`, and at least `epochs` passes over large sets. Chosen on real
 * MNIST (docs/evaluation.md).
 */
export const DEFAULT_TRAIN_CONFIGS: Readonly<Record<ClassifierKind, TrainConfig>> = {
  lr: { ...EARLY_STOPPING, epochs: 3, minSteps: 1500, batchSize: 128, learningRate: 3e-3 },
  mlp: { ...EARLY_STOPPING, epochs: 4, minSteps: 5000, batchSize: 128, learningRate: 3e-3 },
  cnn: { ...EARLY_STOPPING, epochs: 4, minSteps: 1600, batchSize: 128, learningRate: 3e-3 },
};

/** Mean and sample standard deviation over the seeds of one figure, in %. */
export interface SeedFigure {
  mean: number;
  /** Sample standard deviation over the seeds (0 for one seed). */
  std: number;
  /** One value per seed, in the order of `seeds`. */
  runs: number[];
}

/** Accuracy of one classifier over the seeds, in %. */
export interface ClassifierScore extends SeedFigure {
  /** Balanced accuracy (mean recall over the test split's classes), in %. */
  balanced: SeedFigure;
  /** Adam steps taken per seed (early stopping may end a run before its budget). */
  steps: number[];
  /** Wall time of training and testing all seeds, in seconds. */
  seconds: number;
  config: TrainConfig;
}

export interface UtilityResult {
  lr?: ClassifierScore;
  mlp?: ClassifierScore;
  cnn?: ClassifierScore;
  n_synthetic: number;
  n_test: number;
  seeds: number[];
  /** The real test split's commonest class and its share in % (the accuracy of always answering it). */
  majority: { label: number; rate: number };
  /** Whether the test split's classes are imbalanced (class-balance.ts): read the balanced accuracy. */
  imbalanced: boolean;
}

/** Where an evaluation stands. */
export interface UtilityProgress {
  classifier: ClassifierKind;
  seed: number;
  /** Training steps done and to do for this classifier and seed. */
  step: number;
  steps: number;
  /** Share of the whole evaluation done, in [0, 1] (by training steps). */
  fraction: number;
}

export interface UtilityOptions {
  /** Synthetic images with their labels (the training set of every classifier). */
  train: EvalImages;
  /** The real held-out test split (same image size and channels). */
  test: EvalImages;
  seeds?: readonly number[];
  classifiers?: readonly ClassifierKind[];
  /** Overrides of the training budget per classifier. */
  configs?: Partial<Record<ClassifierKind, Partial<TrainConfig>>>;
  /** Number of classes; default one more than the largest label of either set. */
  classes?: number;
  signal?: AbortSignal;
  onProgress?: (p: UtilityProgress) => void;
}

function checkSeeds(seeds: readonly number[]): number[] {
  if (seeds.length === 0)
    throw new UserError('INVALID_INPUT', 'Give at least one seed for the evaluation.');
  for (const s of seeds) {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new UserError(
        'INVALID_INPUT',
        `The seed ${s} is not allowed; seeds are whole numbers 0, 1, 2, …`,
      );
    }
  }
  return [...seeds];
}

/** Mean and sample standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: 0 };
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/** The training budget of `kind` with the caller's overrides. */
export function resolveConfig(
  kind: ClassifierKind,
  overrides?: Partial<Record<ClassifierKind, Partial<TrainConfig>>>,
): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIGS[kind], ...overrides?.[kind] };
}

/** What {@link planUtility} checked and settled: the runs to make. */
export interface UtilityPlan {
  seeds: number[];
  kinds: ClassifierKind[];
  classes: number;
  configs: Map<ClassifierKind, TrainConfig>;
  /** Planned training steps of one classifier and seed. */
  stepsOf(kind: ClassifierKind, seed: number): number;
  /** Planned training steps of all runs (the denominator of the progress fraction). */
  totalSteps: number;
}

/** Checks the options of {@link evaluateUtility} and lists its runs (classifier × seed). */
export function planUtility(options: Omit<UtilityOptions, 'signal' | 'onProgress'>): UtilityPlan {
  const { train, test } = options;
  const seeds = checkSeeds(options.seeds ?? DEFAULT_SEEDS);
  const kinds = [...(options.classifiers ?? CLASSIFIER_KINDS)];
  for (const k of kinds) {
    if (!CLASSIFIER_KINDS.includes(k)) {
      throw new UserError(
        'INVALID_INPUT',
        `Unknown classifier "${String(k)}"; use ${CLASSIFIER_KINDS.join(', ')}.`,
      );
    }
  }
  const gTrain = checkImages(train, 'the synthetic images');
  const gTest = checkImages(test, 'the real test images');
  requireSameGeometry(gTrain, 'the synthetic images', gTest, 'the real test images');
  const classes = options.classes ?? classCount(train, test);
  const needed = classCount(train, test);
  if (needed > classes) {
    throw new UserError(
      'INVALID_INPUT',
      `A label is ${needed - 1}, but there are only ${classes} classes (labels 0 … ${classes - 1}); check the class count.`,
    );
  }
  const configs = new Map(kinds.map((k) => [k, resolveConfig(k, options.configs)] as const));
  const stepsOf = (kind: ClassifierKind, seed: number): number => {
    const c = configs.get(kind) as TrainConfig;
    return plannedSteps(holdOutSplit(train.count, c, seed).train.length, c);
  };
  const totalSteps = kinds.reduce(
    (a, k) => a + seeds.reduce((b, seed) => b + stepsOf(k, seed), 0),
    0,
  );
  return { seeds, kinds, classes, configs, stepsOf, totalSteps };
}

/** One classifier trained with one seed and tested on the real test split. */
export interface UtilityRun {
  /** Accuracy on the test split, in %. */
  accuracy: number;
  /** Balanced accuracy on the test split, in %. */
  balanced: number;
  /** Planned steps (TrainSummary.steps) and steps taken before early stopping. */
  steps: number;
  stepsTaken: number;
  /** Wall time of training and testing, in seconds. */
  seconds: number;
}

/**
 * Trains `kind` on `train` with `seed` and tests it on `test`: one run of
 * {@link evaluateUtility}, the unit that parallel.ts hands to its workers.
 */
export async function runUtility(options: {
  kind: ClassifierKind;
  seed: number;
  train: EvalImages;
  test: EvalImages;
  classes: number;
  config: TrainConfig;
  signal?: AbortSignal;
  onStep?: (step: number, steps: number) => void;
}): Promise<UtilityRun> {
  const { kind, seed, train, test, classes, config, signal, onStep } = options;
  const started = performance.now();
  const { model, summary } = await fitClassifier({
    kind,
    train,
    classes,
    seed,
    config,
    signal,
    onStep: (s) => onStep?.(s.step, s.steps),
  });
  try {
    const predicted = predictLabels(model, test);
    let right = 0;
    for (let i = 0; i < test.count; i++) if (predicted[i] === test.y[i]) right++;
    return {
      accuracy: (100 * right) / test.count,
      balanced: balancedAccuracy(test.y, predicted),
      steps: summary.steps,
      stepsTaken: summary.stepsTaken,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The result of a plan's runs (`runs.get(kind)[i]` for `plan.seeds[i]`);
 * `seconds` per classifier is the sum of its runs' wall times.
 */
export function utilityResult(
  plan: UtilityPlan,
  train: EvalImages,
  test: EvalImages,
  runs: ReadonlyMap<ClassifierKind, readonly UtilityRun[]>,
): UtilityResult {
  const result: UtilityResult = {
    n_synthetic: train.count,
    n_test: test.count,
    seeds: [...plan.seeds],
    majority: majorityRate(test.y),
    imbalanced: isImbalanced(test.y),
  };
  for (const kind of plan.kinds) {
    const mine = runs.get(kind) ?? [];
    const accuracies = mine.map((r) => r.accuracy);
    const balanced = mine.map((r) => r.balanced);
    result[kind] = {
      ...meanStd(accuracies),
      runs: accuracies,
      balanced: { ...meanStd(balanced), runs: balanced },
      steps: mine.map((r) => r.stepsTaken),
      seconds: mine.reduce((a, r) => a + r.seconds, 0),
      config: plan.configs.get(kind) as TrainConfig,
    };
  }
  return result;
}

/**
 * Trains each classifier on `train` once per seed and tests it on `test`
 * (module comment), one run after the other. Deterministic given the seeds
 * (on one backend); parallel.ts makes the same runs in worker threads.
 */
export async function evaluateUtility(options: UtilityOptions): Promise<UtilityResult> {
  const { train, test, signal, onProgress } = options;
  const plan = planUtility(options);
  let stepsBefore = 0;
  const runs = new Map<ClassifierKind, UtilityRun[]>();
  for (const kind of plan.kinds) {
    const mine: UtilityRun[] = [];
    runs.set(kind, mine);
    for (const seed of plan.seeds) {
      if (signal?.aborted) throw cancelled();
      const base = stepsBefore;
      const run = await runUtility({
        kind,
        seed,
        train,
        test,
        classes: plan.classes,
        config: plan.configs.get(kind) as TrainConfig,
        signal,
        onStep: (step, steps) =>
          onProgress?.({
            classifier: kind,
            seed,
            step,
            steps,
            fraction: Math.min(1, (base + step) / plan.totalSteps),
          }),
      });
      stepsBefore += run.steps;
      mine.push(run);
    }
  }
  return utilityResult(plan, train, test, runs);
}
