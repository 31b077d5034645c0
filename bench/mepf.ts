/**
 * Method `mepf` end to end on MNIST (issue #19): the private phase (φ of the
 * training images and the one Gaussian release, timed), the generator's
 * training on the release, then synthetic images (labels drawn from the
 * noisy proportions) evaluated as the app evaluates (eval/parallel.ts: CNN
 * and LR by default, one seed; Fréchet distance with `--fidelity`).
 *
 *   node --import tsx bench/mepf.ts [--source prior|random-net|rff] [--eps 1,10]
 *        [--delta 1e-5] [--accountant rdp|pld] [--steps 1000] [--batch 100]
 *        [--lr 1e-3] [--alpha 0.1] [--layers stage1,stage2,stage3]
 *        [--moments both|first] [--grid 4|full] [--blur 1] [--norm blocks|whole] [--train 60000]
 *        [--synthetic 10000] [--classifiers cnn,lr] [--fidelity] [--seed 0]
 *        [--count-weight W] [--frequencies 5000] [--length-scale L]
 *        [--priors DIR] [--stand-in] [--png PREFIX]
 *   node --import tsx bench/mepf.ts --part weights   (the count weight w: error of the means)
 *
 * `--stand-in` uses the default network at random initialisation in place
 * of the shipped prior (until the prior is trained). Prints figures only;
 * never fails on a time. Timings: wall seconds and the load average (the
 * machine may be shared).
 */
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { generateImages, grid } from '../src-main/engine/generate';
import { encodePng } from '../src-main/data/png';
import { writeFileSync } from 'node:fs';
import { evalWorkerCount, evaluateInParallel } from '../src-main/eval/parallel';
import type { ClassifierKind } from '../src-main/eval';
import {
  networkEmbedding,
  priorEmbedding,
  randomInitNetwork,
  rffEmbedding,
  type Embedding,
  type FeatureSource,
} from '../src-main/methods/mepf/embedding';
import {
  defaultGeneratorArchitecture,
  matchTarget,
  trainGenerator,
} from '../src-main/methods/mepf/generator';
import {
  calibrateReleaseSigma,
  classStatistic,
  defaultCountWeight,
  releasedMeans,
  releaseStatistic,
  type ClassStatistic,
} from '../src-main/methods/mepf/release';
import { DEFAULT_FEATURE_NET } from '../src-main/priors/network/architecture';
import { loadPrior, priorsFolder } from '../src-main/priors/prior-file';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const flag = (name: string): boolean => args.includes(`--${name}`);

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const now = (): number => performance.now() / 1000;

const source = arg('source', 'prior') as FeatureSource;
const delta = Number(arg('delta', '1e-5'));
const accountant = arg('accountant', 'rdp') as 'rdp' | 'pld';
const seed = Number(arg('seed', '0'));
const trainCount = Number(arg('train', '60000'));

const backend = await selectBackend({ prefer: 'wasm' });
console.log(`backend ${backend.name}; load average ${load()}`);

const mnist = loadBundledMnist();
const n = Math.min(trainCount, mnist.train.count);
const train = {
  x: mnist.train.x.subarray(0, n * 784),
  y: mnist.train.y.subarray(0, n),
  count: n,
  height: 28,
  width: 28,
  channels: 1,
};
const image = { height: 28, width: 28, channels: 1 };
const classes = 10;

