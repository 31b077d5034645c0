/**
 * A started run's measured speed serves later estimates in default-model
 * units: a per-record DP²-VAE run with K importance samples does about K
 * times the work per image, so the speed kept for its method is its
 * images/s times K (the run's plan, read from its stored row).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dispatch } from '../../../src-main/contract/dispatch';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { mnistDataset } from './helpers';

test('a run with 2 importance samples keeps its measured speed times 2', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'dp2-speed-'));
  const ctx = new ServiceContext(home);
  t.after(() => {
    ctx.close();
    rmSync(home, { recursive: true, force: true });
  });
  await mnistDataset(ctx.store, 'digits', 200, { epsilon: 60 });
  let last: { backend: string; rate: number } | null = null;
  let backend = '';
  ctx.onRunEvent((e) => {
    if (e.type === 'backend') backend = e.name;
    if (e.type === 'progress' && e.stage === 'stage2' && e.samplesPerSecond > 0)
      last = { backend, rate: e.samplesPerSecond };
  });
  const started = await dispatch(createServices(ctx), 'runs.start', {
    dataset: 'digits',
    method: 'dp2vae-per-record',
    preset: 'quick',
    epsilon: 20,
    overrides: { steps: 12, importanceSamples: 2, seed: 3 },
    wait: true,
  });
  assert.ok(started.ok && started.value.outcome?.status === 'completed', JSON.stringify(started));
  const seen = last as { backend: string; rate: number } | null;
  assert.ok(seen, 'progress with a speed');
  const kept = ctx.live.rate('dp2vae-per-record', 'stage2', seen.backend);
  assert.ok(
    kept !== null && Math.abs(kept / seen.rate - 2) < 1e-9,
    `kept ${kept}, seen ${seen.rate}`,
  );
});
