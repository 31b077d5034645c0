/**
 * DP-SGD plans: presets, q from the expected batch, σ calibrated to the
 * target, DP²-VAE-only settings refused, the method as data on the plan
 * (old stored plans without one are DP²-VAE), the step limit and the
 * certificate under the 'dpsgd' mechanism.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { RunPlanRequest } from '../../../src-main/contract/runs';
import { composedTotal, ledgerRowSpec, ownEpsilon, stepLimit } from '../../../src-main/jobs/budget';
import { buildRunCertificate } from '../../../src-main/jobs/certificates';
import { certificateInWords } from '../../../src-main/privacy/certificate';
import {
  DPSGD_PRESETS,
  planArchitecture,
  presetList,
  PRESET_NAMES,
  resolveRunPlan,
} from '../../../src-main/jobs/presets';
import { planMethod, RunPlan, WorkerConfig } from '../../../src-main/jobs/protocol';
import { planNoise } from '../../../src-main/methods/registry';
import { epsilonOf } from '../../../src-main/privacy';

const DELTA = 1e-5;

test('DP-SGD presets: q = expected batch / N, T = epochs / q, σ calibrated so the run reaches ε exactly', () => {
  for (const preset of PRESET_NAMES) {
    const { plan, epsilon } = resolveRunPlan({
      method: 'dpsgd',
      preset,
      datasetSize: 60_000,
      targetEpsilon: 10,
      delta: DELTA,
    });
    assert.equal(plan.method, 'dpsgd');
    if (plan.method !== 'dpsgd') return;
    const p = DPSGD_PRESETS[preset];
    assert.equal(plan.sampleRate, p.expectedBatch / 60_000);
    assert.equal(plan.batchSize, p.expectedBatch);
    assert.equal(plan.steps, Math.ceil(p.epochs / plan.sampleRate));
    assert.equal(plan.accountant, 'rdp');
    assert.ok(epsilon <= 10 && epsilon > 9.99, `${preset}: ε ${epsilon}`);
    assert.equal(
      epsilon,
      epsilonOf({
        spec: {
          mechanism: 'dpsgd',
          sampleRate: plan.sampleRate,
          sigma: plan.sigma,
          steps: plan.steps,
        },
        delta: DELTA,
      }).epsilon,
    );
  }
  assert.equal(presetList('dpsgd').length, 3);
  assert.notEqual(presetList('dpsgd')[0]!.summary, presetList('dp2vae')[0]!.summary);
});

test('DP-SGD overrides: sample rate or batch, never both; DP²-VAE-only settings are refused', () => {
  const base = {
    method: 'dpsgd' as const,
    preset: 'quick' as const,
    datasetSize: 1000,
    targetEpsilon: 5,
    delta: DELTA,
  };
  const a = resolveRunPlan({ ...base, overrides: { sampleRate: 0.02, steps: 100, sigma: 1.3 } });
  assert.deepEqual(
    [a.plan.method, (a.plan as { sampleRate: number }).sampleRate, a.plan.steps, a.plan.sigma],
    ['dpsgd', 0.02, 100, 1.3],
  );
  const b = resolveRunPlan({ ...base, overrides: { batchSize: 50 } });
  assert.equal((b.plan as { sampleRate: number }).sampleRate, 0.05);
  // The preset's batch above N: every record each step, with a note.
  const small = resolveRunPlan({ ...base, datasetSize: 300 });
  assert.equal((small.plan as { sampleRate: number }).sampleRate, 1);
  assert.match(small.notes.join(' '), /300 training images/);
  const refuse = (overrides: object, re: RegExp) =>
    assert.throws(
      () => resolveRunPlan({ ...base, overrides }),
      (e: unknown) => e instanceof UserError && e.code === 'INVALID_INPUT' && re.test(e.message),
    );
  refuse({ blocks: 10 }, /blocks.*DP²-VAE/);
  refuse({ pretrainEpochs: 2 }, /pretrainEpochs/);
  refuse({ sampleRate: 0.1, batchSize: 10 }, /not both/);
  refuse({ batchSize: 5000 }, /5000/);
  refuse({ sampleRate: 2 }, /sampleRate/);
  // …and DP-SGD's sample rate on a DP²-VAE run.
  assert.throws(
    () => resolveRunPlan({ ...base, method: 'dp2vae', overrides: { sampleRate: 0.1 } }),
    /DP-SGD runs and per-record DP²-VAE runs only/,
  );
  assert.throws(() => resolveRunPlan({ ...base, method: 'gan' as never }), /no training method/);
});

test('the method is data on the plan: old DP²-VAE plans still parse; the contract accepts dpsgd', () => {
  const old = {
    blocks: 4,
    sigma: 1,
    clip: 1,
    steps: 10,
    pretrainEpochs: 1,
    batchSize: 8,
    lr: 1e-3,
    seed: 1,
    optimizer: 'adam',
    pretrainLr: 1e-3,
    pretrainClip: 5,
  };
  const parsed = RunPlan.parse(old);
  assert.equal(planMethod(parsed), 'dp2vae');
  const d = resolveRunPlan({
    method: 'dpsgd',
    preset: 'quick',
    datasetSize: 5000,
    targetEpsilon: 3,
    delta: DELTA,
  });
  assert.equal(planMethod(RunPlan.parse(d.plan)), 'dpsgd');
  assert.throws(() => RunPlan.parse({ ...d.plan, blocks: 3 }), 'strict: no foreign keys');
  assert.equal(RunPlanRequest.parse({ dataset: 'x', epsilon: 1, method: 'dpsgd' }).method, 'dpsgd');
  // The default is the method that measures best (issue 17).
  assert.equal(RunPlanRequest.parse({ dataset: 'x', epsilon: 1 }).method, 'dp2vae-per-record');
  assert.throws(() => RunPlanRequest.parse({ dataset: 'x', epsilon: 1, method: 'gan' }));
  assert.ok(WorkerConfig.shape.plan.safeParse(d.plan).success);
  // A DP-SGD model: the preset's widths.
  const arch = planArchitecture('quick', { height: 28, width: 28, channels: 1 }, 10, 'dpsgd');
  assert.equal(arch.kind, 'mlp-cvae');
  assert.deepEqual(
    arch.kind === 'mlp-cvae' && arch.decoderHidden,
    DPSGD_PRESETS.quick.mlp!.decoderHidden,
  );
});

test('budget with DP-SGD noise: own ε, ledger rows, the step limit at the target and at the cap', () => {
  const noise = { mechanism: 'dpsgd' as const, sampleRate: 0.01, sigma: 1 };
  assert.deepEqual(ledgerRowSpec(noise), { mechanism: 'dpsgd', sampleRate: 0.01, sigma: 1 });
  const eps = (s: number) => ownEpsilon(noise, s, DELTA);
  assert.equal(eps(100), epsilonOf({ spec: { ...noise, steps: 100 }, delta: DELTA }).epsilon);
  assert.equal(eps(0), 0);
  const none = { cap: null, delta: DELTA, priorSpecs: [] };
  const base = { noise, steps: 5000, delta: DELTA, paidSteps: 0, startStep: 0 };
  const own = stepLimit({ ...base, targetEpsilon: (eps(400) + eps(401)) / 2, budget: none });
  assert.deepEqual(own, { limit: 400, reason: 'epsilon' });
  const prior = [{ mechanism: 'dpsgd' as const, sampleRate: 0.01, sigma: 1, steps: 300 }];
  const cap = composedTotal(prior, noise, 200, DELTA);
  const capped = stepLimit({
    ...base,
    targetEpsilon: 100,
    budget: { cap, delta: DELTA, priorSpecs: prior },
  });
  assert.equal(capped.reason, 'budget');
  assert.ok(Math.abs(capped.limit - 200) <= 1, `${capped.limit}`);
  const plan = resolveRunPlan({
    method: 'dpsgd',
    preset: 'quick',
    datasetSize: 5000,
    targetEpsilon: 3,
    delta: DELTA,
  }).plan;
  assert.equal(planNoise(plan).mechanism, 'dpsgd');
});

test('the DP-SGD certificate names the method and mechanism; ε is recomputed, never passed in', () => {
  const plan = resolveRunPlan({
    method: 'dpsgd',
    preset: 'quick',
    datasetSize: 60_000,
    targetEpsilon: 10,
    delta: DELTA,
  }).plan;
  const cert = buildRunCertificate({
    plan,
    steps: 100,
    delta: DELTA,
    datasetId: 'ab'.repeat(16),
    backend: 'wasm',
    version: '0.1.0',
    created: new Date(0),
  });
  assert.equal(cert.method, 'dpsgd');
  if (cert.method !== 'dpsgd' || plan.method !== 'dpsgd') return;
  assert.match(cert.mechanism, /poisson/);
  assert.equal(cert.adjacency, 'add-remove');
  assert.equal(cert.blocks, null);
  assert.equal(cert.sample_rate, plan.sampleRate);
  assert.equal(
    cert.epsilon,
    epsilonOf({
      spec: { mechanism: 'dpsgd', sampleRate: plan.sampleRate, sigma: plan.sigma, steps: 100 },
      delta: DELTA,
    }).epsilon,
  );
  const words = certificateInWords(cert).join('\n');
  assert.match(words, /DP-SGD/);
  assert.match(words, /dp2 account --mechanism dpsgd --q /);
  assert.throws(() =>
    buildRunCertificate({
      plan: { ...plan, sigma: 0 },
      steps: 1,
      delta: DELTA,
      datasetId: 'x',
      backend: 'wasm',
      version: '1',
    }),
  );
});