async function makeEmbedding(): Promise<Embedding> {
  const networkOptions = {
    layers: arg('layers', '') === '' ? undefined : arg('layers', '').split(','),
    moments: arg('moments', 'both') as 'both' | 'first',
    grid: arg('grid', '4') === 'full' ? ('full' as const) : Number(arg('grid', '4')),
    normalisation: arg('norm', 'blocks') as 'blocks' | 'whole',
    blur: Number(arg('blur', '1')),
  };
  if (source === 'rff') {
    const ls = arg('length-scale', '');
    return rffEmbedding(image, {
      frequencies: Number(arg('frequencies', '5000')),
      ...(ls === '' ? {} : { lengthScale: Number(ls) }),
      seed,
    });
  }
  if (source === 'random-net' || flag('stand-in')) {
    const spec = flag('stand-in')
      ? DEFAULT_FEATURE_NET
      : loadPrior(undefined, arg('priors', priorsFolder())).manifest.network;
    const net = await randomInitNetwork(spec, seed);
    return networkEmbedding(net, image, networkOptions, 'random-net');
  }
  const t = now();
  const prior = loadPrior(undefined, arg('priors', priorsFolder()));
  console.log(
    `prior ${prior.manifest.name} (${prior.manifest.weights.sha256.slice(0, 12)}…, ` +
      `widths ${prior.manifest.network.widths.join('/')}) loaded in ${(now() - t).toFixed(2)} s`,
  );
  return priorEmbedding(prior, image, networkOptions);
}

/** The count weight w: relative error of the class means over repeated releases, for a few w. */
async function weightsPart(embedding: Embedding, stat: ClassStatistic): Promise<void> {
  const exact = new Float64Array(stat.sums.length);
  for (let k = 0; k < classes; k++) {
    for (let j = 0; j < stat.dims; j++) {
      exact[k * stat.dims + j] =
        (stat.sums[k * stat.dims + j] as number) / (stat.counts[k] as number);
    }
  }
  const w0 = defaultCountWeight(embedding.dims);
  for (const eps of [0.2, 1, 10]) {
    const { sigma } = calibrateReleaseSigma({ epsilon: eps, delta, accountant });
    const rows: string[] = [];
    for (const w of [0.02, 0.05, 0.1, w0, 0.5, 1, 2]) {
      let sq = 0;
      let norm = 0;
      const reps = 50;
      for (let r = 0; r < reps; r++) {
        const m = releasedMeans(releaseStatistic(stat, { sigma, countWeight: w }));
        for (let i = 0; i < m.length; i++) {
          sq += ((m[i] as number) - (exact[i] as number)) ** 2;
          norm += (exact[i] as number) ** 2;
        }
      }
      rows.push(`w ${w.toFixed(3)}: ${(100 * Math.sqrt(sq / norm)).toFixed(3)} %`);
    }
    console.log(
      `ε = ${eps} (σ = ${sigma.toFixed(3)}), relative error of the means ‖m̃ − m‖/‖m‖: ${rows.join('; ')}`,
    );
  }
}

const embedding = await makeEmbedding();
console.log(
  `feature source ${source}${flag('stand-in') ? ' (stand-in)' : ''}: φ has ${embedding.dims} numbers; ${JSON.stringify(embedding.description)}`,
);

// Private phase: φ of every training image, summed per class.
let t0 = now();
const stat = await classStatistic(embedding, train, { classes });
const featureSeconds = now() - t0;
console.log(
  `features + class sums of ${n} images: ${featureSeconds.toFixed(1)} s (load ${load()})`,
);

if (arg('part', '') === 'weights') {
  await weightsPart(embedding, stat);
  process.exit(0);
}

