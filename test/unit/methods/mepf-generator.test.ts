/**
 * The generator of method `mepf` (generator.ts) on a tiny problem: a small
 * convolutional decoder matched, through a tiny prior written to disk, to
 * the released class means of two kinds of made images. Its loss falls; the
 * same seed gives the same decoder; a resumed run continues exactly; its fast
 * forward pass is the app's decoder (cvae.ts decodeLogits), gradients
 * included, so the released decoder generates as any other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parseArchitecture, type Architecture } from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import { decodeLogits } from '../../../src-main/engine/cvae';
import { generateImages } from '../../../src-main/engine/generate';
import { initParams } from '../../../src-main/engine/params';
import { priorEmbedding, type Embedding } from '../../../src-main/methods/mepf/embedding';
import {
  GeneratorTrainer,
  generatorPixels,
  matchTarget,
  releaseMargins,
  trainGenerator,
  type MatchTarget,
} from '../../../src-main/methods/mepf/generator';
import {
  classStatistic,
  releaseStatistic,
  type LabelledImages,
} from '../../../src-main/methods/mepf/release';
import { tempDir } from '../../support/temp';
import { makeTinyPrior } from '../../support/tiny-prior';

const SIDE = 12;

/** A small convolutional decoder for 12×12 grey images of two classes. */
const arch: Architecture = parseArchitecture({
  kind: 'conv-cvae',
  version: 1,
  image: { height: SIDE, width: SIDE, channels: 1 },
  classes: 2,
  latent: 4,
  convChannels: [4, 4],
  kernelSize: 4,
  hidden: 16,
  activation: 'relu',
  likelihood: 'bernoulli',
});

/** Class 0: a bright left half; class 1: a bright top half; a little texture from i. */
function madeImages(count: number): LabelledImages {
  const x = new Uint8Array(count * SIDE * SIDE);
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % 2;
    y.push(k);
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        const on = k === 0 ? c < SIDE / 2 : r < SIDE / 2;
        x[i * SIDE * SIDE + r * SIDE + c] = on
          ? 200 + ((i * 7 + r + c) % 50)
          : (i * 3 + r * c) % 30;
      }
    }
  }
  return { x, y, count, height: SIDE, width: SIDE, channels: 1 };
}

