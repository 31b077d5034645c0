/**
 * The membership audit's score from a released decoder (decoder-audit.ts):
 * exact on a decoder whose output ignores z, far from guessing (AUC ≈ 1) on
 * a decoder that memorised its training records, independent of which other
 * records are scored, and refused on mismatched records.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { selectBackend } from '../../../src-main/engine/backend';
import {
  defaultArchitecture,
  imageSize,
  parameterSpecs,
} from '../../../src-main/engine/architecture';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  auditDecoder,
  decoderLikelihoodScorer,
  sampleRecords,
  type ReleasedDecoder,
} from '../../../src-main/eval/decoder-audit';
import type { EvalImages } from '../../../src-main/eval/images';

before(async () => {
  await selectBackend();
});

const arch = defaultArchitecture(10);
const D = imageSize(arch);

/** The first `perClass` images of each class of `set`. */
function perClassHead(set: EvalImages, perClass: number, skip = 0): EvalImages {
  const seen = new Array<number>(10).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < set.count && keep.length < 10 * perClass; i++) {
    const c = set.y[i] as number;
    seen[c] = (seen[c] ?? 0) + 1;
    if ((seen[c] as number) > skip && (seen[c] as number) <= skip + perClass) keep.push(i);
  }
  const x = new Uint8Array(keep.length * D);
  keep.forEach((r, i) => x.set(set.x.subarray(r * D, (r + 1) * D), i * D));
  return { x, y: keep.map((r) => set.y[r] as number), count: keep.length, height: 28, width: 28 };
}

/**
 * A decoder whose logits are logit(template_y), whatever z: the two hidden
 * layers carry the one-hot label through unchanged, the output layer holds
 * the templates. Templates are the smoothed mean images of `records`.
 */
function templateDecoder(records: EvalImages): { decoder: ReleasedDecoder; logits: Float64Array } {
  const sums = new Float64Array(10 * D);
  const counts = new Float64Array(10);
  for (let i = 0; i < records.count; i++) {
    const c = records.y[i] as number;
    counts[c] = (counts[c] as number) + 1;
    for (let d = 0; d < D; d++)
      sums[c * D + d] = (sums[c * D + d] as number) + (records.x[i * D + d] as number) / 255;
  }
  const logits = new Float64Array(10 * D);
  for (let c = 0; c < 10; c++) {
    for (let d = 0; d < D; d++) {
      const p = Math.min(0.99, Math.max(0.01, (sums[c * D + d] as number) / (counts[c] as number)));
      logits[c * D + d] = Math.log(p / (1 - p));
    }
  }
  const specs = parameterSpecs(arch, 'decoder');
  const weights = specs.map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
  const [w0, , w1, , w2] = weights as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const h0 = arch.decoderHidden[0] as number;
  const h1 = arch.decoderHidden[1] as number;
  for (let c = 0; c < 10; c++) {
    w0[(arch.latent + c) * h0 + c] = 1; // input [z, y] → unit c
    w1[c * h1 + c] = 1;
    for (let d = 0; d < D; d++) w2[c * D + d] = logits[c * D + d] as number;
  }
  return { decoder: { arch, weights }, logits };
}

/** Σ_d x_d·l_d − softplus(l_d): the exact log p(x | y) of a z-independent decoder. */
function exactLogLikelihood(x: Uint8Array, i: number, logits: Float64Array, c: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) {
    const l = logits[c * D + d] as number;
    const softplus = Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
    s += ((x[i * D + d] as number) / 255) * l - softplus;
  }
  return s;
}

function noiseImages(n: number, seed: number): EvalImages {
  const rng = SeededRng.fromSeed(seed);
  const x = new Uint8Array(n * D);
  for (let i = 0; i < x.length; i++) x[i] = rng.nextInt(256);
  return { x, y: Array.from({ length: n }, (_, i) => i % 10), count: n, height: 28, width: 28 };
}

const shape = (set: EvalImages) => ({ count: set.count, height: 28, width: 28, channels: 1 });

