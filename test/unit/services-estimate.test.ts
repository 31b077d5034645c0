/**
 * Duration estimates per method: a method's measured speed is its own (a
 * one-shot generator step is far slower per image than a DP-SGD step), and
 * before any run has measured one, each method's typical speed is used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { closeStore, openStore } from '../../src-main/store';
import { estimateDuration } from '../../src-main/services/estimate';
import { LiveRuns } from '../../src-main/services/live-runs';
import { tempHome } from './store/helpers';

test('measured rates are kept per method and stage; typical rates differ by method', (t) => {
  const store = openStore({ path: join(tempHome(t), 'dp2.sqlite') });
  t.after(() => closeStore(store));
  const live = new LiveRuns();
  const work = (method: string) => [{ method, stage: 'stage2' as const, samples: 60_000 }];
  const typicalMepf = estimateDuration(store, live, work('mepf'));
  const typicalDpsgd = estimateDuration(store, live, work('dpsgd'));
  assert.ok(
    typicalMepf.seconds > 2 * typicalDpsgd.seconds,
    JSON.stringify([typicalMepf, typicalDpsgd]),
  );
  assert.match(typicalMepf.basis, /typical speed/);

  const progress = (runId: number, samplesPerSecond: number) =>
    live.apply({
      runId,
      type: 'progress',
      stage: 'stage2',
      step: 5,
      totalSteps: 10,
      samplesPerSecond,
      etaSeconds: 1,
    });
  for (const [runId, method] of [
    [1, 'dpsgd'],
    [2, 'mepf'],
  ] as const) {
    live.apply({
      runId,
      type: 'backend',
      name: 'wasm',
      tried: [],
      memory: { rssBytes: 1, heapUsedBytes: 1, totalBytes: 1 },
    });
    live.apply({ runId, type: 'stage', stage: 'stage2', method });
  }
  progress(1, 3000);
  progress(2, 100);
  assert.equal(live.rate('dpsgd', 'stage2', 'wasm'), 3000);
  assert.equal(live.rate('mepf', 'stage2', 'wasm'), 100);
  assert.equal(live.rate('dp2vae', 'stage2', 'wasm'), null);
  const measured = estimateDuration(store, live, work('mepf'));
  assert.equal(measured.seconds, 600);
  assert.deepEqual(measured.stages, [{ stage: 'stage2', seconds: 600 }]);
  assert.match(measured.basis, /measured on this computer/);
  // The live figures a screen reads carry no method field (the contract's shape).
  assert.ok(!('method' in (live.get(2) ?? {})));
});
