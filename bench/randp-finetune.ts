/**
 * DP-RandP phase 3 (issue #21): after the phase-2 probe, the whole
 * classifier — the prior's convolutions and the linear model — trained with
 * DP-SGD on the images (methods/randp/finetune-clip.ts), both phases
 * composed in one RDP account at the target ε. Prints, per ε: the split (σ
 * of each phase, ε of phase 2 alone, the composed ε), the test accuracy
 * after phase 2 and after phase 3, the time per image of a phase-3 step;
 * with `--init random` the ablation: the same network from random
 * initialisation, DP-SGD on all of ε (no prior, no probe).
 *
 *   node --import tsx bench/randp-finetune.ts [--eps 1,8] [--share 0.6]
 *     [--p3-batch 1000] [--p3-epochs 1] [--p3-lr 0.02] [--p3-opt sgd|adam] [--p3-clip 1]
 *     [--head 1|0] [--from 0 (first trained convolution)] [--micro 128] [--train N] [--init prior|random] [--speed 0|1]
 *
 * Prints figures only; never fails on a time or an accuracy.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../src-main/data/mnist';
import { selectBackend } from '../src-main/engine/backend';
import { SecureGaussian, securePoissonSample } from '../src-main/engine/secure-noise';
import {
  networkClippedSum,
  networkForward,
  paramList,
  type NetworkParams,
  type NetworkReadout,
} from '../src-main/methods/randp/finetune-clip';
import { linearAccuracy, trainDpLinear } from '../src-main/methods/randp/dp-linear';
import { normaliseFeatures, whitenFeatures } from '../src-main/methods/randp/normalise';
import { foldWhitening, measuredSettings, phase2Schedule } from '../src-main/methods/randp/phase2';
import { calibrateComposedSigma } from '../src-main/privacy/compose-specs';
import { defaultReadout } from '../src-main/priors/features';
import { generateFamily } from '../src-main/priors/families';
import { createTrainableNet, foldBatchNorm } from '../src-main/priors/network/feature-net';
import { benchArgs } from './lib/args';
import { mnistFeatures } from './lib/randp-features';

const { arg, num } = benchArgs();
const DELTA = 1e-5;
const epsilons = arg('eps', '1,8').split(',').map(Number);
const share = num('share', 0.6);
const p3Batch = num('p3-batch', 1000);
const p3Epochs = num('p3-epochs', 1);
const p3Lr = num('p3-lr', 0.02);
const p3Opt = arg('p3-opt', 'sgd');
const p3Clip = num('p3-clip', 1);
const head = num('head', 1) === 1;
const from = num('from', 0);
const micro = num('micro', 128);
const init = arg('init', 'prior');
const speedOnly = num('speed', 0) === 1;

/** The smallest σ₃ whose phase 3 composed with phase 2 stays within ε (src-main/privacy). */
function phase3Sigma(
  phase2: { sampleRate: number; sigma: number; steps: number } | null,
  phase3: { sampleRate: number; steps: number },
  epsilon: number,
): { sigma: number; epsilon: number } {
  return calibrateComposedSigma({
    spent: phase2 ? [{ mechanism: 'dpsgd', ...phase2 }] : [],
    spec: { mechanism: 'dpsgd', ...phase3 },
    epsilon,
    delta: DELTA,
  });
}

function accuracy(
  p: NetworkParams,
  how: NetworkReadout,
  images: { x: Uint8Array; y: ArrayLike<number>; count: number },
): number {
  let right = 0;
  for (let s = 0; s < images.count; s += 500) {
    const n = Math.min(500, images.count - s);
    const pred = tf.tidy(() => {
      const x = tf.div(
        tf.tensor4d(Float32Array.from(images.x.subarray(s * 784, (s + n) * 784)), [n, 28, 28, 1]),
        255,
      ) as tf.Tensor4D;
      return tf.argMax(networkForward(p, how, x).logits, 1);
    });
    const v = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < n; i++) if (v[i] === images.y[s + i]) right++;
  }
  return (100 * right) / images.count;
}

