/**
 * Benchmarks of the privacy accountant. Prints median times; never asserts.
 * Run: node --import tsx bench/accountant.ts
 *
 * "cold" runs use a slightly different σ (calibration: a different K or q) on
 * every repetition so that no cached per-step RDP vector can be reused; "warm"
 * repeats the same query (what the live Budget Explorer does while only T
 * changes).
 */
import {
  calibrateSigma,
  epsilonCurve,
  epsilonOf,
  type MechanismSpec,
  type MechanismSpecWithoutSteps,
} from '../src-main/privacy';

const DELTA = 1e-5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function time(repetitions: number, run: (i: number) => void): number {
  for (let i = 0; i < Math.min(5, repetitions); i++) run(-1 - i); // warm-up (JIT)
  const samples: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    const start = performance.now();
    run(i);
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const dp2vae = (sigma: number, steps: number): MechanismSpec => ({
  mechanism: 'dp2vae',
  blocks: 2500,
  sigma,
  steps,
});
const dpsgd = (sigma: number, steps: number): MechanismSpec => ({
  mechanism: 'dpsgd',
  sampleRate: 256 / 60000,
  sigma,
  steps,
});
const jitter = (i: number): number => 1 + (i + 10) * 1e-7;

const rows: Array<{ what: string; target: string; ms: number }> = [];
const add = (what: string, target: string, ms: number): void => {
  rows.push({ what, target, ms });
};

add(
  'ε, dp2vae K=2500 T=1e5 (cold)',
  '< 1 ms',
  time(50, (i) => epsilonOf({ spec: dp2vae(0.975 * jitter(i), 100_000), delta: DELTA })),
);
add(
  'ε, dp2vae K=2500 T=1e5 (warm)',
  '< 1 ms',
  time(50, () => epsilonOf({ spec: dp2vae(0.975, 100_000), delta: DELTA })),
);
add(
  'ε, dpsgd q=256/60000 σ=1.1 T=1e5 (cold)',
  '< 1 ms',
  time(50, (i) => epsilonOf({ spec: dpsgd(1.1 * jitter(i), 100_000), delta: DELTA })),
);
add(
  'ε, dpsgd q=256/60000 σ=1.1 T=1e5 (warm)',
  '< 1 ms',
  time(50, () => epsilonOf({ spec: dpsgd(1.1, 100_000), delta: DELTA })),
);
add(
  'calibrate σ, dp2vae K=2500 T=1e4 ε=10',
  '< 20 ms',
  time(15, (i) =>
    calibrateSigma({
      spec: { mechanism: 'dp2vae', blocks: 2500 + i + 10, steps: 10_000 },
      epsilon: 10,
      delta: DELTA,
    }),
  ),
);
add(
  'calibrate σ, dpsgd q=256/60000 T=1e5 ε=3',
  '< 20 ms',
  time(15, (i) =>
    calibrateSigma({
      spec: { mechanism: 'dpsgd', sampleRate: (256 + i + 10) / 60000, steps: 100_000 },
      epsilon: 3,
      delta: DELTA,
    }),
  ),
);
const curve = (spec: MechanismSpecWithoutSteps) => (): void => {
  epsilonCurve({ spec, delta: DELTA, maxSteps: 100_000, points: 200 });
};
add(
  '200-point curve, dp2vae (cold)',
  '< 50 ms',
  time(20, (i) => curve({ mechanism: 'dp2vae', blocks: 2500, sigma: 0.975 * jitter(i) })()),
);
add(
  '200-point curve, dpsgd (cold)',
  '< 50 ms',
  time(20, (i) => curve({ mechanism: 'dpsgd', sampleRate: 256 / 60000, sigma: 1.1 * jitter(i) })()),
);

const width = Math.max(...rows.map((r) => r.what.length));
console.log(`${'benchmark'.padEnd(width)}  median ms  target`);
for (const r of rows) {
  console.log(`${r.what.padEnd(width)}  ${r.ms.toFixed(3).padStart(9)}  ${r.target}`);
}
