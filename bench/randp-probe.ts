/**
 * DP-RandP phase 2 (issue #21): the DP-SGD linear probe on the frozen
 * features of the random-process prior (src-main/methods/randp). Prints the
 * MNIST test accuracy at each ε (δ = 1e-5), σ from the accountant for the
 * chosen (q, T), the time of feature extraction (cached in /tmp after the
 * first run) and of training, the load average, and the non-private probe
 * for reference; then the same on a two-class subset (~4 000 training images
 * of two digits) against the majority class.
 *
 *   DP2_FEATURE_WORKERS=1 node --import tsx bench/randp-probe.ts
 *     [--eps 0.5,1,3,8] [--lr 0.3,0.3,0.5,1] [--epochs 20,20,20,40] (per ε) [--power 0.5] [--groups 1|0] [--norm white|white+row|public|public+row|row|none] [--shrink 0.1] [--rownorm 1]
 *     [--batch 3000] [--clip 1] [--opt sgd|adam]
 *     [--momentum 0.9] [--ema 0.99] [--accountant rdp|pld] [--repeat 1]
 *     [--pair 3,5] [--pair-n 4000] [--pair-eps 1] [--pair-batch 2000]
 *     [--pair-epochs 40] [--pair-lr 0.3] [--cache /tmp/dp2-randp-cache] [--reference 1] [--only mnist|pair]
 *
 * Prints figures only; never fails on a time or an accuracy.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { selectBackend } from '../src-main/engine/backend';
import { linearProbe } from '../src-main/eval/linear-probe';
import {
  linearAccuracy,
  trainDpLinear,
  type LabelledFeatures,
} from '../src-main/methods/randp/dp-linear';
import {
  normaliseFeatures,
  whitenFeatures,
  type NormaliseOptions,
} from '../src-main/methods/randp/normalise';
import { probeEpsilon, probeSigma } from '../src-main/methods/randp/privacy';
import { benchArgs } from './lib/args';
import { mnistFeatures, type CachedSet } from './lib/randp-features';

const { arg, num } = benchArgs();
const DELTA = 1e-5;
const epsilons = arg('eps', '0.5,1,3,8').split(',').map(Number);
const norm = arg('norm', 'white');
const shrink = num('shrink', 0.1);
const rowNorm = num('rownorm', 1);
const power = num('power', 0.5);
const groups = num('groups', 1) === 1;
const batch = num('batch', 3000);
/** Comma lists, one value per ε (the last repeats): the measured settings differ by ε. */
const perEps = (name: string, fallback: string): number[] =>
  arg(name, fallback).split(',').map(Number);
const epochsList = perEps('epochs', '20,20,20,40');
const clip = num('clip', 1);
const lrList = perEps('lr', '0.3,0.3,0.5,1');
const opt = arg('opt', 'sgd') as 'sgd' | 'adam';
const momentum = num('momentum', 0.9);
const ema = num('ema', 0.99);
const accountant = arg('accountant', 'rdp') as 'rdp' | 'pld';
const repeat = num('repeat', 1);
const pair = arg('pair', '3,5').split(',').map(Number) as [number, number];
const pairN = num('pair-n', 4000);
const pairEps = arg('pair-eps', '1').split(',').map(Number);
const pairBatch = num('pair-batch', 2000);
const pairEpochs = perEps('pair-epochs', '40');
const pairLr = perEps('pair-lr', '0.3');
const reference = num('reference', 1) === 1;
const only = arg('only', '');
const load = (): string => loadavg()[0]!.toFixed(2);

