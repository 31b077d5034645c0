/**
 * Term-wise DP-SGD's sensitivities, measured on real tfjs gradients: when
 * one record is added to (or replaced in) a batch, the change of each
 * randomised term before noise stays within what the accountant uses (C₁ for
 * the per-record term, 2C₂ for the divergence term; 3C₂ for a replacement),
 * over random MNIST batches and adversarial records (a white image, far from
 * every digit; a record placed where the kernel's pull is strongest). The
 * naive variant (per-record clipping of the coupled loss) is measured on
 * the same adversarial batches: its change grows with the batch.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { defaultArchitecture } from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import { clippedSum } from '../../../src-main/engine/dpsgd-clip';
import { keyedRecordNoise } from '../../../src-main/engine/record-noise';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  TermwiseTrainer,
  type TermwiseCheckpoint,
  type TermwiseMode,
} from '../../../src-main/engine/termwise';
import {
  divergenceDeltas,
  encodeCodes,
  kernelConstants,
  termwiseDivergenceSum,
} from '../../../src-main/engine/termwise-terms';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { naiveSensitivity } from '../../../src-main/privacy/termwise';

before(async () => {
  await selectBackend();
});

const ARCH = { ...defaultArchitecture(), encoderHidden: [64, 32], decoderHidden: [48] };
const L = ARCH.latent;
const N = 200;
const C1 = 0.1;
const C2 = 0.1;
const TOL = 1 + 1e-4;

/** 200 MNIST digits, then a white image (far from every digit) as record N. */
function data() {
  const m = loadBundledMnist().train;
  const x = new Uint8Array((N + 1) * 784);
  x.set(m.x.subarray(0, N * 784));
  x.fill(255, N * 784);
  const y = new Uint8Array(N + 1);
  y.set(m.y.subarray(0, N));
  y[N] = 3;
  return { x, y, count: N + 1, height: 28, width: 28 };
}

function trainer(mode: TermwiseMode, weight: number, d = data(), pairGroup = 256) {
  return TermwiseTrainer.start({
    arch: ARCH,
    data: d,
    recordNoise: keyedRecordNoise(7),
    options: {
      sampleRate: 0.1,
      sigma: 1,
      clip: C1,
      divergence: 'mmd-imq',
      divergenceWeight: weight,
      divergenceClip: C2,
      mode,
      batchCap: 1000,
      pairGroup,
      lr: 1e-3,
      steps: 10,
      seed: 1,
    },
  });
}

function dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

/** M prior samples, antithetic (p and −p), so their pull on a code at 0 cancels exactly. */
function antitheticPrior(m: number, seed: number): tf.Tensor2D {
  const half = new Float32Array((m / 2) * L);
  SeededRng.fromSeed(seed).fillNormal(half);
  const all = new Float32Array(m * L);
  all.set(half);
  for (let i = 0; i < half.length; i++) all[half.length + i] = -(half[i] as number);
  return tf.tensor2d(all, [m, L]);
}

for (const [group, replaceBound] of [
  [256, 3],
  [8, 4],
] as const) {
  test(`term-wise (pairs within groups of ${group}): adding or replacing one record moves G₁ by ≤ C₁ and G₂ by ≤ 2C₂ (replace ≤ ${replaceBound}C₂), random batches and a far record`, async () => {
    const prior = antitheticPrior(256, 3);
    const tr = trainer('termwise', 100, data(), group);
    const rng = SeededRng.fromSeed(11);
    let worstAdd2 = 0;
    let worstRep2 = 0;
    for (let t = 0; t < 24; t++) {
      const B = 2 + rng.nextInt(60);
      const picked = new Set<number>();
      while (picked.size < B) picked.add(rng.nextInt(N));
      const S = Uint32Array.from(picked);
      let other = rng.nextInt(N);
      while (picked.has(other)) other = rng.nextInt(N);
      const step = 1 + rng.nextInt(5);
      const base = await tr.termSums(S, step, prior);
      const withFar = await tr.termSums(Uint32Array.from([...S, N]), step, prior);
      const withOther = await tr.termSums(Uint32Array.from([...S, other]), step, prior);
      for (const added of [withFar, withOther]) {
        const d1 = dist(base.perRecord, added.perRecord);
        const d2 = dist(base.divergence!, added.divergence!);
        assert.ok(d1 <= C1 * TOL, `G₁ moved ${d1} > C₁ (B = ${B})`);
        assert.ok(d2 <= 2 * C2 * TOL, `G₂ moved ${d2} > 2C₂ (B = ${B})`);
        worstAdd2 = Math.max(worstAdd2, d2);
      }
      const rep = dist(withFar.divergence!, withOther.divergence!);
      assert.ok(
        rep <= replaceBound * C2 * TOL,
        `G₂ moved ${rep} > ${replaceBound}C₂ on a replacement (B = ${B})`,
      );
      worstRep2 = Math.max(worstRep2, rep);
    }
    // The measurement is not vacuous: the divergence term does move.
    assert.ok(worstAdd2 > 0 && worstRep2 > 0);
    prior.dispose();
    tr.dispose();
  });
}

