/** The hung-worker rule: the silence allowed follows the slowest step seen so far. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allowedSilenceMs,
  DEFAULT_SILENCE_RULE,
  hungMessage,
  isHung,
  startStallMeter,
} from '../../../src-main/jobs/heartbeat';

test('the floor holds until steps get slow, then k × the slowest step', () => {
  const rule = { floorMs: 60_000, factor: 10 };
  assert.equal(allowedSilenceMs(rule, 0), 60_000);
  assert.equal(allowedSilenceMs(rule, 5_000), 60_000);
  assert.equal(allowedSilenceMs(rule, 6_000), 60_000);
  assert.equal(allowedSilenceMs(rule, 9_000), 90_000);
  // A slow step seen once keeps the allowance up.
  assert.equal(allowedSilenceMs(rule, 120_000), 1_200_000);
});

test('values that are not a measured stretch count as none', () => {
  const rule = { floorMs: 1_000, factor: 3 };
  for (const v of [Number.NaN, -5, Number.POSITIVE_INFINITY])
    assert.equal(allowedSilenceMs(rule, v), 1_000);
});

test('hung only past the allowance', () => {
  const rule = { floorMs: 1_000, factor: 4 };
  assert.equal(isHung(rule, 1_000, 0), false);
  assert.equal(isHung(rule, 1_001, 0), true);
  // A step of 2 s was seen: 8 s of silence are still a step in progress.
  assert.equal(isHung(rule, 7_999, 2_000), false);
  assert.equal(isHung(rule, 8_001, 2_000), true);
});

test('the default allows a minute of silence before any step is measured', () => {
  assert.equal(allowedSilenceMs(DEFAULT_SILENCE_RULE, 0), 60_000);
});

test('the message says what happened and what to do, in plain words', () => {
  const m = hungMessage({ runId: 7, silentMs: 61_400, steps: 120 });
  assert.match(m, /run 7 stopped responding for 61 s/);
  assert.match(m, /Resume the run to continue from its last checkpoint/);
  assert.match(m, /privacy already spent stays recorded/);
});

test('the stall meter measures how long the event loop was blocked (a long synchronous step)', async () => {
  const seen: number[] = [];
  const stop = startStallMeter(20, (longest) => seen.push(longest));
  try {
    await new Promise((r) => setTimeout(r, 60));
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // a step that blocks the loop for 300 ms
    }
    await new Promise((r) => setTimeout(r, 60));
  } finally {
    stop();
  }
  assert.ok(seen.length >= 2, 'ticks were reported');
  assert.ok(Math.max(...seen) >= 250, `longest stall ${Math.max(...seen)} ms`);
});
