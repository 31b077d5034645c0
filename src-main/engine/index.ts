/**
 * The training engine of DP² Studio: DP²-VAE (Jiang et al., arXiv 2208.03409)
 * on TensorFlow.js. Stage 1 (Algorithm 1) trains one encoder per block
 * non-privately; stage 2 (Algorithm 2) trains the releasable decoder with the
 * Gaussian mechanism; generation and checkpoints complete the picture.
 * Privacy accounting is injected by the caller (src-main/privacy).
 */
export { selectBackend, currentBackend, wasmBinaryFolder, BACKEND_NAMES } from './backend';
export type {
  BackendName,
  BackendSelection,
  BackendAttempt,
  SelectBackendOptions,
} from './backend';
export {
  defaultArchitecture,
  convArchitecture,
  parameterSpecs,
  parameterCount,
  parseArchitecture,
  imageSize,
} from './architecture';
export type {
  Architecture,
  MlpCvaeArchitecture,
  ConvCvaeArchitecture,
  ImageShape,
  ModelPart,
  ParamSpec,
} from './architecture';
export { partitionRecords, blockRecords, largestBlock, partitionFingerprint } from './partition';
export type { Partition } from './partition';
export { SecureGaussian, secureRandomInt, secureSeed } from './secure-noise';
export { EncoderStore } from './encoder-store';
export type { EncoderState, EncoderStoreOptions } from './encoder-store';
export { trainStage1, defaultGroupSize } from './stage1';
export type { Stage1Options, Stage1Progress, Stage1Result, Stage1Args } from './stage1';
export { Stage2Trainer, resolveStage2Options } from './stage2';
export type {
  Stage2Options,
  Stage2Hooks,
  Stage2StepReport,
  Stage2Result,
  Stage2StopReason,
} from './stage2';
export { generateImages, grid } from './generate';
export type { ImageBatch, GridImage, GenerateOptions } from './generate';
export {
  serializeCheckpoint,
  deserializeCheckpoint,
  writeCheckpointAtomic,
  CHECKPOINT_FORMAT_VERSION,
} from './checkpoint';
export type { Stage2Checkpoint, ResolvedStage2Options } from './checkpoint';
export type { EngineImages } from './batches';
export {
  DpsgdTrainer,
  resolveDpsgdOptions,
  serializeDpsgdCheckpoint,
  deserializeDpsgdCheckpoint,
} from './dpsgd';
export { trainThreadCount, usefulThreads, TRAIN_THREADS_ENV } from './train-threads';
export type {
  DpsgdOptions,
  ResolvedDpsgdOptions,
  DpsgdCheckpoint,
  DpsgdHooks,
  DpsgdStepReport,
} from './dpsgd';
export { securePoissonSample } from './secure-noise';
export { secureRecordNoise, keyedRecordNoise } from './record-noise';
export type { RecordNoise } from './record-noise';
export type { RefineOptions } from './posterior';