describe('mepf: the generator', () => {
  let dir: { path: string; cleanup: () => void };
  let embedding: Embedding;
  let target: MatchTarget;
  before(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    dir = tempDir('dp2-mepf-');
    const prior = await makeTinyPrior(dir.path);
    embedding = priorEmbedding(prior, arch.image, { grid: 1, blur: 0 });
    const stat = await classStatistic(embedding, madeImages(60), { classes: 2 });
    // Almost no noise: the release's noise comes from the secure generator and would make the
    // target (and so the loss curve) differ from run to run; these tests are about the generator.
    target = matchTarget(releaseStatistic(stat, { sigma: 1e-4 }));
  });
  after(() => dir.cleanup());

  it('its fast forward pass and gradients are the app’s decoder’s', () => {
    tf.tidy(() => {
      const params = initParams(arch, 'decoder', [3]).tensors;
      const b = 5;
      const z = tf.randomNormal([b, arch.latent], 0, 1, 'float32', 1) as tf.Tensor2D;
      const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1], 'int32'), 2).toFloat() as tf.Tensor2D;
      const reference = (p: readonly tf.Tensor[]) =>
        tf.reshape(
          tf.sigmoid(
            decodeLogits(
              arch,
              p,
              tf.reshape(z, [1, b, -1]) as tf.Tensor3D,
              tf.reshape(y, [1, b, -1]) as tf.Tensor3D,
            ),
          ),
          [b, SIDE, SIDE, 1],
        );
      const ours = generatorPixels(arch, params, z, y);
      assert.deepEqual(ours.shape, [b, SIDE, SIDE, 1]);
      assert.ok((tf.max(tf.abs(tf.sub(ours, reference(params)))).dataSync()[0] as number) < 1e-6);
      const weight = tf.randomUniform([b, SIDE, SIDE, 1], 0, 1, 'float32', 2);
      const g1 = tf.grads((...p: tf.Tensor[]) =>
        tf.sum(tf.mul(generatorPixels(arch, p, z, y), weight)),
      )(params);
      const g2 = tf.grads((...p: tf.Tensor[]) => tf.sum(tf.mul(reference(p), weight)))(params);
      g1.forEach((g, i) => {
        const scale = tf.max(tf.abs(g2[i]!)).dataSync()[0] as number;
        const diff = tf.max(tf.abs(tf.sub(g, g2[i]!))).dataSync()[0] as number;
        assert.ok(
          diff <= 1e-5 * Math.max(scale, 1e-3),
          `parameter ${i}: |Δ| ${diff} at scale ${scale}`,
        );
      });
    });
  });

  it('its loss falls on a tiny problem, and the decoder generates as any other', async () => {
    const steps = 40;
    const trained = await trainGenerator(embedding, target, {
      arch,
      seed: 1,
      steps,
      batchSize: 16,
      learningRate: 1e-2,
    });
    assert.equal(trained.steps, steps);
    assert.equal(trained.losses.length, steps);
    const head = trained.losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const tail = trained.losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(tail < 0.5 * head, `loss ${head.toExponential(3)} → ${tail.toExponential(3)}`);
    const images = generateImages(arch, trained.weights, { perClass: 3, seed: 1 });
    assert.equal(images.count, 6);
    assert.deepEqual(Array.from(images.y), [0, 0, 0, 1, 1, 1]);
  });

  it('the same seed gives the same decoder; another seed another; a resumed run continues exactly', async () => {
    const options = { arch, seed: 7, steps: 4, batchSize: 8 };
    const a = await trainGenerator(embedding, target, options);
    const b = await trainGenerator(embedding, target, options);
    assert.deepEqual(a.weights, b.weights);
    assert.deepEqual(a.losses, b.losses);
    const c = await trainGenerator(embedding, target, { ...options, seed: 8 });
    assert.notDeepEqual(a.weights[0], c.weights[0]);
    // Two steps, a checkpoint, a new trainer from it, two more steps.
    const first = new GeneratorTrainer(embedding, target, options);
    first.trainStep();
    first.trainStep();
    const saved = first.checkpoint();
    first.dispose();
    const resumed = new GeneratorTrainer(embedding, target, options, saved);
    assert.equal(resumed.step, 2);
    const losses = [resumed.trainStep(), resumed.trainStep()];
    assert.deepEqual(resumed.decoderWeights(), a.weights);
    assert.deepEqual(losses, a.losses.slice(2));
    resumed.dispose();
  });

  it('the unbiased estimator drops the within-class spread that the plain batch mean counts', () => {
    // Step 1 sees the same images under either estimator (one seed); the
    // moving average starts at the batch mean, so its loss is the plain
    // Σ p̃‖mean − m̃‖², which exceeds the U-statistic by Σ p̃ (1 − ‖mean‖²)/(n − 1) > 0
    // for rows of norm 1.
    const options = { arch, seed: 3, steps: 30, batchSize: 8, learningRate: 1e-2 };
    const plain = new GeneratorTrainer(embedding, target, options);
    const unbiased = new GeneratorTrainer(embedding, target, { ...options, estimator: 'unbiased' });
    const lp = plain.trainStep();
    const lu = unbiased.trainStep();
    assert.ok(lu < lp, `unbiased ${lu} < plain ${lp}`);
    const losses = [lu];
    while (unbiased.step < options.steps) losses.push(unbiased.trainStep());
    const head = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const tail = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    assert.ok(tail < head, `loss ${head.toExponential(3)} → ${tail.toExponential(3)}`);
    plain.dispose();
    unbiased.dispose();
  });

  it('the release places real images in their own class (margins), and not in the other', () => {
    const data = madeImages(20);
    const x = tf.tidy(() =>
      tf.div(tf.tensor4d(Float32Array.from(data.x), [data.count, SIDE, SIDE, 1]), 255),
    ) as tf.Tensor4D;
    const own = Int32Array.from(data.y);
    const swapped = own.map((k) => 1 - k);
    const right = releaseMargins(embedding, target, x, own);
    const wrong = releaseMargins(embedding, target, x, swapped);
    x.dispose();
    assert.equal(right.length, data.count);
    right.forEach((m, i) => {
      assert.ok(m > 0, `image ${i}: margin ${m}`);
      assert.ok(Math.abs((wrong[i] as number) + m) < 1e-5, 'two classes: the margins are opposite');
    });
  });

  it('the cosine schedule runs the step size from its value down to 0', () => {
    const t = new GeneratorTrainer(embedding, target, {
      arch,
      seed: 0,
      steps: 10,
      learningRate: 0.02,
      schedule: 'cosine',
    });
    assert.equal(t.learningRateAt(0), 0.02);
    assert.ok(Math.abs(t.learningRateAt(5) - 0.01) < 1e-12);
    assert.ok(t.learningRateAt(10) < 1e-12);
    t.dispose();
  });

  it('refuses a release made with other settings, in plain words', () => {
    assert.throws(
      () =>
        new GeneratorTrainer(
          embedding,
          { ...target, dims: target.dims + 1, means: new Float32Array(2 * (target.dims + 1)) },
          { arch, seed: 0, steps: 1 },
        ),
      /release holds embeddings of \d+ numbers but this feature map gives \d+/,
    );
    assert.throws(
      () =>
        new GeneratorTrainer(embedding, target, {
          arch: { ...arch, classes: 3 },
          seed: 0,
          steps: 1,
        }),
      /number of classes must be the release's 2/,
    );
    assert.throws(
      () => new GeneratorTrainer(embedding, target, { arch, seed: 0, steps: 1, movingAverage: 0 }),
      /moving-average weight must be in \(0, 1\]/,
    );
  });
});
