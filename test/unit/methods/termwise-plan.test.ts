/**
 * Plans of term-wise DP-SGD: DP-SGD's Poisson schedule and σ (the pair of
 * noisy terms is one 'dpsgd' step at σ), the divergence settings, the
 * research naive mode with its O(B) sensitivity, other methods' settings
 * refused, and a certificate that states each term and refuses terms whose
 * noise does not give its σ.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRunCertificate } from '../../../src-main/jobs/certificates';
import { resolveRunPlan } from '../../../src-main/jobs/presets';
import { RunPlan } from '../../../src-main/jobs/protocol';
import { methodOfPlan, planNoise } from '../../../src-main/methods/registry';
import { buildDpsgdCertificate, certificateInWords } from '../../../src-main/privacy/certificate';
import { effectiveSigma, termNoises } from '../../../src-main/privacy/termwise';

const base = { preset: 'paper' as const, datasetSize: 60_000, targetEpsilon: 10, delta: 1e-5 };

test('the same schedule and σ as DP-SGD, plus the divergence; the stored plan parses back', () => {
  const tw = resolveRunPlan({ ...base, method: 'termwise' });
  const dp = resolveRunPlan({ ...base, method: 'dpsgd' });
  if (tw.plan.method !== 'termwise' || dp.plan.method !== 'dpsgd') throw new Error('methods');
  assert.equal(tw.plan.sampleRate, dp.plan.sampleRate);
  assert.equal(tw.plan.steps, dp.plan.steps);
  assert.equal(tw.plan.sigma, dp.plan.sigma);
  assert.deepEqual(planNoise(tw.plan), planNoise(dp.plan));
  assert.equal(tw.plan.mode, 'termwise');
  assert.equal(tw.plan.divergence, 'mmd-imq');
  assert.equal(RunPlan.parse(tw.plan).method, 'termwise');
  assert.equal(methodOfPlan(tw.plan).relation, 'add-remove');
  const terms = termNoises(tw.plan);
  assert.equal(terms.length, 2);
  assert.ok(Math.abs(effectiveSigma(terms.map((t) => t.sigma)) - tw.plan.sigma) < 1e-12);
});

test('settings: the pair, λ, C₂ and the naive mode; other methods’ settings refused', () => {
  const kl = resolveRunPlan({ ...base, method: 'termwise', overrides: { divergence: 'kl' } });
  if (kl.plan.method !== 'termwise') throw new Error('method');
  assert.deepEqual(
    termNoises(kl.plan).map((t) => [t.term, t.sigma]),
    [['per-record', kl.plan.sigma]],
    'plain KL: DP-SGD',
  );
  const naive = resolveRunPlan({
    ...base,
    method: 'termwise',
    overrides: { termwiseMode: 'naive', divergenceClip: 0.1, divergenceWeight: 3 },
  });
  if (naive.plan.method !== 'termwise') throw new Error('method');
  assert.equal(naive.plan.divergenceWeight, 3);
  const [only] = termNoises(naive.plan);
  assert.equal(only!.term, 'whole-loss');
  assert.ok(only!.sensitivity > 2 * 1024 * naive.plan.clip, 'O(B) sensitivity');
  assert.throws(
    () => resolveRunPlan({ ...base, method: 'termwise', overrides: { blocks: 10 } }),
    /blocks does not apply to term-wise DP-SGD runs/,
  );
});

test('the certificate states each term and is refused when the terms do not give its σ', () => {
  const { plan } = resolveRunPlan({ ...base, method: 'termwise' });
  if (plan.method !== 'termwise') throw new Error('method');
  const ctx = {
    steps: plan.steps,
    delta: 1e-5,
    datasetId: 'a'.repeat(32),
    backend: 'wasm',
    version: '0.3.0',
  };
  const cert = buildRunCertificate({ plan, ...ctx });
  assert.equal(cert.method, 'termwise');
  if (!('terms' in cert) || !cert.terms) throw new Error('terms');
  assert.deepEqual(
    cert.terms.map((t) => t.term),
    ['per-record', 'divergence'],
  );
  assert.ok(cert.epsilon <= 10 && cert.epsilon > 9.9);
  assert.match(
    certificateInWords(cert).join(' '),
    /Each term of the loss was randomised its own way/,
  );
  assert.throws(
    () =>
      buildDpsgdCertificate({
        method: 'termwise',
        sampleRate: plan.sampleRate,
        sigma: plan.sigma,
        clip: plan.clip,
        terms: cert.terms!.map((t) => ({ ...t, sigma: t.sigma * 1.1 })),
        steps: plan.steps,
        delta: 1e-5,
        datasetId: 'a'.repeat(32),
        backend: 'wasm',
        version: '0.3.0',
      }),
    /σ/,
  );
});
