/**
 * `mepf` as a method of the app: its plan (σ for one Gaussian release at the
 * target, the prior recorded, other methods' settings refused), the ledger's
 * view of the release (DP-SGD at rate 1 for one step = the Gaussian
 * mechanism), the certificate, the length of φ known before any image is
 * read, and the words on each class's noise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRunCertificate } from '../../../src-main/jobs/certificates';
import { ownEpsilon } from '../../../src-main/jobs/budget';
import { mepf } from '../../../src-main/methods/mepf';
import { priorEmbedding } from '../../../src-main/methods/mepf/embedding';
import { newEmbedding } from '../../../src-main/methods/mepf/release-file';
import {
  CONFIRM_NOISE_RATIO,
  featureDims,
  mepfClassNotes,
  mepfNoise,
  resolveMepfPlan,
} from '../../../src-main/methods/mepf/plan';
import { releaseEpsilon } from '../../../src-main/methods/mepf/release';
import { methodOfPlan } from '../../../src-main/methods/registry';
import { certificateInWords, type MepfCertificate } from '../../../src-main/privacy/certificate';
import { epsilonOf } from '../../../src-main/privacy';
import { loadPrior, readPriorManifest } from '../../../src-main/priors/prior-file';
import type { MepfPlan } from '../../../src-main/methods/mepf/plan-schema';

const DATASET_ID = '0123456789abcdef0123456789abcdef';
const plan = (overrides = {}, targetEpsilon = 1) =>
  resolveMepfPlan({
    preset: 'quick',
    overrides,
    datasetSize: 4000,
    targetEpsilon,
    delta: 1e-5,
  });

test('the plan: σ of one release within the target, the shipped prior recorded, one noisy step', () => {
  for (const target of [0.2, 1, 10]) {
    const r = plan({ seed: 1, features: 'prior' }, target);
    assert.equal(r.plan.method, 'mepf');
    assert.equal(r.plan.steps, 1);
    assert.equal(r.plan.features, 'prior');
    assert.equal(r.plan.lr, 1e-3);
    assert.ok(r.epsilon <= target && r.epsilon > 0.99 * target, `${r.epsilon} at ${target}`);
    assert.equal(r.epsilon, releaseEpsilon({ sigma: r.plan.sigma, delta: 1e-5 }).epsilon);
    assert.equal(r.plan.priorSha256, readPriorManifest().weights.sha256);
    assert.ok(methodOfPlan(r.plan) === mepf);
  }
  assert.ok(plan({}, 0.2).plan.sigma > plan({}, 1).plan.sigma);
  // The default features: random Fourier features, with their own measured optimiser.
  const rff = plan({ generatorSteps: 50 }).plan;
  assert.equal(rff.features, 'rff');
  assert.equal(rff.priorSha256, undefined);
  assert.equal(rff.generatorSteps, 50);
  assert.deepEqual([rff.lr, rff.lrSchedule, rff.estimator], [5e-3, 'cosine', 'unbiased']);
  assert.equal(plan({ lr: 2e-3 }).plan.lr, 2e-3, 'a given step size wins');
});

test('the plan refuses other methods’ settings and a given σ that would pass the target, in words', () => {
  assert.throws(
    () => plan({ clip: 1 }),
    (e: Error) => /clip does not apply to mepf runs/.test(e.message),
  );
  assert.throws(
    () => plan({ batchSize: 64, steps: 3 }),
    (e: Error) => /batchSize, steps do not apply/.test(e.message),
  );
  assert.throws(
    () => plan({ sigma: 1 }),
    (e: Error) => /σ = 1 the one release would spend ε = \d/.test(e.message),
  );
  assert.equal(plan({ sigma: 10 }).plan.sigma, 10);
});

test('the ledger records the release as DP-SGD at rate 1 for one step, whose ε is the Gaussian mechanism’s', () => {
  for (const accountant of ['rdp', 'pld'] as const) {
    for (const sigma of [0.6, 1.5, 4, 20]) {
      const p = { ...plan({ seed: 2 }).plan, sigma, accountant };
      const ledger = ownEpsilon(mepfNoise(p), 1, 1e-5);
      const gaussian = epsilonOf({
        spec: { mechanism: 'gaussian', sigma, steps: 1 },
        delta: 1e-5,
        accountant,
      }).epsilon;
      assert.ok(
        Math.abs(ledger - gaussian) <= 1e-3 * gaussian,
        `${accountant} σ ${sigma}: ${ledger} vs ${gaussian}`,
      );
    }
  }
});

test('the certificate states one Gaussian mechanism, its sensitivity and the prior; ε recomputed', () => {
  const p = plan({ seed: 3, features: 'prior' }).plan;
  const cert = buildRunCertificate({
    plan: p,
    steps: 1,
    delta: 1e-5,
    datasetId: DATASET_ID,
    backend: 'wasm',
    version: 'test',
  }) as MepfCertificate;
  assert.equal(cert.method, 'mepf');
  assert.equal(cert.steps, 1);
  assert.equal(cert.sample_rate, 1);
  assert.equal(cert.count_weight, p.countWeight);
  assert.ok(Math.abs(cert.sensitivity - Math.sqrt(1 + p.countWeight ** 2)) < 1e-15);
  assert.ok(Math.abs(cert.epsilon - 1) < 1e-3, String(cert.epsilon));
  assert.equal(cert.features.prior?.weights_sha256, p.priorSha256);
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /one-shot feature release/);
  assert.match(words, new RegExp(p.priorSha256 as string));
  assert.match(words, /dp2 account --mechanism dpsgd --q 1 --sigma [\d.]+ --steps 1/);
  // Nothing computed from the images: only the mechanism's settings and public facts.
  assert.deepEqual(Object.keys(cert).sort(), [
    'accountant',
    'adjacency',
    'backend',
    'blocks',
    'clip',
    'count_weight',
    'created',
    'dataset_id',
    'delta',
    'epsilon',
    'features',
    'mechanism',
    'method',
    'public',
    'sample_rate',
    'sensitivity',
    'sigma',
    'steps',
    'version',
  ]);
});

test('φ’s length is known before any image is read: it matches the built maps', async () => {
  const image = { height: 28, width: 28, channels: 1 };
  const plan = resolveMepfPlan({
    preset: 'quick',
    overrides: { features: 'rff', seed: 1 },
    datasetSize: 100,
    targetEpsilon: 1,
    delta: 1e-5,
  }).plan;
  const rff = await newEmbedding(plan, image);
  assert.equal(featureDims('rff'), rff.dims);
  assert.equal(rff.description.source, 'combined');
  rff.dispose();
  for (const shape of [image, { height: 64, width: 64, channels: 3 }]) {
    const e = priorEmbedding(loadPrior(), shape);
    assert.equal(featureDims('prior'), e.dims);
    assert.equal(featureDims('random-net'), e.dims);
    e.dispose();
  }
});

test('each class’s noise in words; a class whose noise passes its signal must be confirmed', () => {
  const p: MepfPlan = plan({ seed: 4 }).plan;
  const data = { classes: ['normal', 'pneumonia'], counts: [2000, 2000] };
  const ok = mepfClassNotes(p, data);
  assert.equal(ok.confirm, null);
  assert.match(
    ok.notes[0] ?? '',
    /class “normal” \(2000 images\): noise about \d+ % of the signal/,
  );
  const small = mepfClassNotes(p, { classes: ['normal', 'rare'], counts: [2000, 40] });
  assert.ok(small.confirm !== null);
  assert.match(small.confirm, /Class “rare” has 40 training images/);
  assert.doesNotMatch(small.confirm, /normal/);
  // Many classes: summed up by the least and the most noisy.
  const ten = mepfClassNotes(p, {
    classes: Array.from({ length: 10 }, (_, k) => `c${k}`),
    counts: Array.from({ length: 10 }, (_, k) => 10 + k),
  });
  assert.match(ten.notes[0] ?? '', /from class “c9” \(19 images\).* to class “c0” \(10 images\)/);
  assert.match(
    ten.confirm ?? '',
    /10 of the 10 classes have too few training images \(fewest: “c0”, 10\)/,
  );
  // The bound: the ratio at the count where confirmation starts.
  const n = (count: number) =>
    mepfClassNotes(p, { classes: ['a'], counts: [count] }).confirm !== null;
  let lo = 1;
  let hi = 100_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (n(mid)) lo = mid;
    else hi = mid;
  }
  assert.ok(n(lo) && !n(hi));
  assert.ok(CONFIRM_NOISE_RATIO === 1);
  // Training from a release made before changes nothing: nothing to confirm.
  assert.equal(
    mepfClassNotes({ ...p, steps: 0, fromRelease: 7 }, { classes: ['rare'], counts: [5] }).confirm,
    null,
  );
});
