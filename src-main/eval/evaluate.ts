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
export const EVAL_PROTOCOL = { name: 'dp2vae-table1', version: 2 } as const;
// Version 2: the CNN trains two cosine-decayed epochs, not one at a constant step (utility.ts).

export interface EvaluationProgress {
  /** `features`: training the feature extractor; `utility`: the downstream classifiers. */
  phase: 'features' | 'utility';
  /** Share of this phase done, in [0, 1]. */
  fraction: number;
  utility?: UtilityProgress;
}

export interface EvaluationResult extends UtilityResult {
  /** Fidelity figures; absent when the caller turned fidelity off. */
  fidelity?: FidelityResult;
  /** Accuracy of the feature extractor's CNN on the real test split, in % (sanity check). */
  extractorAccuracy?: number;
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
  /** Compute fidelity (needs `realTrain` or `extractor`); default true when either is given. */
  fidelity?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: EvaluationProgress) => void;
}

/** Utility, then fidelity, of `synthetic` (module comment). */
export async function evaluateSynthetic(options: EvaluationOptions): Promise<EvaluationResult> {
  const { synthetic, realTest, realTrain, signal, onProgress } = options;
  const g = checkImages(synthetic, 'the synthetic images');
  requireSameGeometry(
    g,
    'the synthetic images',
    checkImages(realTest, 'the real test images'),
    'the real test images',
  );
  const classes = classCount(synthetic, realTest, ...(realTrain ? [realTrain] : []));
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
  const wantFidelity =
    options.fidelity ?? (realTrain !== undefined || options.extractor !== undefined);
  if (!wantFidelity) return utility;
  let extractor = options.extractor;
  const owned = extractor === undefined;
  if (extractor === undefined) {
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
    extractor = await trainFeatureExtractor({
      realTrain,
      realTest,
      classes,
      signal,
      onStep: (s) => onProgress?.({ phase: 'features', fraction: s.step / s.steps }),
    });
  }
  try {
    const fidelity = evaluateFidelity({ extractor, realTest, synthetic });
    return { ...utility, fidelity, extractorAccuracy: extractor.realTestAccuracy };
  } finally {
    if (owned) extractor.dispose();
  }
}

/** One classifier's figure in `dp2 eval --json`. */
export interface EvalJsonScore {
  mean: number;
  std: number;
}

/**
 * `dp2 eval --json` (DESIGN.md): `{"lr": {"mean", "std"}, "mlp": {…},
 * "cnn": {…}, "fld": number, "n_synthetic", "n_test", "seeds"}`, accuracies
 * in %. A classifier that was not run, or fidelity that was not computed, is
 * `null`.
 */
export interface EvalJson {
  lr: EvalJsonScore | null;
  mlp: EvalJsonScore | null;
  cnn: EvalJsonScore | null;
  fld: number | null;
  n_synthetic: number;
  n_test: number;
  seeds: number[];
}

/** The `dp2 eval --json` document of an evaluation. */
export function toEvalJson(result: EvaluationResult): EvalJson {
  const score = (s: UtilityResult['lr']): EvalJsonScore | null =>
    s ? { mean: s.mean, std: s.std } : null;
  return {
    lr: score(result.lr),
    mlp: score(result.mlp),
    cnn: score(result.cnn),
    fld: result.fidelity ? result.fidelity.fld : null,
    n_synthetic: result.n_synthetic,
    n_test: result.n_test,
    seeds: [...result.seeds],
  };
}