async function main(): Promise<void> {
  const backend = await selectBackend({ prefer: 'wasm', env: process.env });
  const mnist = loadBundledMnist();
  const limit = Math.min(num('train', mnist.train.count), mnist.train.count);
  const train = { x: mnist.train.x.subarray(0, limit * 784), y: mnist.train.y, count: limit };
  const f = await mnistFeatures();
  const readout = defaultReadout(f.prior.net);
  const perRecord = { power: 0.5, groups: f.groups };
  const how: NetworkReadout = { readout, perRecord };
  const whitening = await f.whiteningFor(perRecord, 0.1);
  const prepare = (set: typeof f.train, count: number) =>
    whitenFeatures(
      normaliseFeatures(set.features.subarray(0, count * set.dims), count, set.dims, perRecord),
      count,
      whitening,
    );
  const trainX = await prepare(f.train, limit);
  const testX = await prepare(f.test, f.test.count);
  console.log(
    `backend ${backend.name}; ${limit} training images, ${f.test.count} test; phase 3: expected batch ${p3Batch}, ${p3Epochs} epoch(s), lr ${p3Lr} (${p3Opt}), C ${p3Clip}, head ${head ? 'trained' : 'fixed'}, convolutions from ${from}, init ${init}; load ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );

  for (const epsilon of epsilons) {
    // Phase 2 (or nothing, for the random-initialisation ablation).
    let start: NetworkParams;
    let phase2: { sampleRate: number; sigma: number; steps: number } | null = null;
    if (init === 'prior') {
      const measured = measuredSettings(epsilon);
      const s = phase2Schedule({
        count: limit,
        epsilon: share * epsilon,
        delta: DELTA,
        epochs: measured.epochs,
      });
      phase2 = { sampleRate: s.sampleRate, sigma: s.sigma, steps: s.steps };
      const t0 = performance.now();
      const r = await trainDpLinear(
        { features: trainX, labels: f.train.labels, count: limit, dims: f.train.dims },
        {
          classes: 10,
          sigma: s.sigma,
          sampleRate: s.sampleRate,
          steps: s.steps,
          clip: 1,
          lr: measured.lr,
          momentum: 0.9,
          emaDecay: 0.99,
        },
      );
      const probe = r.averaged ?? r.model;
      const acc2 = linearAccuracy(probe, {
        features: testX,
        labels: f.test.labels,
        count: f.test.count,
        dims: f.test.dims,
      });
      console.log(
        `ε ${epsilon}: phase 2 at ε₂ = ${s.epsilon.toFixed(3)} (σ ${s.sigma.toFixed(3)}, q ${s.sampleRate.toFixed(4)}, T ${s.steps}): test ${acc2.toFixed(2)} % (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
      const folded = foldWhitening(probe, whitening);
      start = {
        spec: f.prior.net.spec,
        kernels: f.prior.net.kernels.map((k, i) =>
          i === 0 ? (tf.sum(k, 2, true) as tf.Tensor4D) : tf.clone(k),
        ),
        biases: f.prior.net.biases.map((b) => tf.clone(b)),
        head: tf.tensor2d(folded.weights, [folded.dims + 1, folded.classes]),
        biasFeature: folded.biasFeature,
      };
    } else {
      const trainable = createTrainableNet(f.prior.net.spec, 1);
      const public_ = generateFamily({
        family: 'spectral',
        seed: 3,
        count: 256,
        size: 28,
        channels: 3,
      });
      const calib = tf.div(
        tf.tensor4d(Float32Array.from(public_.x), [256, 28, 28, 3]),
        255,
      ) as tf.Tensor4D;
      const net = foldBatchNorm(trainable, calib);
      tf.dispose([calib, ...trainable.params]);
      start = {
        spec: net.spec,
        kernels: net.kernels.map((k, i) => (i === 0 ? (tf.sum(k, 2, true) as tf.Tensor4D) : k)),
        biases: net.biases,
        head: tf.zeros([f.train.dims + 1, 10]),
        biasFeature: 1,
      };
    }
    if (init === 'prior') {
      console.log(
        `  the same classifier through the network's forward pass: test ${accuracy(start, how, mnist.test).toFixed(2)} %`,
      );
    }

    // Phase 3.
    const q = Math.min(1, p3Batch / limit);
    const steps = Math.max(1, Math.round(p3Epochs / q));
    const { sigma, epsilon: total } = phase3Sigma(phase2, { sampleRate: q, steps }, epsilon);
    console.log(
      `  phase 3: q ${q.toFixed(4)}, T ${steps}, σ₃ ${sigma.toFixed(3)}; both phases composed: ε ${total.toFixed(4)} (RDP)`,
    );
    const gauss = new SecureGaussian();
    let params = start;
    const velocity = paramList(params).map((t) => tf.zerosLike(t));
    const adamM = paramList(params).map((t) => tf.zerosLike(t));
    const adamV = paramList(params).map((t) => tf.zerosLike(t));
    let imagesSeen = 0;
    let clipped = 0;
    let computeMs = 0;
    const t0 = performance.now();
    for (let step = 0; step < steps; step++) {
      const picked = securePoissonSample(limit, q);
      const tc = performance.now();
      let sums = paramList(params).map((t) => tf.zerosLike(t));
      for (let s = 0; s < picked.length; s += micro) {
        const rows = picked.subarray(s, s + micro);
        const n = rows.length;
        const xb = new Float32Array(n * 784);
        const yb = new Int32Array(n);
        rows.forEach((r, i) => {
          for (let j = 0; j < 784; j++) xb[i * 784 + j] = (train.x[r * 784 + j] as number) / 255;
          yb[i] = train.y[r] as number;
        });
        const x = tf.tensor4d(xb, [n, 28, 28, 1]);
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(yb, 'int32'), 10).toFloat() as tf.Tensor2D);
        const r = networkClippedSum(params, how, { x, y }, p3Clip, { head, from });
        tf.dispose([x, y]);
        clipped += [...r.norms].filter((v) => v > p3Clip).length;
        const next = sums.map((t, j) => tf.add(t, r.grads[j] as tf.Tensor));
        tf.dispose([...sums, ...r.grads]);
        sums = next;
      }
      computeMs += performance.now() - tc;
      imagesSeen += picked.length;
      if (speedOnly && step === 2) break;
      const lr = 0.5 * p3Lr * (1 + Math.cos((Math.PI * step) / steps));
      const list = paramList(params);
      const updated = list.map((t, j) => {
        // Held parameters are not released through this step: no noise, no change.
        const n = params.kernels.length;
        const held = j === 2 * n ? !head : (j < n ? j : j - n) < from;
        if (held) return tf.clone(t);
        const noise = gauss.fill(new Float32Array(t.size), sigma * p3Clip);
        return tf.tidy(() => {
          const g = tf.div(tf.add(sums[j] as tf.Tensor, tf.tensor(noise, t.shape)), q * limit);
          if (p3Opt === 'adam') {
            const m = tf.add(tf.mul(adamM[j] as tf.Tensor, 0.9), tf.mul(g, 0.1));
            const v = tf.add(tf.mul(adamV[j] as tf.Tensor, 0.999), tf.mul(tf.square(g), 0.001));
            tf.dispose([adamM[j] as tf.Tensor, adamV[j] as tf.Tensor]);
            adamM[j] = tf.keep(m);
            adamV[j] = tf.keep(v);
            const mh = tf.div(m, 1 - 0.9 ** (step + 1));
            const vh = tf.div(v, 1 - 0.999 ** (step + 1));
            return tf.sub(t, tf.mul(lr, tf.div(mh, tf.add(tf.sqrt(vh), 1e-8))));
          }
          const vel = tf.add(tf.mul(velocity[j] as tf.Tensor, 0.9), g);
          (velocity[j] as tf.Tensor).dispose();
          velocity[j] = tf.keep(vel);
          return tf.sub(t, tf.mul(lr, vel));
        });
      });
      tf.dispose(sums);
      tf.dispose(list);
      const n = params.kernels.length;
      params = {
        ...params,
        kernels: updated.slice(0, n) as tf.Tensor4D[],
        biases: updated.slice(n, 2 * n) as tf.Tensor1D[],
        head: updated[2 * n] as tf.Tensor2D,
      };
      if ((step + 1) % Math.max(1, Math.round(steps / 5)) === 0 || step === steps - 1) {
        console.log(
          `  step ${step + 1}/${steps}: test ${accuracy(params, how, mnist.test).toFixed(2)} %, ${(computeMs / imagesSeen).toFixed(2)} ms per image, ${((100 * clipped) / imagesSeen).toFixed(0)} % clipped, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
        );
      }
    }
    if (speedOnly) {
      console.log(
        `  speed: ${(computeMs / imagesSeen).toFixed(2)} ms per image (${imagesSeen} images), ${((100 * clipped) / imagesSeen).toFixed(0)} % clipped`,
      );
    }
    tf.dispose([...paramList(params), ...velocity, ...adamM, ...adamV]);
  }
}

void main();
