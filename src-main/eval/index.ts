/**
 * The evaluation layer: how useful and how faithful synthetic images are,
 * and how much a released decoder leaks about its training records.
 *
 * - Utility (utility.ts): the downstream-classifier protocol of DP²-VAE's
 *   Table 1 (Jiang et al., arXiv 2208.03409, Appendix B.4) — LR, MLP and CNN
 *   trained on synthetic data, tested on the real test split.
 * - Fidelity (fidelity.ts): Fréchet distance (as FID, Heusel et al. 2017)
 *   and k-NN precision/recall (Kynkäänniemi et al. 2019) in the feature space
 *   of a CNN trained on the real training split.
 * - Membership audit (audit.ts): attack AUC and TPR at 1 % FPR next to the
 *   (ε, δ)-DP bound; decoder-audit.ts scores records by their log-likelihood
 *   under a released decoder (no encoder).
 * - The published reference rows (paper-table.ts): DP²-VAE's Table 1.
 *
 * Every figure here is computed on private data (the real splits), so it is
 * private: shown in the app, never exported (DESIGN.md).
 */
export {
  CLASSIFIER_KINDS,
  CNN_DROPOUT,
  CNN_FILTERS,
  CNN_KERNEL,
  MLP_DROPOUT,
  MLP_HIDDEN,
  createClassifier,
} from './classifiers';
export type { Classifier, ClassifierKind } from './classifiers';
export { conv2dSame, dropoutMask } from './conv';
export { checkImages, classCount } from './images';
export type { EvalImages, ImageGeometry } from './images';
export {
  accuracy,
  extractFeatures,
  fitClassifier,
  holdOutSplit,
  plannedSteps,
  predictLabels,
  trainClassifier,
} from './train';
export type { TrainConfig, TrainStep, TrainSummary } from './train';
export { balancedAccuracy, classCounts, isImbalanced, majorityRate } from './class-balance';
export {
  DEFAULT_SEEDS,
  DEFAULT_TRAIN_CONFIGS,
  evaluateUtility,
  meanStd,
  resolveConfig,
} from './utility';
export type {
  ClassifierScore,
  SeedFigure,
  UtilityOptions,
  UtilityProgress,
  UtilityResult,
} from './utility';
export { meanAndCovariance, sqrtPsd, symmetricEigen } from './linalg';
export type { SymmetricEigen } from './linalg';
export { frechetDistance, gaussianStats, traceSqrtProduct } from './frechet';
export type { GaussianStats } from './frechet';
export { DEFAULT_K, coverage, kthNeighbourRadii, precisionRecall } from './manifold';
export type { FeatureRows } from './manifold';
export {
  DEFAULT_MAX_PER_CLASS,
  EXTRACTOR_CONFIG,
  FEATURE_NETWORK,
  FLD_DESCRIPTION,
  FLD_LABEL,
  evaluateFidelity,
  fidelityFromFeatures,
  trainFeatureExtractor,
} from './fidelity';
export type {
  ClassFidelity,
  FeatureExtractor,
  FidelityReference,
  FidelityResult,
  LabelledFeatures,
} from './fidelity';
export {
  DEFAULT_AUDIT_FPR,
  attackAuc,
  auditFromScores,
  membershipAucBound,
  membershipAudit,
  tprAtFpr,
} from './audit';
export type { MembershipAudit, ScoreRecords } from './audit';
export {
  DEFAULT_AUDIT_RECORDS,
  DEFAULT_PRIOR_SAMPLES,
  auditDecoder,
  decoderLikelihoodScorer,
  decoderScoreDescription,
  sampleRecords,
} from './decoder-audit';
export type { DecoderAudit, ReleasedDecoder } from './decoder-audit';
export { DP2VAE_TABLE1_MNIST, paperTableFor } from './paper-table';
export type { PaperRow, PaperTable } from './paper-table';
export { EVAL_PROTOCOL, evaluateSynthetic, protocolNote, toEvalJson } from './evaluate';
export type {
  EvalJson,
  EvalJsonScore,
  EvaluationOptions,
  EvaluationProgress,
  EvaluationResult,
} from './evaluate';
