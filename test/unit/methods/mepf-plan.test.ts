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
  labelledEpsilon,
  labellerEpsilon,
  mepfClassNotes,
  mepfNoise,
  resolveMepfPlan,
} from '../../../src-main/methods/mepf/plan';
import { releaseEpsilon } from '../../../src-main/methods/mepf/release';
import { methodOfPlan } from '../../../src-main/methods/registry';
import {
  certificateInWords,
  recheckCertificate,
  type MepfCertificate,
} from '../../../src-main/privacy/certificate';
import { epsilonOf } from '../../../src-main/privacy';
import { loadPrior, readPriorManifest } from '../../../src-main/priors/prior-file';
import type { MepfPlan } from '../../../src-main/methods/mepf/plan-schema';

const DATASET_ID = '0123456789abcdef0123456789abcdef';
/** The certificate of a plan's release (one noisy step). */
const certificateOf = (p: MepfPlan): MepfCertificate =>
  buildRunCertificate({
    plan: p,
    steps: 1,
    delta: 1e-5,
    datasetId: DATASET_ID,
    backend: 'wasm',
    version: 'test',
  }) as MepfCertificate;
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
  const cert = certificateOf(p);
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

/** A classifier's privacy as a run that builds on it records it (q, σ, C, T from its certificate). */
const LABELLER = {
  run: 7,
  sampleRate: 1024 / 60_000,
  sigma: 2.9,
  clip: 1,
  steps: 590,
  accountant: 'rdp',
  priorName: 'test-prior',
  priorSha256: 'ab'.repeat(32),
  priorStatement: 'made without any real image',
} as const;

const labelled = (overrides: Record<string, unknown>, targetEpsilon: number) =>
  resolveMepfPlan({
    preset: 'quick',
    overrides: { labeller: LABELLER.run, ...overrides },
    datasetSize: 60_000,
    targetEpsilon,
    delta: 1e-5,
    labeller: LABELLER,
  });

test('with a labeller the target covers the labelled images: the release gets what the classifier left', () => {
  const alone = labellerEpsilon(LABELLER, 1e-5);
  assert.ok(alone > 0.5 && alone < 0.7, String(alone));
  for (const target of [1, 3]) {
    const r = labelled({ seed: 1 }, target);
    assert.deepEqual(r.plan.labeller, LABELLER);
    const images = labelledEpsilon(r.plan, 1e-5);
    assert.ok(images <= target && images > 0.999 * target, `${images} at ${target}`);
    // More noise than a release that had the whole target, and its own ε below the target.
    assert.ok(r.plan.sigma > plan({}, target).plan.sigma);
    assert.ok(r.epsilon < target);
    assert.equal(mepf.releasedEpsilon?.(r.plan, 1e-5), images);
    assert.match(
      r.notes.join(' '),
      /labelled by the private classifier of run 7 \(ε = 0\.\d+ on its own/,
    );
  }
  assert.equal(mepf.releasedEpsilon?.(plan({}, 1).plan, 1e-5), null);
  // The classifier alone reaches the target: nothing is left for the release.
  assert.throws(
    () => labelled({}, alone),
    (e: Error & { code?: string }) =>
      e.code === 'UNREACHABLE_TARGET' && /already spent ε = 0\.\d+/.test(e.message),
  );
  // A given σ whose labelled images would pass the target: refused in words.
  assert.throws(
    () => labelled({ sigma: 1 }, 1),
    (e: Error) =>
      /labelled images to ε = \d[\d.]* \(with the classifier of run 7\)/.test(e.message),
  );
  // The caller must look the classifier up (jobs/linked-runs.ts) before the plan is made.
  assert.throws(
    () => plan({ labeller: 7 }),
    (e: Error & { code?: string }) => e.code === 'INTERNAL',
  );
});

test('a labelled certificate: the release and the classifier each by its accountant, composed in RDP; recheckable', () => {
  const p = labelled({ seed: 3 }, 2).plan;
  const cert = certificateOf(p);
  const release = releaseEpsilon({ sigma: p.sigma, delta: 1e-5 }).epsilon;
  assert.ok(Math.abs((cert.release_epsilon as number) - release) < 1e-9 * release);
  assert.ok(Math.abs(cert.labeller!.epsilon - labellerEpsilon(LABELLER, 1e-5)) < 1e-12);
  assert.ok(Math.abs(cert.epsilon - labelledEpsilon(p, 1e-5)) < 1e-9, String(cert.epsilon));
  assert.ok(cert.epsilon <= 2 && cert.epsilon > cert.release_epsilon!);
  assert.ok(cert.epsilon < cert.release_epsilon! + cert.labeller!.epsilon, 'tighter than summing');
  assert.equal(cert.labeller!.run, 7);
  assert.equal(cert.labeller!.prior?.weights_sha256, LABELLER.priorSha256);
  for (const r of recheckCertificate(cert as unknown as Record<string, unknown>))
    assert.ok(Math.abs(r.stated - r.recomputed) <= 1e-9 * r.recomputed, r.part);
  const tampered = { ...cert, labeller: { ...cert.labeller, sigma: LABELLER.sigma / 2 } };
  const rows = recheckCertificate(tampered as unknown as Record<string, unknown>);
  assert.ok(
    rows.some((r) => Math.abs(r.stated - r.recomputed) > 1e-3),
    JSON.stringify(rows),
  );
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /Privacy guarantee of the labelled images: \(ε = /);
  assert.match(words, /dp2 account --mechanism dpsgd --q 0\.0\d+ --sigma 2\.9 --steps 590/);
  assert.match(words, /dp2 account --certificate certificate\.json/);
});
