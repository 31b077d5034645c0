/**
 * The whole evaluation behind `dp2 eval` (DESIGN.md, "Command line"):
 * downstream utility (utility.ts) and fidelity (fidelity.ts) of a set of
 * synthetic images against a data set's real splits, and the JSON document
 * `dp2 eval --json` prints.
 */
import { UserError } from '../contract/errors';
import type { ClassifierKind } from './classifiers';
import {
  evaluateFidelity,
  trainFeatureExtractor,
  type FeatureExtractor,
  type FidelityResult,
} from './fidelity';
import { checkImages, classCount, requireSameGeometry, type EvalImages } from './images';
import type { TrainConfig } from './train';
import { evaluateUtility, type UtilityProgress, type UtilityResult } from './utility';

/**
 * Name and version of the evaluation protocol, stored with every result: a
 * change to what is measured (classifiers, training budgets, feature space,
 * audit) bumps the version, so old and new figures are never compared
 * unawares.
 */
export const EVAL_PROTOCOL = { name: 'dp2vae-table1', version: 3 } as const;
// Version 2: the CNN trains two cosine-decayed epochs, not one at a constant step (utility.ts).
// Version 3: every classifier trains a number of steps that does not shrink with the set, with
// early stopping on held-out synthetic images; 3 seeds; the majority-class rate and balanced
// accuracy; the Fréchet distance beside its real-vs-real value (utility.ts, fidelity.ts).

/**
 * In words, why figures of an older protocol version are not comparable with
 * the current one's; '' for the current version (or a newer one).
 */
export function protocolNote(version: number): string {
  if (version >= EVAL_PROTOCOL.version) return '';
  const why =
    version <= 1
      ? 'its CNN trained one epoch at a constant step'
      : 'its classifiers trained a fixed number of epochs, so small sets got few steps';
  return (
    `Evaluated with an older protocol (version ${version}: ${why}); its accuracies read ` +
    'low, by several points for small sets. Evaluate again to compare with current figures.'
  );
}

export interface EvaluationProgress {
  /** `features`: training the feature extractor; `utility`: the downstream classifiers. */
  phase: 'features' | 'utility';
  /**
   * Share of this phase done, in [0, 1]; in parallel.ts, where the phases
   * overlap, the share of the whole evaluation done.
   */
  fraction: number;
  utility?: UtilityProgress;
}

export interface EvaluationResult extends UtilityResult {
  /** Fidelity figures; absent when the caller turned fidelity off. */
  fidelity?: FidelityResult;
  /** Accuracy of the feature extractor's CNN on the real test split, in % (sanity check). */
  extractorAccuracy?: number;
  /** The network whose features the fidelity figures use, in a few words. */
  featureNetwork?: string;
}

export interface EvaluationOptions {
  synthetic: EvalImages;
  realTest: EvalImages;
  /** The real training split: trains the feature extractor (unless `extractor` is given). */
  realTrain?: EvalImages;
  /** A feature extractor trained earlier on the same real training split (kept; not disposed). */
  extractor?: FeatureExtractor;
  seeds?: readonly number[];
  classifiers?: readonly ClassifierKind[];
  configs?: Partial<Record<ClassifierKind, Partial<TrainConfig>>>;
  /** Overrides of the feature network's training budget (fidelity.ts EXTRACTOR_CONFIG; tests). */
  extractorConfig?: Partial<TrainConfig>;
  /** Compute fidelity (needs `realTrain` or `extractor`); default true when either is given. */
  fidelity?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: EvaluationProgress) => void;
}

/** The fidelity figures of an evaluation and the network behind them. */
export type FidelityPart = Pick<
  EvaluationResult,
  'fidelity' | 'featureNetwork' | 'extractorAccuracy'
>;

/**
 * Trains the feature network on `realTrain` (seed 0) and measures the
 * fidelity of `synthetic` with its real-vs-real reference: the fidelity half
 * of {@link evaluateSynthetic}, one job of parallel.ts.
 */
export async function fidelityPart(options: {
  synthetic: EvalImages;
  realTest: EvalImages;
  realTrain: EvalImages;
  classes: number;
  extractorConfig?: Partial<TrainConfig>;
  signal?: AbortSignal;
  onStep?: (step: number, steps: number) => void;
}): Promise<FidelityPart> {
  const { realTest, realTrain, classes, signal, onStep } = options;
  const extractor = await trainFeatureExtractor({
    realTrain,
    realTest,
    classes,
    signal,
    ...(options.extractorConfig ? { config: options.extractorConfig } : {}),
    onStep: (s) => onStep?.(s.step, s.steps),
  });
  try {
    return measureFidelity(extractor, options);
  } finally {
    extractor.dispose();
  }
}

function measureFidelity(
  extractor: FeatureExtractor,
  options: { synthetic: EvalImages; realTest: EvalImages; realTrain?: EvalImages | undefined },
): FidelityPart {
  const { synthetic, realTest, realTrain } = options;
  return {
    fidelity: evaluateFidelity({
      extractor,
      realTest,
      synthetic,
      ...(realTrain ? { realTrain } : {}),
    }),
    featureNetwork: extractor.network,
    extractorAccuracy: extractor.realTestAccuracy,
  };
}