const epsilons = arg('eps', '1,10').split(',').map(Number);
const steps = Number(arg('steps', '1000'));
const syntheticCount = Number(arg('synthetic', '10000'));
const classifiers = arg('classifiers', 'cnn,lr').split(',') as ClassifierKind[];
for (const epsilon of epsilons) {
  t0 = now();
  const { sigma, epsilon: spent } = calibrateReleaseSigma({ epsilon, delta, accountant });
  const cw = arg('count-weight', '');
  const release = releaseStatistic(stat, {
    sigma,
    ...(cw === '' ? {} : { countWeight: Number(cw) }),
  });
  const releaseSeconds = now() - t0;
  const target = matchTarget(release);
  console.log(
    `\nε = ${epsilon} (δ = ${delta}, ${accountant}): σ = ${sigma.toFixed(4)} (ε spent ${spent.toFixed(4)}), ` +
      `w = ${release.countWeight.toFixed(3)}, Δ = ${release.sensitivity.toFixed(3)}; release ${releaseSeconds.toFixed(2)} s; ` +
      `private phase ${(featureSeconds + releaseSeconds).toFixed(1)} s; noisy counts ${Array.from(release.counts, (c) => c.toFixed(0)).join(' ')}`,
  );

  const arch = defaultGeneratorArchitecture(image, classes);
  t0 = now();
  let last = now();
  const trained = await trainGenerator(
    embedding,
    target,
    {
      arch,
      seed,
      steps,
      batchSize: Number(arg('batch', '100')),
      learningRate: Number(arg('lr', '1e-3')),
      movingAverage: Number(arg('alpha', '0.1')),
    },
    {
      onStep: (step, total, loss) => {
        if (step === 1 || step === total || now() - last > 60) {
          last = now();
          console.log(
            `  step ${step}/${total} loss ${loss.toExponential(3)} (${(now() - t0).toFixed(0)} s, load ${load()})`,
          );
        }
      },
    },
  );
  const trainSeconds = now() - t0;
  console.log(
    `generator (${arch.kind}, ${trained.steps} steps): ${trainSeconds.toFixed(0)} s, ` +
      `${((1000 * trainSeconds) / trained.steps).toFixed(0)} ms/step (load ${load()})`,
  );

  // Synthetic set: labels from p̃ (largest remainders), class-major.
  t0 = now();
  const raw = target.proportions.map((p) => p * syntheticCount);
  const per = raw.map(Math.floor);
  const order = Array.from(raw.keys()).sort(
    (a, b) => (raw[b] as number) - (per[b] as number) - ((raw[a] as number) - (per[a] as number)),
  );
  for (let i = 0; per.reduce((a, b) => a + b, 0) < syntheticCount; i++)
    per[order[i % classes] as number]! += 1;
  const xs: Uint8Array[] = [];
  const ys: number[] = [];
  for (let k = 0; k < classes; k++) {
    if ((per[k] as number) === 0) continue;
    const batch = generateImages(arch, trained.weights, {
      perClass: per[k] as number,
      seed: seed + 1000 * k,
      classes: [k],
    });
    xs.push(batch.x);
    for (let i = 0; i < batch.count; i++) ys.push(k);
  }
  const x = new Uint8Array(xs.reduce((a, b) => a + b.length, 0));
  let off = 0;
  for (const part of xs) {
    x.set(part, off);
    off += part.length;
  }
  const synthetic = { x, y: ys, count: ys.length, height: 28, width: 28 };
  const png = arg('png', '');
  if (png !== '') {
    const g = grid(generateImages(arch, trained.weights, { perClass: 10, seed: seed + 7 }), 10, 10);
    writeFileSync(
      `${png}-eps${epsilon}.png`,
      encodePng({ width: g.width, height: g.height, channels: 1, data: g.data }),
    );
  }
  console.log(`generated ${synthetic.count} images in ${(now() - t0).toFixed(1)} s`);

  t0 = now();
  const result = await evaluateInParallel({
    synthetic,
    realTest: mnist.test,
    realTrain: mnist.train,
    seeds: [0],
    classifiers,
    fidelity: flag('fidelity'),
    workers: evalWorkerCount(),
  });
  const scores = classifiers
    .map((k) => `${k.toUpperCase()} ${result[k]?.mean.toFixed(2)} %`)
    .join(', ');
  const f = result.fidelity;
  console.log(
    `ε = ${epsilon}: ${scores}` +
      (f
        ? `; Fréchet distance ${f.fld.toFixed(4)} (real vs real ${f.reference?.fld.toFixed(4)})`
        : '') +
      `; evaluation ${(now() - t0).toFixed(0)} s (load ${load()})`,
  );
  console.log(`  tensors alive ${tf.memory().numTensors}`);
}
