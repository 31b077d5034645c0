/**
 * Method `mepf` end to end on MNIST (issue #19): the private phase (φ of the
 * training images and the one Gaussian release, timed), the generator's
 * training on the release, then synthetic images (labels drawn from the
 * noisy proportions) evaluated as the app evaluates (eval/parallel.ts: CNN
 * and LR by default, one seed; Fréchet distance with `--fidelity`).
 *
 *   node --import tsx bench/mepf.ts [--source prior|random-net|rff] [--eps 1,10]
 *        [--delta 1e-5] [--accountant rdp|pld] [--steps 1000] [--eval-at 250,500] [--batch 100]
 *        [--lr 1e-3] [--alpha 0.1]
 *        [--estimator moving-average|unbiased] [--schedule constant|cosine] [--layers stage1,stage2,stage3]
 *        [--moments both|first] [--grid 4|full] [--blur 1] [--norm blocks|whole] [--train 60000]
 *        [--synthetic 10000] [--classifiers cnn,lr] [--fidelity] [--seed 0] [--filter]
 *        [--count-weight W] [--frequencies 5000] [--length-scale L[,L2…]]
 *        [--priors DIR] [--stand-in] [--png PREFIX] [--cache FILE]
 *        [--guide E] (with --filter: candidates kept by a private linear classifier on the
 *        prior's features, trained at ε = E, randp phase 2; ε of both composed and printed)
 *        [--relabel 3,6] (with --guide: also evaluated with candidates labelled by the guide)
 *        (--source prior+rff: combinedEmbedding of both)
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
import { parameterSpecs } from '../src-main/engine/architecture';
import { SeededRng } from '../src-main/engine/rng';
import { selectBackend } from '../src-main/engine/backend';
import { generateImages, grid } from '../src-main/engine/generate';
import { encodePng } from '../src-main/data/png';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { evalWorkerCount, evaluateInParallel } from '../src-main/eval/parallel';
import type { ClassifierKind } from '../src-main/eval';
import {
  combinedEmbedding,
  networkEmbedding,
  priorEmbedding,
  randomInitNetwork,
  rffEmbedding,
  type Embedding,
  type FeatureSource,
} from '../src-main/methods/mepf/embedding';
import {
  defaultGeneratorArchitecture,
  GeneratorTrainer,
  generatorPixels,
  matchTarget,
  releaseMargins,
  type GeneratorEstimator,
  type LearningRateSchedule,
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
import { defaultReadout, extractFeatures } from '../src-main/priors/features';
import { phase2FeatureMap, trainPhase2 } from '../src-main/methods/randp/phase2';
import { applyFeatureMap } from '../src-main/priors/feature-map';
import { linearLogits, type LinearModel } from '../src-main/methods/randp/dp-linear';
import { composedEpsilon } from '../src-main/privacy/compose-specs';
import { releaseMechanism } from '../src-main/methods/mepf/release';
import { mnistFeatures } from './lib/randp-features';

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

const source = arg('source', 'prior') as FeatureSource | 'prior+rff';
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
  // Several length scales (comma-separated): one rff embedding per scale,
  // combined (a sum of Gaussian kernels).
  const scales =
    arg('length-scale', '') === '' ? [] : arg('length-scale', '').split(',').map(Number);
  const rffAt = (ls: number | undefined, i: number): Embedding =>
    rffEmbedding(image, {
      frequencies: Number(arg('frequencies', '5000')),
      ...(ls === undefined ? {} : { lengthScale: ls }),
      seed: seed + i,
    });
  const rff = (): Embedding =>
    scales.length > 1
      ? combinedEmbedding(scales.map((ls, i) => rffAt(ls, i)))
      : rffAt(scales[0], 0);
  if (source === 'rff') return rff();
  if (source === 'prior+rff') {
    const prior = loadPrior(undefined, arg('priors', priorsFolder()));
    return combinedEmbedding([priorEmbedding(prior, image, networkOptions), rff()]);
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

// Private phase: φ of every training image, summed per class. `--cache FILE`
// keeps the exact statistic of public MNIST between bench runs (a bench
// convenience only: the app never writes it).
let t0 = now();
const cache = arg('cache', '');
let stat: ClassStatistic;
if (cache !== '' && existsSync(cache)) {
  const saved = JSON.parse(readFileSync(cache, 'utf8')) as {
    description: string;
    n: number;
    sums: number[];
    counts: number[];
  };
  if (saved.description !== JSON.stringify(embedding.description) || saved.n !== n) {
    throw new Error(`${cache} holds the statistic of another embedding; delete it.`);
  }
  stat = {
    classes,
    dims: embedding.dims,
    sums: Float64Array.from(saved.sums),
    counts: Float64Array.from(saved.counts),
  };
} else {
  stat = await classStatistic(embedding, train, { classes });
  if (cache !== '') {
    writeFileSync(
      cache,
      JSON.stringify({
        description: JSON.stringify(embedding.description),
        n,
        sums: Array.from(stat.sums),
        counts: Array.from(stat.counts),
      }),
    );
  }
}
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
// `--relabel P,P2`: after each plain evaluation, again with the guide's labels on P× candidates.
const relabelPools = arg('relabel', '') === '' ? [] : arg('relabel', '').split(',').map(Number);
let relabelPool = 0;
// `--guide E`: a private linear classifier (randp phase 2 at ε = E) on the prior's features.
const guideEps = arg('guide', '') === '' ? null : Number(arg('guide', ''));
let guide: {
  model: LinearModel;
  map: Awaited<ReturnType<typeof phase2FeatureMap>>;
  net: ReturnType<typeof loadPrior>['net'];
  readout: ReturnType<typeof defaultReadout>;
  spec: { mechanism: 'dpsgd'; sampleRate: number; sigma: number; steps: number };
} | null = null;
if (guideEps !== null) {
  t0 = now();
  const f = await mnistFeatures();
  const readout = defaultReadout(f.prior.net);
  const map = await phase2FeatureMap(f.prior.net, readout);
  const x = await applyFeatureMap(map, f.train.features.subarray(0, n * f.train.dims), n);
  const r = await trainPhase2(
    { features: x, labels: f.train.labels.subarray(0, n), count: n, dims: f.train.dims },
    { epsilon: guideEps, delta, classes },
  );
  const testX = await applyFeatureMap(map, f.test.features, f.test.count);
  const logits = linearLogits(r.averaged!, testX, f.test.count);
  let right = 0;
  for (let i = 0; i < f.test.count; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++)
      if ((logits[i * classes + k] as number) > (logits[i * classes + best] as number)) best = k;
    if (best === f.test.labels[i]) right++;
  }
  guide = {
    model: r.averaged!,
    map,
    net: f.prior.net,
    readout,
    spec: {
      mechanism: 'dpsgd',
      sampleRate: r.schedule.sampleRate,
      sigma: r.schedule.sigma,
      steps: r.schedule.steps,
    },
  };
  console.log(
    `guide: private linear classifier at ε = ${guideEps} (σ ${r.schedule.sigma.toFixed(3)}, q ${r.schedule.sampleRate}, T ${r.schedule.steps}): ` +
      `${((100 * right) / f.test.count).toFixed(2)} % on the real test set; ${(now() - t0).toFixed(0)} s`,
  );
}

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

  if (guide)
    console.log(
      `release + guide composed: ε = ${composedEpsilon({ specs: [releaseMechanism(sigma), guide.spec], delta }).epsilon.toFixed(3)}`,
    );
  const arch = defaultGeneratorArchitecture(image, classes);
  const evalAt = (arg('eval-at', '') === '' ? [steps] : arg('eval-at', '').split(',').map(Number))
    .filter((s) => s > 0 && s <= steps)
    .sort((a, b) => a - b);
  if (evalAt[evalAt.length - 1] !== steps) evalAt.push(steps);
  const trainer = new GeneratorTrainer(embedding, target, {
    arch,
    seed,
    steps,
    ...(arg('batch', '') === '' ? {} : { batchSize: Number(arg('batch', '')) }),
    ...(arg('lr', '') === '' ? {} : { learningRate: Number(arg('lr', '')) }),
    ...(arg('alpha', '') === '' ? {} : { movingAverage: Number(arg('alpha', '')) }),
    ...(arg('estimator', '') === ''
      ? {}
      : { estimator: arg('estimator', '') as GeneratorEstimator }),
    ...(arg('schedule', '') === ''
      ? {}
      : { schedule: arg('schedule', '') as LearningRateSchedule }),
  });
  console.log(`generator options ${JSON.stringify({ ...trainer.options, arch: arch.kind })}`);
  let trainSeconds = 0;
  for (const stop of evalAt) {
    t0 = now();
    let last = now();
    let loss = NaN;
    while (trainer.step < stop) {
      loss = trainer.trainStep();
      if (trainer.step === 1 || now() - last > 60) {
        last = now();
        console.log(
          `  step ${trainer.step}/${steps} loss ${loss.toExponential(3)} (${(trainSeconds + now() - t0).toFixed(0)} s, load ${load()})`,
        );
      }
    }
    trainSeconds += now() - t0;
    console.log(
      `generator (${arch.kind}, ${trainer.step} steps): ${trainSeconds.toFixed(0)} s, ` +
        `${((1000 * trainSeconds) / trainer.step).toFixed(0)} ms/step, loss ${loss.toExponential(3)} (load ${load()})`,
    );
    await evaluate(trainer.decoderWeights(), trainer.step);
    for (const p of relabelPools) {
      relabelPool = p;
      await evaluate(trainer.decoderWeights(), trainer.step);
    }
    relabelPool = 0;
  }
  trainer.dispose();

  /**
   * `count` images of class k through generatorPixels (the trainer's fast
   * transposed convolutions; the app's generateImages goes through tfjs's
   * and took 47 s for 10 000 images): the same decoder, own draws of z.
   */
  function fastImages(weights: Float32Array[], k: number, count: number, s: number): Uint8Array {
    const specs = parameterSpecs(arch, 'decoder');
    const params = weights.map((a, i) => tf.tensor(a, [1, ...(specs[i]?.shape ?? [])]));
    const z = new Float32Array(count * arch.latent);
    SeededRng.fromSeed(s, 0x67656e).fillNormal(z);
    const out = new Uint8Array(count * 784);
    for (let at = 0; at < count; at += 500) {
      const m = Math.min(500, count - at);
      const pix = tf.tidy(() =>
        tf.round(
          tf.mul(
            generatorPixels(
              arch,
              params,
              tf.tensor2d(z.subarray(at * arch.latent, (at + m) * arch.latent), [m, arch.latent]),
              tf.oneHot(tf.fill([m], k, 'int32') as tf.Tensor1D, classes).toFloat() as tf.Tensor2D,
            ),
            255,
          ),
        ),
      );
      out.set(pix.dataSync() as Float32Array, at * 784);
      pix.dispose();
    }
    for (const p of params) p.dispose();
    return out;
  }

  /**
   * `--filter`: 3·count candidates of class k, kept in order of the margin of
   * the released means' kernel classifier (score_j(x) = φ(x)·m̃_j, k's score
   * minus the best other): images that the release itself places in another
   * class go last. Post-processing of the release only.
   */
  async function filtered(
    weights: Float32Array[],
    k: number,
    count: number,
    s: number,
  ): Promise<Uint8Array> {
    const pool = 3 * count;
    const cand = fastImages(weights, k, pool, s);
    const margins = new Float32Array(pool);
    for (let at = 0; at < pool; at += 500) {
      const m = Math.min(500, pool - at);
      const x = tf.tidy(() =>
        tf.div(
          tf.tensor4d(Float32Array.from(cand.subarray(at * 784, (at + m) * 784)), [m, 28, 28, 1]),
          255,
        ),
      ) as tf.Tensor4D;
      if (!guide) margins.set(releaseMargins(embedding, target, x, new Int32Array(m).fill(k)), at);
      x.dispose();
    }
    if (guide) {
      const f = await extractFeatures(
        guide.net,
        { x: cand, count: pool, height: 28, width: 28, channels: 1 },
        { readout: guide.readout },
      );
      const logits = linearLogits(
        guide.model,
        await applyFeatureMap(guide.map, f.features, pool),
        pool,
      );
      for (let i = 0; i < pool; i++) {
        let other = -Infinity;
        for (let j = 0; j < classes; j++)
          if (j !== k) other = Math.max(other, logits[i * classes + j] as number);
        margins[i] = (logits[i * classes + k] as number) - other;
      }
    }
    const order = Array.from(margins.keys()).sort(
      (a, b) => (margins[b] as number) - (margins[a] as number),
    );
    const wrong = margins.reduce((n, v) => n + (v < 0 ? 1 : 0), 0);
    console.log(
      `  class ${k}: ${wrong} of ${pool} candidates placed in another class by the release`,
    );
    const out = new Uint8Array(count * 784);
    order
      .slice(0, count)
      .forEach((i, j) => out.set(cand.subarray(i * 784, (i + 1) * 784), j * 784));
    return out;
  }

  /**
   * `--relabel P` (with `--guide`): P·count candidates of each class, each
   * labelled by the guide classifier's argmax; each class's `per[k]` images
   * are the candidates it labels k, firmest first (fewer when it labels
   * fewer).
   */
  async function relabelled(
    weights: Float32Array[],
    per: ArrayLike<number>,
    pool: number,
    xs: Uint8Array[],
    ys: number[],
  ): Promise<void> {
    const g = guide!;
    const cands: Uint8Array[] = [];
    const labels: number[] = [];
    const margins: number[] = [];
    for (let k = 0; k < classes; k++) {
      const m = pool * (per[k] as number);
      if (m === 0) continue;
      const cand = fastImages(weights, k, m, seed + 1000 * k);
      const f = await extractFeatures(
        g.net,
        { x: cand, count: m, height: 28, width: 28, channels: 1 },
        { readout: g.readout },
      );
      const logits = linearLogits(g.model, await applyFeatureMap(g.map, f.features, m), m);
      for (let i = 0; i < m; i++) {
        let best = 0;
        for (let j = 1; j < classes; j++)
          if ((logits[i * classes + j] as number) > (logits[i * classes + best] as number))
            best = j;
        let other = -Infinity;
        for (let j = 0; j < classes; j++)
          if (j !== best) other = Math.max(other, logits[i * classes + j] as number);
        cands.push(cand.subarray(i * 784, (i + 1) * 784));
        labels.push(best);
        margins.push((logits[i * classes + best] as number) - other);
      }
    }
    const kept: number[] = [];
    for (let k = 0; k < classes; k++) {
      const mine = labels.flatMap((l, i) => (l === k ? [i] : []));
      mine.sort((a, b) => (margins[b] as number) - (margins[a] as number));
      const take = mine.slice(0, per[k] as number);
      kept.push(take.length);
      for (const i of take) {
        xs.push(cands[i] as Uint8Array);
        ys.push(k);
      }
    }
    console.log(`  relabelled from ${pool}× candidates: kept per class ${kept.join(' ')}`);
  }

  async function evaluate(weights: Float32Array[], atStep: number): Promise<void> {
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
    if (relabelPool > 0 && guide) {
      await relabelled(weights, per, relabelPool, xs, ys);
    } else
      for (let k = 0; k < classes; k++) {
        if ((per[k] as number) === 0) continue;
        const count = per[k] as number;
        xs.push(
          flag('filter')
            ? await filtered(weights, k, count, seed + 1000 * k)
            : fastImages(weights, k, count, seed + 1000 * k),
        );
        for (let i = 0; i < count; i++) ys.push(k);
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
      const g = grid(generateImages(arch, weights, { perClass: 10, seed: seed + 7 }), 10, 10);
      writeFileSync(
        `${png}-eps${epsilon}-step${atStep}.png`,
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
      `ε = ${epsilon}, step ${atStep}: ${scores}` +
        (f
          ? `; Fréchet distance ${f.fld.toFixed(4)} (real vs real ${f.reference?.fld.toFixed(4)})`
          : '') +
        `; evaluation ${(now() - t0).toFixed(0)} s (load ${load()})`,
    );
    console.log(`  tensors alive ${tf.memory().numTensors}`);
  }
}
