/**
 * The SQLite store of DP² Studio: data sets, runs, metrics, checkpoints,
 * artifacts with their privacy visibility, the privacy ledger, sample grids,
 * evaluations of released decoders (private figures) and whole-or-absent
 * exports of releasable artifacts.
 *
 * Start-up sequence for the main process: `openStore`, then
 * `markInterruptedRuns` and `purgePendingRemovals`.
 */
export type { Store } from './types';
export type { OpenStoreOptions } from './open';
export { openStore, closeStore } from './open';
export {
  APPLICATION_ID,
  SCHEMA_VERSION,
  ARTIFACT_KINDS,
  RELEASABLE_KINDS,
  RUN_STATUSES,
  RUN_METHODS,
  EVAL_CLASSIFIERS,
} from './schema';
export type { Dataset, NewDataset, DatasetLookup } from './datasets';
export { insertDataset, findDataset, getDataset, listDatasets, setBudgetCap } from './datasets';
export type { DeleteDatasetResult, RemovalReport } from './deletion';
export { deleteDataset, purgePendingRemovals } from './deletion';
export type { Run, NewRun, RunMethod, RunStatus, RunStatusUpdate, AccountantInfo } from './runs';
export { createRun, findRun, getRun, listRuns, updateRunStatus, markInterruptedRuns } from './runs';
export type { MetricRow } from './metrics';
export {
  appendMetrics,
  getMetrics,
  metricStride,
  METRIC_DENSE_STEPS,
  METRIC_MAX_ROWS,
} from './metrics';
export type { Checkpoint } from './checkpoints';
export { recordCheckpoint, latestCheckpoint, listCheckpoints } from './checkpoints';
export type { Artifact, ArtifactKind, NewArtifact, Visibility } from './artifacts';
export { registerArtifact, getArtifact, listArtifacts, isReleasableKind } from './artifacts';
export type { LedgerEntry, MechanismSpec, SpendInput } from './ledger';
export {
  recordSpend,
  recordGrantedSpend,
  ledgerEntries,
  ledgerEntriesByFingerprint,
  stepsSpent,
} from './ledger';
export type { SpendContext } from './ledger';
export { journalPath } from './ledger-journal';
export { restoredLedger } from './ledger-restore';
export type { LedgerRestore } from './ledger-restore';
export type { SampleGrid } from './samples';
export { recordSampleGrid, getSampleGrid, sampleGridSteps, MAX_GRID_BYTES } from './samples';
export type {
  EvalClassifier,
  Evaluation,
  NewEvaluation,
  StoredAudit,
  StoredClassFidelity,
  StoredDetails,
  StoredFidelity,
  StoredScore,
} from './evaluations';
export { saveEvaluation, getEvaluation, listEvaluations, latestEvaluation } from './evaluations';
export type { ExportInclude, ExportOptions, ExportResult } from './export';
export { exportRun } from './export';
