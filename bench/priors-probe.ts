/**
 * The random-process prior as a feature space (issue #18): linear-probe
 * accuracy (logistic regression on frozen, standardised features; train on
 * the real training images, test on the real test images) for (a) raw
 * pixels, (b) the prior's network at random initialisation, (c) the
 * pre-trained prior, on MNIST and on a made shapes set (bench/lib/shapes-set.ts);
 * the time to load the prior and to compute the features of 60 000 images.
 *
 *   node --import tsx bench/priors-probe.ts [--train 60000] [--epochs 20]
 *        [--grid 3] [--folder resources/priors]
 *
 * Prints figures only; never fails on a time.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { linearProbe, type FeatureSet } from '../src-main/eval/linear-probe';
import { extractFeatures, type ImageBytes } from '../src-main/priors/features';
import { featureLayers } from '../src-main/priors/network/architecture';
import type { FoldedNet } from '../src-main/priors/network/feature-net';
import { loadPrior, priorsFolder } from '../src-main/priors/prior-file';
import { pretrainPrior } from '../src-main/priors/pretrain/pretrain';
import { makeShapeSet } from './lib/shapes-set';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const trainCount = Number(arg('train', '60000'));
const epochs = Number(arg('epochs', '20'));
const grid = Number(arg('grid', '3'));
const folder = arg('folder', priorsFolder());

const backend = await selectBackend({ prefer: 'wasm' });
console.log(`backend ${backend.name}; load average at start ${loadavg()[0]?.toFixed(2)}`);

let t = performance.now();
const prior = loadPrior(undefined, folder);
console.log(`load prior (read, sha256 check, tensors): ${(performance.now() - t).toFixed(0)} ms`);
const training = prior.manifest.training;
const untrained = (
  await pretrainPrior({
    spec: prior.manifest.network,
    seed: training.seed,
    families: training.families,
    imagesPerFamily: 256,
    imageSize: training.imageSize,
    viewSize: training.viewSize,
    steps: 0,
    batchSize: training.batchSize,
    temperature: training.temperature,
    learningRate: 0,
    warmupSteps: 0,
    projectionDims: 64,
  })
).net;

const readout = { layers: featureLayers(prior.net.spec), grid };

function pixels(images: ImageBytes): FeatureSet & { labels: ArrayLike<number> } {
  const dims = images.height * images.width * images.channels;
  const features = new Float32Array(images.count * dims);
  for (let i = 0; i < features.length; i++) features[i] = (images.x[i] as number) / 255;
  return { features, dims, count: images.count, labels: [] };
}

async function features(
  net: FoldedNet,
  images: ImageBytes,
  labels: ArrayLike<number>,
): Promise<FeatureSet> {
  const { features: f, dims } = await extractFeatures(net, images, { readout });
  return { features: f, dims, count: images.count, labels };
}

interface Labelled extends ImageBytes {
  y: ArrayLike<number>;
}

async function table(name: string, train: Labelled, test: Labelled): Promise<void> {
  const rows: [string, FeatureSet, FeatureSet][] = [
    ['raw pixels', { ...pixels(train), labels: train.y }, { ...pixels(test), labels: test.y }],
  ];
  for (const [label, net] of [
    ['random-init network', untrained],
    ['pre-trained prior', prior.net],
  ] as const) {
    t = performance.now();
    const a = await features(net, train, train.y);
    const s = (performance.now() - t) / 1000;
    console.log(
      `  ${name} ${label}: features of ${train.count} images in ${s.toFixed(1)} s (${a.dims} each)`,
    );
    rows.push([label, a, await features(net, test, test.y)]);
  }
  for (const [label, a, b] of rows) {
    const acc = await linearProbe(a, b, { epochs });
    console.log(
      `${name.padEnd(8)} ${label.padEnd(22)} dims ${String(a.dims).padStart(5)}  linear probe ${acc.toFixed(2)} %`,
    );
  }
}

const mnist = loadBundledMnist();
const take = (s: typeof mnist.train, n: number): Labelled => ({
  x: s.x.subarray(0, n * 784),
  y: s.y.subarray(0, n),
  count: n,
  height: 28,
  width: 28,
  channels: 1,
});
await table('MNIST', take(mnist.train, trainCount), take(mnist.test, mnist.test.count));
await table('shapes', makeShapeSet(8000, 1), makeShapeSet(2000, 2));
