/**
 * The privacy certificate (ε recomputed from its own fields) and the
 * validation of the messages between runner and worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChildMessage, parseParentMessage } from '../../../src-main/jobs/protocol';
import { ACCOUNTANT_VERSION, epsilonOf } from '../../../src-main/privacy';
import {
  buildCertificate,
  certificateInWords,
  DP2VAE_CERT_MECHANISM,
} from '../../../src-main/privacy/certificate';

const input = {
  blocks: 100,
  sigma: 1.549,
  clip: 1,
  steps: 3000,
  delta: 1e-5,
  datasetId: 'ab'.repeat(16),
  backend: 'wasm',
  version: '0.1.0',
  created: new Date('2026-01-02T03:04:05Z'),
};

test('the certificate recomputes ε with the accountant and names it', () => {
  const c = buildCertificate(input);
  assert.deepEqual(c, {
    method: 'dp2vae',
    mechanism: DP2VAE_CERT_MECHANISM,
    adjacency: 'replace-one',
    blocks: 100,
    sigma: 1.549,
    clip: 1,
    steps: 3000,
    delta: 1e-5,
    epsilon: epsilonOf({
      spec: { mechanism: 'dp2vae', blocks: 100, sigma: 1.549, steps: 3000 },
      delta: 1e-5,
    }).epsilon,
    accountant: ACCOUNTANT_VERSION,
    dataset_id: 'ab'.repeat(16),
    public: [
      'the number of training images N (the partition into K blocks is made from it)',
      'the class names and their number (they label the samples)',
      'the image size and number of channels',
    ],
    backend: 'wasm',
    version: '0.1.0',
    created: '2026-01-02T03:04:05.000Z',
  });
  // FINDINGS.md: K = 100, T = 3000, σ = 1.549 gives ε ≈ 10 at δ = 1e-5.
  assert.ok(Math.abs(c.epsilon - 10) < 0.01, String(c.epsilon));
  // ε cannot be passed in.
  const forged = buildCertificate({ ...input, epsilon: 0.1 } as typeof input);
  assert.equal(forged.epsilon, c.epsilon);
  assert.equal(buildCertificate({ ...input, steps: 0 }).epsilon, 0);
  assert.throws(() => buildCertificate({ ...input, sigma: 0 }), /noise σ/);
  assert.throws(() => buildCertificate({ ...input, blocks: 1.5 }), /blocks K/);
  assert.throws(() => buildCertificate({ ...input, delta: 1 }), /δ/);
});

test('the certificate in words states ε, δ, the method and how to check it', () => {
  const c = buildCertificate(input);
  const lines = certificateInWords(c);
  const text = lines.join('\n');
  assert.ok(lines.length >= 5);
  assert.match(text, /ε = 10, δ = 0\.00001|ε = 10, δ = 1e-5/);
  assert.match(text, /1 in 100,000/);
  assert.match(text, /100 blocks/);
  assert.match(text, /3000 training steps/);
  assert.match(text, /stay on this computer/);
  assert.match(
    text,
    /dp2 account --mechanism dp2vae --blocks 100 --sigma 1\.549 --steps 3000 --delta 0\.00001/,
  );
  assert.ok(!/nats|accuracy|%/i.test(text), 'no private figure');
});

test('messages are validated on receipt', () => {
  assert.deepEqual(parseParentMessage({ type: 'pause' }), { type: 'pause' });
  assert.deepEqual(parseParentMessage({ type: 'spent', fromStep: 1, toStep: 0 }), {
    type: 'spent',
    fromStep: 1,
    toStep: 0,
  });
  assert.throws(() => parseParentMessage({ type: 'pause', now: true }), /"pause" from the runner/);
  assert.throws(() => parseParentMessage({ type: 'explode' }), /Malformed message "explode"/);
  assert.throws(() => parseParentMessage(null), /Malformed message/);
  const progress = {
    type: 'progress',
    stage: 'stage2',
    step: 3,
    totalSteps: 10,
    samplesPerSecond: 100,
    etaSeconds: null,
  };
  assert.deepEqual(parseChildMessage(progress), progress);
  assert.throws(() => parseChildMessage({ ...progress, stage: 'stage3' }), /at stage/);
  assert.throws(() => parseChildMessage({ ...progress, step: -1 }), /at step/);
  assert.throws(
    () => parseChildMessage({ type: 'epsilon', step: 1, epsilon: Number.NaN, total: 1 }),
    /at epsilon/,
  );
  assert.throws(() => parseChildMessage({ type: 'spend', fromStep: 0, toStep: 3 }), /fromStep/);
  assert.throws(
    () => parseParentMessage({ type: 'start', config: { runId: 1 } }),
    /"start" from the runner at config/,
  );
});
