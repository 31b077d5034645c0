import type { Architecture } from '../engine/architecture';
import { activationBytesPerRecord } from '../engine/memory';
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

/**
 * Typical throughput of methods whose stages do other work than the default
 * model's, per backend (wasm measured on 2 cores: `mepf`'s release runs the
 * prior's network once per image; its generator step differentiates through
 * it, bench/mepf.ts; `randp` computes the public whitening (about 13 s), then
 * reads the prior's features of each image and maps them on two threads at
 * about 1 370 images/s, about 1 000 images/s in all, then trains a linear
 * model on them at about 50 000 sampled records/s: `dp2 train --method randp`
 * on MNIST, 1 min 35 s).
 */
const TYPICAL_METHOD_RATES: Record<string, Record<string, Record<string, number>>> = {
  mepf: {
    wasm: { stage1: 900, stage2: 150 },
    cpu: { stage1: 120, stage2: 20 },
    tensorflow: { stage1: 3000, stage2: 600 },
    'tensorflow-gpu': { stage1: 20000, stage2: 5000 },
  },
  randp: {
    wasm: { stage1: 1000, stage2: 50000 },
    cpu: { stage1: 100, stage2: 5000 },
    tensorflow: { stage1: 3000, stage2: 150000 },
    'tensorflow-gpu': { stage1: 20000, stage2: 500000 },
  },
};

/**
 * Bytes a conv model's DP-SGD step goes through per second on one wasm core:
 * the per-record activations (engine/memory.ts) times the images per second,
 * measured 350–400 MB/s at 32×32×3 (196 images/s), 64×64×1 (62/s) and
 * 128×128×3 (15/s), bench/hospital-64.ts and docs/methods.md.
 */
const CONV_BYTES_PER_SECOND = 360 * 2 ** 20;

/**
 * How many times slower than the default 28×28 model (the typical rates'
 * basis) a model trains per image: 1 for the MLP, the per-record work of the
 * conv family against the typical DP-SGD rate otherwise.
 */
export function relativeCost(arch: Architecture): number {
  if (arch.kind === 'mlp-cvae') return 1;
  const bytes = activationBytesPerRecord(arch, { withEncoder: true, perExample: true });
  const rate = CONV_BYTES_PER_SECOND / bytes;
  return Math.max(1, (TYPICAL_RATES.wasm?.stage2 ?? 450) / rate);
}

/** Work of a planned run, per stage, in examples processed. */
export interface PlannedWork {
  /** The training method (its stages' speeds differ from other methods'). */
  method: string;
  stage: 'stage1' | 'stage2';
  samples: number;
  /** {@link relativeCost} of the run's model (default 1). */
  cost?: number;
}

/**
 * How long `work` should take here: measured rates of this session first,
 * then the typical rate of the backend the last run used.
 */
export function estimateDuration(
  store: Store,
  live: LiveRuns,
  work: readonly PlannedWork[],
): {
  seconds: number;
  stages: { stage: 'stage1' | 'stage2'; seconds: number }[];
  backend: string;
  basis: string;
} {
  const lastBackend = listRuns(store).find((r) => r.backend !== null)?.backend ?? null;
  const backend = lastBackend ?? 'wasm';
  let measured = true;
  let seconds = 0;
  const stages: { stage: 'stage1' | 'stage2'; seconds: number }[] = [];
  for (const { method, stage, samples, cost = 1 } of work) {
    // Measured rates are kept in default-model units (LiveRuns), typical ones are in them.
    const seen = live.rate(method, stage, backend);
    if (seen === null) measured = false;
    const typical = TYPICAL_METHOD_RATES[method] ?? TYPICAL_RATES;
    const rate = (seen ?? typical[backend]?.[stage] ?? typical.wasm?.[stage] ?? 450) / cost;
    seconds += samples / rate;
    stages.push({ stage, seconds: Math.round(samples / rate) });
  }
  const basis = measured
    ? `measured on this computer during this session (${backend} backend)`
    : lastBackend
      ? `typical speed of the ${backend} backend, which the last run used; refined once a run trains here`
      : 'typical speed of the portable (wasm) backend on a 2-core computer; refined once a run trains here';
  return { seconds: Math.round(seconds), stages, backend, basis };
}