/**
 * Checks the options of {@link evaluateSynthetic}: the class count of all
 * sets, and whether fidelity is wanted (and can be computed).
 */
export function planEvaluation(options: EvaluationOptions): {
  classes: number;
  wantFidelity: boolean;
} {
  const { synthetic, realTest, realTrain } = options;
  const g = checkImages(synthetic, 'the synthetic images');
  requireSameGeometry(
    g,
    'the synthetic images',
    checkImages(realTest, 'the real test images'),
    'the real test images',
  );
  const classes = classCount(synthetic, realTest, ...(realTrain ? [realTrain] : []));
  const wantFidelity =
    options.fidelity ?? (realTrain !== undefined || options.extractor !== undefined);
  if (wantFidelity && options.extractor === undefined) {
    if (!realTrain) {
      throw new UserError(
        'INVALID_INPUT',
        'Fidelity needs the real training split (to train the feature extractor); give it, or turn fidelity off.',
      );
    }
    requireSameGeometry(
      g,
      'the synthetic images',
      checkImages(realTrain, 'the real training images'),
      'the real training images',
    );
  }
  return { classes, wantFidelity };
}

/**
 * Utility, then fidelity, of `synthetic` (module comment), one part after
 * the other in this thread; parallel.ts makes the same parts in workers.
 */
export async function evaluateSynthetic(options: EvaluationOptions): Promise<EvaluationResult> {
  const { synthetic, realTest, realTrain, signal, onProgress } = options;
  const { classes, wantFidelity } = planEvaluation(options);
  const utility = await evaluateUtility({
    train: synthetic,
    test: realTest,
    seeds: options.seeds,
    classifiers: options.classifiers,
    configs: options.configs,
    classes,
    signal,
    onProgress: (u) => onProgress?.({ phase: 'utility', fraction: u.fraction, utility: u }),
  });
  if (!wantFidelity) return utility;
  if (options.extractor) return { ...utility, ...measureFidelity(options.extractor, options) };
  return {
    ...utility,
    ...(await fidelityPart({
      synthetic,
      realTest,
      realTrain: realTrain as EvalImages,
      classes,
      ...(options.extractorConfig ? { extractorConfig: options.extractorConfig } : {}),
      signal,
      onStep: (step, steps) => onProgress?.({ phase: 'features', fraction: step / steps }),
    })),
  };
}

/** One classifier's figure in `dp2 eval --json`. */
export interface EvalJsonScore {
  mean: number;
  std: number;
}

/**
 * `dp2 eval --json` (DESIGN.md): `{"lr": {"mean", "std"}, "mlp": {…},
 * "cnn": {…}, "fld": number, "n_synthetic", "n_test", "seeds"}`, accuracies
 * in %, and beside them (protocol version 3) the majority-class rate, the
 * balanced accuracies, the real-vs-real Fréchet distance, precision/recall
 * and the feature network. A classifier that was not run, or fidelity that
 * was not computed, is `null`.
 */
export interface EvalJson {
  lr: EvalJsonScore | null;
  mlp: EvalJsonScore | null;
  cnn: EvalJsonScore | null;
  fld: number | null;
  n_synthetic: number;
  n_test: number;
  seeds: number[];
  /** Share (%) of the real test split in its commonest class. */
  majority_rate: number;
  /** Whether the test split's classes are imbalanced (then read `balanced_accuracy`). */
  imbalanced: boolean;
  balanced_accuracy: {
    lr: EvalJsonScore | null;
    mlp: EvalJsonScore | null;
    cnn: EvalJsonScore | null;
  };
  /** Fréchet distance of a real training sample against the real test split (same feature space). */
  fld_real: number | null;
  precision: number | null;
  recall: number | null;
  precision_real: number | null;
  recall_real: number | null;
  feature_network: string | null;
}

/** The `dp2 eval --json` document of an evaluation. */
export function toEvalJson(result: EvaluationResult): EvalJson {
  const score = (s: { mean: number; std: number } | undefined): EvalJsonScore | null =>
    s ? { mean: s.mean, std: s.std } : null;
  const f = result.fidelity;
  return {
    lr: score(result.lr),
    mlp: score(result.mlp),
    cnn: score(result.cnn),
    fld: f ? f.fld : null,
    n_synthetic: result.n_synthetic,
    n_test: result.n_test,
    seeds: [...result.seeds],
    majority_rate: result.majority.rate,
    imbalanced: result.imbalanced,
    balanced_accuracy: {
      lr: score(result.lr?.balanced),
      mlp: score(result.mlp?.balanced),
      cnn: score(result.cnn?.balanced),
    },
    fld_real: f?.reference?.fld ?? null,
    precision: f ? f.precision : null,
    recall: f ? f.recall : null,
    precision_real: f?.reference?.precision ?? null,
    recall_real: f?.reference?.recall ?? null,
    feature_network: f ? (result.featureNetwork ?? null) : null,
  };
}
