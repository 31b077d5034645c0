import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  composedEvent,
  effectiveNoiseMultiplier,
  gaussianEvent,
  isPrivacyEvent,
  poissonSampledEvent,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
} from '../../../src-main/privacy';
import { assertClose, assertUserError, seededRandom } from './helpers';

test('events are deeply frozen values with named fields', () => {
  const g = gaussianEvent({ noiseMultiplier: 1.5 });
  const p = poissonSampledEvent({ sampleRate: 0.01, event: g });
  const w = sampledWithoutReplacementEvent({ sourceSize: 100, sampleSize: 1, event: g });
  const c = composedEvent({ events: [p, p] });
  const s = selfComposedEvent({ count: 10, event: c });
  for (const e of [g, p, w, c, s]) {
    assert.ok(Object.isFrozen(e));
    assert.ok(isPrivacyEvent(e));
  }
  assert.ok(Object.isFrozen(c.events));
  assert.deepEqual(g, { kind: 'gaussian', noiseMultiplier: 1.5 });
  assert.deepEqual(w, {
    kind: 'sampled-without-replacement',
    sourceSize: 100,
    sampleSize: 1,
    event: g,
  });
  assert.throws(() => {
    (g as { noiseMultiplier: number }).noiseMultiplier = 0.1;
  }, TypeError);
  // A look-alike object was never validated, so it is not an event.
  assert.equal(isPrivacyEvent({ kind: 'gaussian', noiseMultiplier: 1 }), false);
  assert.equal(isPrivacyEvent(Object.freeze({ kind: 'gaussian', noiseMultiplier: 1 })), false);
});

test('effective noise multiplier of composed Gaussians (DPA test_effective_gaussian_noise_multiplier_composed)', () => {
  const random = seededRandom(0xbad5eed);
  const z = [random(), random(), random(), random()].map((u) => 0.2 + u);
  const event = composedEvent({
    events: [
      gaussianEvent({ noiseMultiplier: z[0] as number }),
      selfComposedEvent({ count: 3, event: gaussianEvent({ noiseMultiplier: z[1] as number }) }),
      composedEvent({
        events: [
          gaussianEvent({ noiseMultiplier: z[2] as number }),
          gaussianEvent({ noiseMultiplier: z[3] as number }),
        ],
      }),
    ],
  });
  const all = [...z, z[1] as number, z[1] as number];
  const expected = all.reduce((sum, s) => sum + s ** -2, 0) ** -0.5;
  assertClose(effectiveNoiseMultiplier(event) as number, expected, 1e-14, 'z_eff');
  assert.equal(effectiveNoiseMultiplier(gaussianEvent({ noiseMultiplier: 2.71828 })), 2.71828);
  assert.equal(
    effectiveNoiseMultiplier(
      poissonSampledEvent({ sampleRate: 0.5, event: gaussianEvent({ noiseMultiplier: 1 }) }),
    ),
    undefined,
  );
});

test('bad event parameters are refused with the field named', () => {
  const g = gaussianEvent({ noiseMultiplier: 1 });
  for (const bad of [NaN, -1, 0, Infinity, '1' as unknown as number]) {
    assertUserError(
      () => gaussianEvent({ noiseMultiplier: bad }),
      'INVALID_INPUT',
      /noiseMultiplier/,
    );
  }
  for (const bad of [0, -0.1, 1.0000001, 2, NaN]) {
    assertUserError(
      () => poissonSampledEvent({ sampleRate: bad, event: g }),
      'INVALID_INPUT',
      /sampleRate/,
    );
  }
  assertUserError(
    () => sampledWithoutReplacementEvent({ sourceSize: 10, sampleSize: 11, event: g }),
    'INVALID_INPUT',
    /sampleSize/,
  );
  assertUserError(
    () => sampledWithoutReplacementEvent({ sourceSize: 2.5, sampleSize: 1, event: g }),
    'INVALID_INPUT',
    /sourceSize/,
  );
  assertUserError(() => selfComposedEvent({ count: -1, event: g }), 'INVALID_INPUT', /count/);
  assertUserError(() => selfComposedEvent({ count: 1.5, event: g }), 'INVALID_INPUT', /count/);
  assertUserError(() => composedEvent({ events: 'x' as never }), 'INVALID_INPUT', /events/);
  assertUserError(
    () => composedEvent({ events: [g, {} as never] }),
    'INVALID_INPUT',
    /events\[1\]/,
  );
  // Only Gaussians can be subsampled.
  const sampled = poissonSampledEvent({ sampleRate: 0.1, event: g });
  assertUserError(
    () => poissonSampledEvent({ sampleRate: 0.1, event: sampled }),
    'INVALID_INPUT',
    /Gaussian/,
  );
  assertUserError(
    () =>
      sampledWithoutReplacementEvent({
        sourceSize: 10,
        sampleSize: 1,
        event: composedEvent({ events: [] }),
      }),
    'INVALID_INPUT',
    /Gaussian/,
  );
});
