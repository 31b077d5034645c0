/**
 * Plans of DP²-VAE with per-record encoders: the Poisson schedule shared with
 * DP-SGD (same q, T and σ for the same preset and target), the refinement
 * settings, per-block settings refused, the mechanism and the certificate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunPlanRequest } from '../../../src-main/contract/runs';
import { buildRunCertificate } from '../../../src-main/jobs/certificates';
import { resolveRunPlan } from '../../../src-main/jobs/presets';
import { RunPlan } from '../../../src-main/jobs/protocol';
import { PER_RECORD_PRESETS } from '../../../src-main/methods/dp2vae-per-record/presets';
import { methodOfPlan, planNoise } from '../../../src-main/methods/registry';
import { epsilonOf } from '../../../src-main/privacy';
import { certificateInWords } from '../../../src-main/privacy/certificate';

const base = { preset: 'paper' as const, datasetSize: 60_000, targetEpsilon: 10, delta: 1e-5 };

test('the same schedule as DP-SGD for the same preset and target, plus the refinement', () => {
  const pr = resolveRunPlan({ ...base, method: 'dp2vae-per-record' });
  const dp = resolveRunPlan({ ...base, method: 'dpsgd' });
  assert.equal(pr.plan.method, 'dp2vae-per-record');
  if (pr.plan.method !== 'dp2vae-per-record' || dp.plan.method !== 'dpsgd') return;
  assert.equal(pr.plan.sampleRate, dp.plan.sampleRate);
  assert.equal(pr.plan.steps, dp.plan.steps);
  assert.equal(pr.plan.sigma, dp.plan.sigma, 'the same mechanism, so the same calibrated σ');
  assert.ok(pr.epsilon <= 10);
  const p = PER_RECORD_PRESETS.paper;
  assert.equal(pr.plan.refineSteps, p.refineSteps);
  assert.equal(pr.plan.refineFirstSteps, p.refineFirstSteps);
  assert.deepEqual(planNoise(pr.plan), planNoise(dp.plan));
  assert.equal(RunPlan.parse(pr.plan).method, 'dp2vae-per-record', 'a stored plan parses back');
  assert.equal(methodOfPlan(pr.plan).relation, 'add-remove');

  const more = resolveRunPlan({
    ...base,
    method: 'dp2vae-per-record',
    overrides: { refineSteps: 20, batchSize: 512 },
  });
  if (more.plan.method !== 'dp2vae-per-record') return;
  assert.equal(more.plan.refineSteps, 20);
  assert.equal(more.plan.refineFirstSteps, 20, 'the warm start is never shorter than a visit');
  assert.equal(more.plan.sampleRate, 512 / 60_000);
  const request = (refineSteps: number) =>
    RunPlanRequest.safeParse({
      dataset: 'mnist',
      method: 'dp2vae-per-record',
      epsilon: 10,
      overrides: { refineSteps },
    }).success;
  assert.equal(request(20), true);
  assert.equal(request(300), false, 'bounds come from the setting');
});

test('per-block settings are refused in plain words; the certificate names the method and why posteriors need no noise', () => {
  assert.throws(
    () => resolveRunPlan({ ...base, method: 'dp2vae-per-record', overrides: { blocks: 10 } }),
    /blocks does not apply to per-record DP²-VAE runs/,
  );
  assert.throws(
    () => resolveRunPlan({ ...base, method: 'dpsgd', overrides: { refineSteps: 2 } }),
    /refineSteps does not apply to DP-SGD runs/,
  );
  const { plan } = resolveRunPlan({ ...base, method: 'dp2vae-per-record', overrides: { seed: 4 } });
  if (plan.method !== 'dp2vae-per-record') return;
  const cert = buildRunCertificate({
    plan,
    steps: plan.steps,
    delta: 1e-5,
    datasetId: 'a'.repeat(32),
    backend: 'wasm',
    version: '0.3.0',
  });
  assert.equal(cert.method, 'dp2vae-per-record');
  assert.equal(cert.adjacency, 'add-remove');
  assert.equal(
    cert.epsilon,
    epsilonOf({
      spec: {
        mechanism: 'dpsgd',
        sampleRate: plan.sampleRate,
        sigma: plan.sigma,
        steps: plan.steps,
      },
      delta: 1e-5,
    }).epsilon,
  );
  const words = certificateInWords(cert).join(' ');
  assert.match(words, /per-record encoders/);
  assert.match(words, /needs no noise of its own/);
  assert.doesNotMatch(words, /60000|60 000/, 'N is public but not written');
});