/**
 * The adversarial batch: B copies of one digit whose code is 0 (posterior
 * variance ≈ 0, so every copy has the same code and the same Jacobian), the
 * prior samples antithetic so the copies feel no pull at all, and an added
 * record (a white image) whose code lies at the IMQ kernel's steepest
 * distance √(c/3) from them: every copy's coupled cotangent then turns the
 * same way at once.
 */
function adversarial(mode: TermwiseMode): {
  tr: TermwiseTrainer;
  copies: (B: number) => Uint32Array;
  far: number;
} {
  const d = data();
  // Records 0..N−1 become copies of digit 0.
  for (let i = 1; i < N; i++) d.x.copyWithin(i * 784, 0, 784);
  d.y.fill(d.y[0] as number, 0, N);
  const weight = 1e6;
  const start = trainer(mode, weight, d);
  const cp: TermwiseCheckpoint = start.checkpoint();
  start.dispose();
  const enc = cp.encoder;
  const nOut = enc.length - 2;
  const wOut = enc[nOut] as Float32Array; // [32, 2L]
  const bOut = enc[nOut + 1] as Float32Array; // [2L]
  const H = wOut.length / (2 * L);
  // Hidden features of the digit and of the white image, with the current weights.
  const hidden = (rec: number): Float32Array => {
    const tensors = enc.map((a) => tf.tensor(a));
    let h = tf.concat(
      [
        tf.tensor2d(
          Float32Array.from(d.x.subarray(rec * 784, (rec + 1) * 784), (v) => v / 255),
          [1, 784],
        ),
        tf.oneHot(tf.tensor1d([d.y[rec] as number], 'int32'), 10).toFloat(),
      ],
      1,
    ) as tf.Tensor2D;
    for (let l = 0; l < nOut; l += 2) {
      const w = tf.reshape(tensors[l] as tf.Tensor, [h.shape[1], -1]) as tf.Tensor2D;
      h = tf.relu(tf.add(tf.matMul(h, w), tensors[l + 1] as tf.Tensor)) as tf.Tensor2D;
    }
    const out = h.dataSync() as Float32Array;
    tf.dispose(tensors);
    return Float32Array.from(out);
  };
  const h0 = hidden(0);
  const hr = hidden(N);
  // μ(x) = α·(h(x) − h(digit))·W_μ: the digit's code is 0; lv = −30 for every record.
  const raw = new Float32Array(L);
  for (let k = 0; k < L; k++) {
    let s = 0;
    for (let j = 0; j < H; j++)
      s += ((hr[j] as number) - (h0[j] as number)) * (wOut[j * 2 * L + k] as number);
    raw[k] = s;
  }
  const rawNorm = Math.sqrt(raw.reduce((a, v) => a + v * v, 0));
  const { c } = kernelConstants('imq', L);
  const alpha = Math.sqrt(c / 3) / rawNorm;
  for (let j = 0; j < H; j++)
    for (let k = 0; k < 2 * L; k++)
      wOut[j * 2 * L + k] = k < L ? alpha * (wOut[j * 2 * L + k] as number) : 0;
  for (let k = 0; k < L; k++) {
    let s = 0;
    for (let j = 0; j < H; j++) s += (h0[j] as number) * (wOut[j * 2 * L + k] as number);
    bOut[k] = -s;
    bOut[L + k] = -30;
  }
  const tr = TermwiseTrainer.resume({ data: d, checkpoint: cp, recordNoise: keyedRecordNoise(7) });
  return {
    tr,
    copies: (B) => Uint32Array.from({ length: B }, (_, i) => i),
    far: N,
  };
}

test('the adversarial batch is what it claims: copies at code 0, the far record at the steepest kernel distance', () => {
  const { tr, copies, far } = adversarial('termwise');
  const batch = tr.batchOf(Uint32Array.from([...copies(3), far]), 1);
  const cp = tr.checkpoint();
  const enc = cp.encoder.map((a, i) => {
    const spec = [1, ...tfShape(i)];
    return tf.tensor(a, spec);
  });
  function tfShape(i: number): number[] {
    const widths = [794, ...ARCH.encoderHidden, 2 * L];
    const l = Math.floor(i / 2);
    return i % 2 === 0 ? [widths[l] as number, widths[l + 1] as number] : [widths[l + 1] as number];
  }
  const z = encodeCodes(ARCH, enc, batch.x, batch.y, batch.eps).arraySync() as number[][];
  for (let i = 0; i < 3; i++) assert.ok(Math.hypot(...(z[i] as number[])) < 1e-3);
  const { c } = kernelConstants('imq', L);
  assert.ok(Math.abs(Math.hypot(...(z[3] as number[])) - Math.sqrt(c / 3)) < 1e-3);
  tf.dispose([...enc, batch.x, batch.y, batch.eps]);
  tr.dispose();
});

