/**
 * The randp stepper (dp-linear.ts DpLinearStepper) and its checkpoints
 * (checkpoint.ts): a run stopped after some steps, written as a checkpoint,
 * read back and continued, ends exactly where an uninterrupted run ends
 * (same samples and noise); a checkpoint that does not fit is refused; and
 * the loop the worker drives (train.ts runStepper) pays for every noisy step
 * before its sample and noise are drawn, stopping at T or before the target ε.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../../../src-main/engine/backend';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  deserializeRandpCheckpoint,
  serializeRandpCheckpoint,
} from '../../../src-main/methods/randp/checkpoint';
import {
  DpLinearStepper,
  trainDpLinear,
  type DpLinearOptions,
  type LabelledFeatures,
  type NoiseSource,
  type PoissonSampler,
} from '../../../src-main/methods/randp/dp-linear';
import { runStepper } from '../../../src-main/methods/randp/train';

function randomSet(count: number, dims: number, classes: number, seed: number): LabelledFeatures {
  const rng = SeededRng.fromSeed(seed, 1);
  const features = new Float32Array(count * dims);
  rng.fillNormal(features);
  const labels = Array.from({ length: count }, () => rng.nextInt(classes));
  return { features, labels, count, dims };
}

function seededSampler(seed: number, log?: string[]): PoissonSampler {
  const rng = SeededRng.fromSeed(seed, 3);
  return (count, rate) => {
    log?.push('sample');
    const taken: number[] = [];
    for (let i = 0; i < count; i++) if (rng.nextFloat() < rate) taken.push(i);
    return Uint32Array.from(taken);
  };
}

function seededNoise(seed: number, log?: string[]): NoiseSource {
  const rng = SeededRng.fromSeed(seed, 4);
  return {
    fill: (out, std) => {
      log?.push('noise');
      rng.fillNormal(out, std);
      return out;
    },
  };
}

const settings = (o: DpLinearOptions, dims: number) => ({
  sigma: o.sigma,
  sampleRate: o.sampleRate,
  clip: o.clip,
  steps: o.steps,
  lr: o.lr,
  momentum: o.momentum ?? 0.9,
  emaDecay: o.emaDecay ?? 0,
  dims,
  classes: o.classes,
});

describe('randp stepper', () => {
  before(async () => {
    await selectBackend({ prefer: 'cpu' });
  });

  const data = randomSet(60, 7, 3, 11);
  const base = {
    classes: 3,
    sigma: 1.3,
    sampleRate: 0.3,
    steps: 12,
    clip: 1,
    lr: 0.2,
    momentum: 0.9,
    emaDecay: 0.9,
  };

  it('resumes exactly from a checkpoint written after some steps', async () => {
    const whole = await trainDpLinear(data, {
      ...base,
      sampler: seededSampler(1),
      noise: seededNoise(2),
    });
    // The same randomness, continued across the checkpoint (as the CSPRNG is for a real run).
    const sampler = seededSampler(1);
    const noise = seededNoise(2);
    const first = new DpLinearStepper(data, { ...base, sampler, noise });
    for (let i = 0; i < 5; i++) first.takeStep();
    const bytes = serializeRandpCheckpoint(first.state(), settings(base, 7), { runId: 1 });
    const read = deserializeRandpCheckpoint(bytes);
    assert.deepEqual(read.settings, settings(base, 7));
    assert.equal(read.state.t, 5);
    const resumed = new DpLinearStepper(data, { ...base, sampler, noise }, read.state);
    assert.equal(resumed.step, 5);
    while (resumed.step < base.steps) resumed.takeStep();
    assert.deepEqual(resumed.last().weights, whole.model.weights);
    assert.deepEqual(resumed.averaged()?.weights, whole.averaged?.weights);
    assert.deepEqual(resumed.released().weights, whole.averaged?.weights);
    assert.throws(() => resumed.takeStep(), /taken its 12 steps/);
  });

  it('refuses a checkpoint that does not fit, or is damaged', () => {
    const s = new DpLinearStepper(data, base);
    const state = s.state();
    assert.throws(
      () => new DpLinearStepper(randomSet(60, 8, 3, 1), base, state),
      (e: Error) => /does not fit/.test(e.message),
    );
    assert.throws(() => new DpLinearStepper(data, { ...base, emaDecay: 0 }, state), /does not fit/);
    const bytes = serializeRandpCheckpoint(state, settings(base, 7));
    assert.throws(() => deserializeRandpCheckpoint(bytes.subarray(0, bytes.length - 4)), /damaged/);
    assert.throws(() => deserializeRandpCheckpoint(new Uint8Array([1, 2])), /damaged/);
  });

  it('pays for every noisy step before its sample and noise are drawn', async () => {
    const log: string[] = [];
    const stepper = new DpLinearStepper(data, {
      ...base,
      sampler: seededSampler(3, log),
      noise: seededNoise(4, log),
    });
    const r = await runStepper(
      stepper,
      { steps: base.steps, target: null },
      {
        epsilonAfter: (s) => s,
        beforeNoisyUpdate: async (step) => {
          log.push(`pay ${step}`);
        },
        onStep: (report) => {
          log.push(`done ${report.step}`);
        },
      },
    );
    assert.equal(r.stoppedBy, 'steps');
    assert.equal(stepper.step, base.steps);
    const expected = Array.from({ length: base.steps }, (_, i) => [
      `pay ${i + 1}`,
      'sample',
      'noise',
      `done ${i + 1}`,
    ]).flat();
    assert.deepEqual(log, expected);
  });

  it('stops before a step that would pass the target ε, and on abort, without paying for it', async () => {
    const paid: number[] = [];
    const stepper = new DpLinearStepper(data, base);
    const r = await runStepper(
      stepper,
      { steps: base.steps, target: 4.5 },
      {
        epsilonAfter: (s) => s, // ε = steps, for the test
        beforeNoisyUpdate: async (step) => void paid.push(step),
      },
    );
    assert.equal(r.stoppedBy, 'epsilon');
    assert.equal(stepper.step, 4);
    assert.deepEqual(paid, [1, 2, 3, 4]);
    const abort = new AbortController();
    abort.abort();
    const again = await runStepper(
      stepper,
      { steps: base.steps, target: null },
      {
        epsilonAfter: (s) => s,
        beforeNoisyUpdate: async (step) => void paid.push(step),
        signal: abort.signal,
      },
    );
    assert.equal(again.stoppedBy, 'aborted');
    assert.deepEqual(paid, [1, 2, 3, 4]);
  });
});
