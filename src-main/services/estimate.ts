import { listRuns } from '../store';
import type { Store } from '../store';
import type { LiveRuns } from './live-runs';

/**
 * Typical throughput (samples/s) of the default 28×28 model per backend, from
 * `npm run bench` (bench/train.ts) on a 2-core computer for wasm; the native
 * backends are scaled from it. Used only until a run on this computer has
 * measured its own.
 */
const TYPICAL_RATES: Record<string, Record<string, number>> = {
  wasm: { stage1: 900, stage2: 450 },
  cpu: { stage1: 120, stage2: 60 },
  tensorflow: { stage1: 3000, stage2: 1500 },
  'tensorflow-gpu': { stage1: 20000, stage2: 8000 },
};

/** Work of a planned run, per stage, in examples processed. */
export interface PlannedWork {
  stage: string;
  samples: number;
}

/**
 * How long `work` should take here: measured rates of this session first,
 * then the typical rate of the backend the last run used.
 */
export function estimateDuration(
  store: Store,
  live: LiveRuns,
  work: readonly PlannedWork[],
): { seconds: number; backend: string; basis: string } {
  const lastBackend = listRuns(store).find((r) => r.backend !== null)?.backend ?? null;
  const backend = lastBackend ?? 'wasm';
  let measured = true;
  let seconds = 0;
  for (const { stage, samples } of work) {
    const seen = live.rate(stage, backend);
    if (seen === null) measured = false;
    const rate = seen ?? TYPICAL_RATES[backend]?.[stage] ?? TYPICAL_RATES.wasm?.[stage] ?? 450;
    seconds += samples / rate;
  }
  const basis = measured
    ? `measured on this computer during this session (${backend} backend)`
    : lastBackend
      ? `typical speed of the ${backend} backend, which the last run used; refined once a run trains here`
      : 'typical speed of the portable (wasm) backend on a 2-core computer; refined once a run trains here';
  return { seconds: Math.round(seconds), backend, basis };
}