test('a decoder that ignores z: the score is exactly log p(x | y)', async () => {
  const mnist = loadBundledMnist();
  const members = perClassHead(mnist.train, 5);
  const { decoder, logits } = templateDecoder(members);
  const others = perClassHead(mnist.test, 3);
  const scores = await decoderLikelihoodScorer(decoder, { samples: 1500 })(
    others.x,
    others.y,
    shape(others),
  );
  for (let i = 0; i < others.count; i++) {
    const exact = exactLogLikelihood(others.x, i, logits, others.y[i] as number);
    assert.ok(
      Math.abs((scores[i] as number) - exact) < 1e-3 * Math.abs(exact) + 1e-2,
      `record ${i}: ${scores[i]} vs ${exact}`,
    );
  }
});

test('a decoder that memorised its training records: AUC far from 0.5, and ≈ 1 against noise', async () => {
  const mnist = loadBundledMnist();
  const members = perClassHead(mnist.train, 3);
  const { decoder } = templateDecoder(members);
  const held = perClassHead(mnist.test, 3);
  const audit = await auditDecoder({
    decoder,
    train: members,
    test: held,
    epsilon: 1,
    delta: 1e-5,
    samples: 64,
  });
  assert.equal(audit.members, 30);
  assert.equal(audit.nonMembers, 30);
  assert.ok(audit.auc > 0.8, `members vs held-out AUC ${audit.auc}`);
  assert.equal(audit.exceedsBound, true, 'a memorising decoder breaks the ε = 1 bound');
  assert.match(audit.scorer, /64 prior draws/);
  const vsNoise = await auditDecoder({
    decoder,
    train: members,
    test: noiseImages(30, 9),
    epsilon: 1,
    delta: 1e-5,
    samples: 64,
  });
  console.log(
    `memorising decoder: AUC ${audit.auc.toFixed(3)} vs held-out, ${vsNoise.auc.toFixed(3)} vs noise; ` +
      `TPR at 1 % FPR ${audit.tprAtFpr} (bound ${audit.bound.tprAtFpr.toFixed(3)})`,
  );
  assert.ok(vsNoise.auc > 0.99, `members vs noise AUC ${vsNoise.auc}`);
});

test('a random decoder (z matters): scores are finite, seeded, and do not depend on the other records', async () => {
  const mnist = loadBundledMnist();
  const specs = parameterSpecs(arch, 'decoder');
  const rng = SeededRng.fromSeed(5);
  const weights = specs.map((s) => {
    const w = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.init === 'glorot-uniform') {
      const limit = Math.sqrt(6 / (s.fanIn + s.fanOut));
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.nextFloat() - 1) * limit;
    }
    return w;
  });
  const score = decoderLikelihoodScorer({ arch, weights }, { samples: 1100, seed: 3 });
  const set = perClassHead(mnist.test, 2);
  const all = await score(set.x, set.y, shape(set));
  assert.ok(all.every((v) => Number.isFinite(v) && v < 0));
  const again = await score(set.x, set.y, shape(set));
  assert.deepEqual(Array.from(again), Array.from(all), 'same seed, same scores');
  const one = sampleRecords(set, 1, 0);
  const index = Array.from({ length: set.count }, (_, i) => i).find((i) =>
    set.x.subarray(i * D, (i + 1) * D).every((v, j) => v === one.x[j]),
  ) as number;
  const alone = await score(one.x, one.y, shape(one));
  assert.ok(Math.abs((alone[0] as number) - (all[index] as number)) < 1e-3);
});

test('records that do not fit the decoder are refused with a plain message', async () => {
  const { decoder } = templateDecoder(perClassHead(loadBundledMnist().train, 1));
  const score = decoderLikelihoodScorer(decoder, { samples: 4 });
  assert.throws(
    () => score(new Uint8Array(16), [0], { count: 1, height: 4, width: 4, channels: 1 }),
    /4×4×1 but the decoder makes 28×28×1/,
  );
  assert.throws(
    () => score(new Uint8Array(D), [12], { count: 1, height: 28, width: 28, channels: 1 }),
    /label 12/,
  );
  assert.throws(() => decoderLikelihoodScorer(decoder, { samples: 0 }), /prior draws/);
  const diverged = decoder.weights.map((w) => w.slice());
  (diverged[1] as Float32Array)[0] = Number.NaN;
  assert.throws(
    () => decoderLikelihoodScorer({ arch: decoder.arch, weights: diverged }),
    /not finite numbers/,
  );
});
