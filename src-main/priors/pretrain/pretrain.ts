/**
 * Pre-training the random-process prior: SimCLR (Chen et al., ICML 2020) on
 * procedural images only (Baradad et al., NeurIPS 2021). A pool of images is
 * made from the seed, each step draws a batch from it, makes two random views
 * of every image (augment.ts), and takes one Adam step on NT-Xent
 * (contrastive.ts). The step size rises linearly over the warm-up, then
 * falls to zero along a half cosine. At the end batch normalisation is
 * folded into the convolutions (feature-net.ts). Everything random comes from
 * the seed: the same seed and settings give the same weights on one backend.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeOptimizer, initOptimizer, optimizerStep } from '../../engine/optim';
import { SeededRng } from '../../engine/rng';
import { generateFamily, PRIOR_COUNT_MAX, type PriorFamily } from '../families';
import { checkFeatureNetSpec, type FeatureNetSpec } from '../network/architecture';
import {
  createTrainableNet,
  disposeNet,
  foldBatchNorm,
  trainStages,
  type FoldedNet,
} from '../network/feature-net';
import type { PriorManifest } from '../prior-file';
import { augmentViews, DEFAULT_AUGMENT, type AugmentOptions } from './augment';
import { createHead, ntXent, project } from './contrastive';

/** Settings of a pre-training run (the manifest records every one). */
export interface PretrainOptions {
  spec: FeatureNetSpec;
  seed: number;
  families: readonly PriorFamily[];
  /** Procedural images made per family (the pool the batches are drawn from). */
  imagesPerFamily: number;
  /** Side of the procedural images, and of the views cut from them. */
  imageSize: number;
  viewSize: number;
  steps: number;
  /** Images per step (each gives two views). */
  batchSize: number;
  temperature: number;
  /** Adam's peak step size, and the steps of linear warm-up before it. */
  learningRate: number;
  warmupSteps: number;
  /** Dimensions of the projection head's output. */
  projectionDims: number;
}

/** The settings of the shipped prior (docs/priors.md), less the network, families and seed. */
export const DEFAULT_PRETRAIN = {
  imagesPerFamily: 15000,
  imageSize: 32,
  viewSize: 28,
  steps: 1500,
  batchSize: 256,
  temperature: 0.2,
  learningRate: 2e-3,
  warmupSteps: 25,
  projectionDims: 64,
} as const satisfies Partial<PretrainOptions>;

/** What a finished pre-training gives. */
export interface PretrainResult {
  net: FoldedNet;
  /** Mean NT-Xent over each block of `lossEvery` steps. */
  lossCurve: number[];
  lossEvery: number;
  wallSeconds: number;
  augment: AugmentOptions;
}

/** Called after every step; return false to stop (the run then throws). */
export type PretrainProgress = (step: number, steps: number, loss: number) => void;

/** The step size of step `t` (0-based): linear warm-up, then a half cosine to zero. */
export function learningRateAt(t: number, o: PretrainOptions): number {
  if (t < o.warmupSteps) return (o.learningRate * (t + 1)) / o.warmupSteps;
  const progress = (t - o.warmupSteps) / Math.max(1, o.steps - o.warmupSteps);
  return 0.5 * o.learningRate * (1 + Math.cos(Math.PI * progress));
}

/** The pool of procedural colour images, [families × imagesPerFamily, size, size, 3] bytes. */
function makePool(o: PretrainOptions): Uint8Array {
  const per = o.imageSize * o.imageSize * 3;
  const pool = new Uint8Array(o.families.length * o.imagesPerFamily * per);
  let offset = 0;
  for (const family of o.families) {
    for (let start = 0; start < o.imagesPerFamily; start += PRIOR_COUNT_MAX) {
      const count = Math.min(PRIOR_COUNT_MAX, o.imagesPerFamily - start);
      const { x } = generateFamily({
        family,
        seed: o.seed,
        count,
        size: o.imageSize,
        channels: 3,
        start,
      });
      pool.set(x, offset);
      offset += x.length;
    }
  }
  return pool;
}

/** A batch of `n` pool images picked by `rng`, as floats [n, size, size, 3] in [0, 1]. */
function drawBatch(pool: Uint8Array, size: number, n: number, rng: SeededRng): tf.Tensor4D {
  const per = size * size * 3;
  const total = pool.length / per;
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const j = rng.nextInt(total);
    for (let k = 0; k < per; k++) out[i * per + k] = (pool[j * per + k] as number) / 255;
  }
  return tf.tensor4d(out, [n, size, size, 3]);
}

