import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Handlers } from '../contract';
import { UserError } from '../contract/errors';
import { loadBundledMnist, readDatasetFiles, readNpz } from '../data';
import { selectBackend } from '../engine';
import { evaluateSynthetic, toEvalJson } from '../eval';
import type { EvalImages } from '../eval/images';
import { findDataset, getDataset, getRun } from '../store';
import type { ServiceContext } from './context';
import { sampleRun } from './samples';

/** The real images a synthetic set is judged against: a data set's splits, or the bundled MNIST's. */
async function realSplits(
  ctx: ServiceContext,
  name: string,
): Promise<{ train: EvalImages; test: EvalImages }> {
  const dataset = findDataset(ctx.store, name);
  if (dataset) return readDatasetFiles(dataset.filesDir);
  if (name.toLowerCase() === 'mnist') {
    const { train, test } = loadBundledMnist();
    return { train: { ...train, channels: 1 }, test: { ...test, channels: 1 } };
  }
  return readDatasetFiles(getDataset(ctx.store, name).filesDir); // NOT_FOUND in plain words
}

async function syntheticFromFile(path: string): Promise<EvalImages> {
  const where = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(where);
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `${where} cannot be read. Check the path of the synthetic .npz.`,
    );
  }
  const { x, y } = readNpz(bytes, where);
  if (!x || !y || !(x.data instanceof Uint8Array) || typeof y.data[0] === 'string') {
    throw new UserError(
      'INVALID_INPUT',
      `${where} must hold uint8 images "x" and integer labels "y" (DESIGN.md's format).`,
    );
  }
  const [count = 0, height = 0, width = 0, channels = 1] = x.shape;
  const labels = Array.from(y.data as ArrayLike<number | bigint>, (v) => Number(v));
  return { x: x.data, y: labels, count, height, width, channels };
}

/**
 * Evaluation with the paper's protocol (Appendix B.4): classifiers trained on
 * synthetic images, tested on the real held-out split, and the Fréchet
 * distance in a real-data CNN's feature space. The scores are computed on
 * private data: shown in the app, never exported.
 */
export function evalHandlers(ctx: ServiceContext): Pick<Handlers, 'eval.run'> {
  return {
    'eval.run': async ({ runId, synthetic, realTest, perClass, seeds }, call) => {
      let images: EvalImages;
      let realName = realTest;
      if (runId !== undefined) {
        images = await sampleRun(ctx.store, { runId, perClass, seed: 1 });
        realName ??= getDataset(ctx.store, getRun(ctx.store, runId).datasetId).name;
      } else if (synthetic !== undefined) {
        images = await syntheticFromFile(synthetic);
      } else {
        throw new UserError('INVALID_INPUT', 'Name a run or a synthetic .npz file to evaluate.');
      }
      const real = await realSplits(ctx, realName ?? 'mnist');
      await selectBackend();
      const result = await evaluateSynthetic({
        synthetic: images,
        realTest: real.test,
        realTrain: real.train,
        seeds: Array.from({ length: seeds }, (_, i) => i),
        ...(call.signal ? { signal: call.signal } : {}),
        onProgress: (p) =>
          call.onProgress?.({
            task: `Evaluating (${p.phase})`,
            done: Math.round(p.fraction * 100),
            total: 100,
          }),
      });
      return toEvalJson(result);
    },
  };
}