test('on the adversarial batch, term-wise G₂ stays within 2C₂ while the naive variant’s change grows with B', async () => {
  const prior = antitheticPrior(256, 5);
  const tw = adversarial('termwise');
  const nv = adversarial('naive');
  const naive: number[] = [];
  for (const B of [4, 16, 64]) {
    const S = tw.copies(B);
    const plus = Uint32Array.from([...S, tw.far]);
    const a = await tw.tr.termSums(S, 1, prior);
    const b = await tw.tr.termSums(plus, 1, prior);
    assert.ok(dist(a.perRecord, b.perRecord) <= C1 * TOL);
    const d2 = dist(a.divergence!, b.divergence!);
    assert.ok(d2 <= 2 * C2 * TOL, `term-wise G₂ moved ${d2} > 2C₂ at B = ${B}`);
    const na = await nv.tr.termSums(S, 1, prior);
    const nb = await nv.tr.termSums(plus, 1, prior);
    const dn = dist(na.perRecord, nb.perRecord);
    assert.ok(dn <= naiveSensitivity(B, C1) * TOL, `naive moved ${dn} beyond its bound`);
    naive.push(dn);
  }
  const [d4, d16, d64] = naive as [number, number, number];
  assert.ok(d16 > 3 * d4 && d64 > 3 * d16, `naive changes ${naive.join(', ')} do not grow with B`);
  // Far beyond the O(1) sensitivity of either term: per-record clipping does not bound a coupled loss.
  assert.ok(d64 > 20 * C1, `naive change ${d64} at B = 64`);
  prior.dispose();
  tw.tr.dispose();
  nv.tr.dispose();
});

test('the divergence term added to the clipped sum equals the autodiff reference (Jacobian norms and Σ s_i J_iᵀ λu_i)', () => {
  const tr = trainer('termwise', 2);
  const cp = tr.checkpoint();
  const tensorsOf = (arrays: Float32Array[], widths: number[]) =>
    arrays.map((a, i) => {
      const l = Math.floor(i / 2);
      const shape = i % 2 === 0 ? [1, widths[l]!, widths[l + 1]!] : [1, widths[l + 1]!];
      return tf.tensor(a, shape);
    });
  const enc = tensorsOf(cp.encoder, [794, ...ARCH.encoderHidden, 2 * L]);
  const dec = tensorsOf(cp.decoder, [L + 10, ...ARCH.decoderHidden, 784]);
  const batch = tr.batchOf(
    Uint32Array.from({ length: 40 }, (_, i) => i * 3),
    2,
  );
  const u = new Float32Array(40 * L);
  SeededRng.fromSeed(4).fillNormal(u);
  const opts = { weight: 2, clip: 0.3 };
  const ref = termwiseDivergenceSum(ARCH, enc, batch, u, opts);
  let norms: Float64Array = new Float64Array(0);
  batch.added = {
    apart: true,
    outputGradients: (act) => {
      const r = divergenceDeltas(act, u, opts);
      norms = r.jacobianNorms;
      return r.deltas;
    },
  };
  const fast = clippedSum(ARCH, { encoder: enc, decoder: dec }, batch, C1);
  for (let i = 0; i < 40; i++)
    assert.ok(Math.abs(ref.jacobianNorms[i]! - norms[i]!) < 1e-4 * ref.jacobianNorms[i]!);
  const flat = (ts: tf.Tensor[]) => Float32Array.from(ts.flatMap((t) => Array.from(t.dataSync())));
  const a = flat(ref.grads);
  const b = flat(fast.added!);
  assert.equal(a.length, b.length);
  assert.ok(
    dist(a, b) < 1e-4 * Math.hypot(...a),
    `relative error ${dist(a, b) / Math.hypot(...a)}`,
  );
  tf.dispose([...ref.grads, ...fast.grads, ...fast.added!, ...enc, ...dec]);
  tf.dispose([batch.x, batch.y, batch.eps]);
  tr.dispose();
});

test('micro-batches do not change the sums (the coupled cotangents see the whole sample)', async () => {
  const prior = antitheticPrior(64, 9);
  const make = (maxRows: number) =>
    TermwiseTrainer.start({
      arch: ARCH,
      data: data(),
      recordNoise: keyedRecordNoise(7),
      options: {
        sampleRate: 0.1,
        sigma: 1,
        clip: C1,
        divergence: 'mmd-rbf',
        divergenceWeight: 3,
        divergenceClip: C2,
        mode: 'termwise',
        batchCap: 1000,
        lr: 1e-3,
        steps: 10,
        seed: 1,
        maxRows,
      },
    });
  const S = Uint32Array.from({ length: 30 }, (_, i) => 5 * i + 1);
  const [one, many] = [make(512), make(7)];
  const a = await one.termSums(S, 3, prior);
  const b = await many.termSums(S, 3, prior);
  assert.ok(dist(a.perRecord, b.perRecord) < 1e-4 * Math.hypot(...a.perRecord));
  assert.ok(dist(a.divergence!, b.divergence!) < 1e-4 * Math.hypot(...a.divergence!));
  assert.ok(Math.hypot(...a.divergence!) > 0);
  prior.dispose();
  one.dispose();
  many.dispose();
});