/** Calibration images for batch normalisation's statistics at the end. */
const CALIBRATION_IMAGES = 1024;

/**
 * Pre-trains the feature network on procedural images (module comment).
 * Call `selectBackend()` (engine) first.
 */
export async function pretrainPrior(
  o: PretrainOptions,
  onStep?: PretrainProgress,
): Promise<PretrainResult> {
  checkFeatureNetSpec(o.spec);
  const started = performance.now();
  const augment: AugmentOptions = { ...DEFAULT_AUGMENT, size: o.viewSize };
  const pool = makePool(o);
  const rng = SeededRng.fromSeed(o.seed, 0x70726574);
  const net = createTrainableNet(o.spec, o.seed);
  const channels = o.spec.widths[o.spec.widths.length - 1] as number;
  let head = createHead(channels, o.projectionDims, o.seed);
  const convCount = net.params.length;
  let opt = initOptimizer('adam', [...net.params, ...head]);
  const lossEvery = Math.max(1, Math.round(o.steps / 100));
  const lossCurve: number[] = [];
  let blockSum = 0;
  const loss = (...p: tf.Tensor[]): tf.Scalar => {
    const images = drawBatch(pool, o.imageSize, o.batchSize, rng);
    const views = tf.concat([
      augmentViews(images, rng, augment),
      augmentViews(images, rng, augment),
    ]);
    const stages = trainStages(o.spec, p.slice(0, convCount), views);
    const pooled = tf.mean(stages[stages.length - 1] as tf.Tensor4D, [1, 2]) as tf.Tensor2D;
    return ntXent(project(pooled, p.slice(convCount)), o.temperature);
  };
  try {
    for (let t = 0; t < o.steps; t++) {
      const params = [...net.params, ...head];
      const { value, grads } = tf.tidy(() => tf.valueAndGrads(loss)(params));
      const next = optimizerStep(params, grads, opt, { kind: 'adam', lr: learningRateAt(t, o) });
      for (const g of grads) g.dispose();
      opt = next.state;
      net.params = next.params.slice(0, convCount);
      head = next.params.slice(convCount);
      const l = (await value.data())[0] as number;
      value.dispose();
      blockSum += l;
      if ((t + 1) % lossEvery === 0 || t + 1 === o.steps) {
        lossCurve.push(blockSum / ((t % lossEvery) + 1));
        blockSum = 0;
      }
      onStep?.(t + 1, o.steps, l);
      if (t % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    const calib = tf.tidy(() =>
      augmentViews(drawBatch(pool, o.imageSize, CALIBRATION_IMAGES, rng), rng, augment),
    );
    const folded = foldBatchNorm(net, calib);
    calib.dispose();
    return {
      net: folded,
      lossCurve,
      lossEvery,
      wallSeconds: (performance.now() - started) / 1000,
      augment,
    };
  } finally {
    disposeNet(net);
    for (const t of head) t.dispose();
    disposeOptimizer(opt);
  }
}

/**
 * The manifest's record of a pre-training run (prior-file.ts): its settings,
 * in words where the manifest states them in words, and what it measured.
 */
export function trainingRecord(
  o: PretrainOptions,
  r: PretrainResult,
  backend: string,
): PriorManifest['training'] {
  const a = r.augment;
  return {
    seed: o.seed,
    families: [...o.families],
    imagesPerFamily: o.imagesPerFamily,
    imageSize: o.imageSize,
    viewSize: o.viewSize,
    steps: o.steps,
    batchSize: o.batchSize,
    imagesSeen: o.steps * o.batchSize,
    objective:
      'SimCLR NT-Xent: two random views of each procedural image agree (Chen et al., ICML 2020)',
    temperature: o.temperature,
    augmentations:
      `random resized crop to ${a.size} px (area ${a.minArea * 100}–100 %, aspect 3/4–4/3) with horizontal flip p = 0.5; ` +
      `colour jitter (brightness, contrast, saturation ×0.6–1.4) p = ${a.jitter}; grey p = ${a.grey}; negative p = ${a.negative}`,
    optimizer: `Adam, peak step size ${o.learningRate}, ${o.warmupSteps} warm-up steps, then cosine to 0`,
    lossEvery: r.lossEvery,
    lossCurve: r.lossCurve.map((l) => Math.round(l * 1e4) / 1e4),
    wallSeconds: Math.round(r.wallSeconds),
    backend,
  };
}
