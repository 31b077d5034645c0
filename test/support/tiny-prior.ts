import * as tf from '@tensorflow/tfjs';
import { loadPrior, writePrior, type LoadedPrior } from '../../src-main/priors/prior-file';
import {
  pretrainPrior,
  trainingRecord,
  DEFAULT_PRETRAIN,
  type PretrainOptions,
} from '../../src-main/priors/pretrain/pretrain';

/** Settings of a tiny prior (three small layers, a few steps): seconds to make. */
export const TINY_PRIOR: PretrainOptions = {
  ...DEFAULT_PRETRAIN,
  spec: { widths: [4, 6, 8], stemStride: 1 },
  families: ['spectral', 'dead-leaves'],
  seed: 4,
  imagesPerFamily: 24,
  steps: 4,
  batchSize: 12,
  warmupSteps: 1,
  learningRate: 5e-3,
};

/**
 * Pre-trains the tiny prior, writes it into `folder` as prior `name` and loads
 * it back through loadPrior (sha256-checked), as a method would.
 */
export async function makeTinyPrior(folder: string, name = 'tiny'): Promise<LoadedPrior> {
  const o = TINY_PRIOR;
  const r = await pretrainPrior(o);
  await writePrior(folder, name, r.net, trainingRecord(o, r, tf.getBackend()));
  return loadPrior(name, folder);
}