const backend = await selectBackend({ prefer: 'wasm' });
console.log(`backend ${backend.name}; load average at start ${load()}`);
let t = performance.now();
const f = await mnistFeatures(arg('cache', '/tmp/dp2-randp-cache'), { grid: num('grid', 3) });
const fmt = (s: number): string => (s === 0 ? 'cached' : `${s.toFixed(1)} s`);
console.log(
  `features (${f.train.dims} per image): train 60 000 ${fmt(f.seconds.train)}, test 10 000 ${fmt(f.seconds.test)}; ready in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

const perRecord = { power: power === 1 ? undefined : power, groups: groups ? f.groups : undefined };
const scaling = norm.includes('public') ? await f.scalingFor(perRecord) : undefined;
if (scaling) console.log(`public scaling: ${scaling.source}; ${fmt(f.seconds.scaling)}`);
const whitening = norm.includes('white') ? await f.whiteningFor(perRecord, shrink) : undefined;
if (whitening) {
  console.log(`public whitening: ${whitening.source}; ${fmt(f.seconds.whitening)}, load ${load()}`);
}
const normOptions: NormaliseOptions = { ...perRecord, scaling };
const prepare = async (s: CachedSet): Promise<LabelledFeatures> => {
  let x = normaliseFeatures(s.features, s.count, s.dims, normOptions);
  if (whitening) x = await whitenFeatures(x, s.count, whitening);
  if (norm.includes('row')) x = normaliseFeatures(x, s.count, s.dims, { rowNorm });
  return { features: x, labels: s.labels, count: s.count, dims: s.dims };
};
console.log(
  `normalisation: power ${power}, per-stage standardisation ${groups ? 'on' : 'off'}, ${norm}${norm.includes('white') ? ` (shrinkage ${shrink})` : ''}${norm.includes('row') ? ` (row norm ${rowNorm})` : ''}; optimizer ${opt}` +
    `${opt === 'sgd' ? ` (momentum ${momentum})` : ''}, cosine step size, EMA ${ema}`,
);

async function privateRows(
  name: string,
  train: LabelledFeatures,
  test: LabelledFeatures,
  eps: number[],
  expectedBatch: number,
  passesList: number[],
  lrs: number[],
  classes: number,
): Promise<void> {
  const q = Math.min(1, expectedBatch / train.count);
  for (const [k, e] of eps.entries()) {
    const passes = passesList[Math.min(k, passesList.length - 1)] as number;
    const lr = lrs[Math.min(k, lrs.length - 1)] as number;
    const steps = Math.max(1, Math.round(passes / q));
    const { sigma } = probeSigma(
      { sampleRate: q, steps, accountant },
      { epsilon: e, delta: DELTA },
    );
    const spent = probeEpsilon({ sampleRate: q, steps, sigma, accountant }, DELTA);
    for (let r = 0; r < repeat; r++) {
      t = performance.now();
      const res = await trainDpLinear(train, {
        classes,
        sigma,
        sampleRate: q,
        steps,
        clip,
        lr,
        optimizer: opt,
        momentum,
        emaDecay: ema,
      });
      const s = (performance.now() - t) / 1000;
      const last = linearAccuracy(res.model, test);
      const avg = res.averaged ? linearAccuracy(res.averaged, test) : last;
      console.log(
        `${name.padEnd(10)} ε ${e} (accountant ${spent.toFixed(3)}, ${accountant}) σ ${sigma.toFixed(3)} q ${q.toPrecision(3)} ` +
          `T ${steps} epochs ${passes} C ${clip} lr ${lr}: accuracy ${avg.toFixed(2)} % (EMA), ${last.toFixed(2)} % (last); ` +
          `${s.toFixed(1)} s, load ${load()}`,
      );
    }
  }
}

if (only !== 'pair') {
  t = performance.now();
  const train = await prepare(f.train);
  const test = await prepare(f.test);
  console.log(
    `normalising 70 000 feature vectors: ${((performance.now() - t) / 1000).toFixed(1)} s, load ${load()}`,
  );
  if (reference) {
    t = performance.now();
    const acc = await linearProbe(f.train, f.test, { epochs: 20 });
    console.log(
      `MNIST non-private probe (eval/linear-probe, standardised, Adam, 20 epochs): ${acc.toFixed(2)} % in ${((performance.now() - t) / 1000).toFixed(1)} s, load ${load()}`,
    );
  }
  await privateRows('MNIST', train, test, epsilons, batch, epochsList, lrList, 10);
}

if (only !== 'mnist') {
  // Two digits of the training set (the first `pairN` of them), tested on the same digits of the test set.
  const pick = (s: CachedSet, limit: number): CachedSet => {
    const keep: number[] = [];
    for (let i = 0; i < s.count && keep.length < limit; i++) {
      if (s.labels[i] === pair[0] || s.labels[i] === pair[1]) keep.push(i);
    }
    const features = new Float32Array(keep.length * s.dims);
    keep.forEach((i, j) =>
      features.set(s.features.subarray(i * s.dims, (i + 1) * s.dims), j * s.dims),
    );
    const labels = Uint8Array.from(keep, (i) => (s.labels[i] === pair[0] ? 0 : 1));
    return { features, labels, count: keep.length, dims: s.dims };
  };
  const a = pick(f.train, pairN);
  const b = pick(f.test, Infinity);
  const ones = b.labels.reduce((s, v) => s + v, 0);
  const majority = (100 * Math.max(ones, b.count - ones)) / b.count;
  console.log(
    `two-class set: digits ${pair[0]} vs ${pair[1]}, ${a.count} training images, ${b.count} test images; majority class ${majority.toFixed(2)} %`,
  );
  if (reference) {
    const acc = await linearProbe(a, b, { epochs: 20 });
    console.log(`pair non-private probe: ${acc.toFixed(2)} %`);
  }
  await privateRows(
    `${pair[0]} vs ${pair[1]}`,
    await prepare(a),
    await prepare(b),
    pairEps,
    pairBatch,
    pairEpochs,
    pairLr,
    2,
  );
}
