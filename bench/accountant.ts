/**
 * Benchmarks of the privacy accountants (RDP and PLD). Prints median times;
 * never asserts. Run: node --import tsx bench/accountant.ts
 *
 * "cold" runs use a slightly different σ (calibration: a different K or q) on
 * every repetition so that no cached per-step RDP vector or PLD can be reused;
 * "warm" repeats the same query (what the live Budget Explorer does while only
 * T changes). PLD rows use the default grid width 1e-4.
 */
import {
  calibrateSigma,
  epsilonCurve,
  epsilonOf,
  maxSteps,
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

// --- PLD ----------------------------------------------------------------------
// Each cold row draws σ values no other row uses (the PLD caches one-step PLDs).
let fresh = 1000;
const coldJitter = (): number => jitter(fresh++);
for (const steps of [1_000, 10_000, 100_000]) {
  add(
    `PLD ε, dpsgd q=256/60000 σ=1.1 T=${steps.toExponential(0)} (cold)`,
    '< 1 s',
    time(5, () =>
      epsilonOf({ spec: dpsgd(1.1 * coldJitter(), steps), delta: DELTA, accountant: 'pld' }),
    ),
  );
}
add(
  'PLD ε, dpsgd q=256/60000 σ=1.1 T=1e4 (warm)',
  '—',
  time(5, () => epsilonOf({ spec: dpsgd(1.1, 10_000), delta: DELTA, accountant: 'pld' })),
);
for (const steps of [1_000, 10_000, 100_000]) {
  add(
    `PLD ε, dp2vae K=2500 σ=0.975 T=${steps.toExponential(0)} (cold)`,
    '< 1 s',
    time(3, () =>
      epsilonOf({ spec: dp2vae(0.975 * coldJitter(), steps), delta: DELTA, accountant: 'pld' }),
    ),
  );
}
add(
  'PLD calibrate σ, dpsgd q=256/60000 T=1e4 ε=3',
  '—',
  time(3, (i) =>
    calibrateSigma({
      spec: { mechanism: 'dpsgd', sampleRate: (256 + i + 10) / 60000, steps: 10_000 },
      epsilon: 3,
      delta: DELTA,
      accountant: 'pld',
    }),
  ),
);
add(
  'PLD calibrate σ, dp2vae K=2500 T=1e4 ε=10',
  '—',
  time(3, (i) =>
    calibrateSigma({
      spec: { mechanism: 'dp2vae', blocks: 2500 + i + 10, steps: 10_000 },
      epsilon: 10,
      delta: DELTA,
      accountant: 'pld',
    }),
  ),
);
add(
  'PLD maxSteps, dpsgd q=256/60000 σ=1.1 ε=3',
  '—',
  time(3, () =>
    maxSteps({
      spec: { mechanism: 'dpsgd', sampleRate: 256 / 60000, sigma: 1.1 * coldJitter() },
      epsilon: 3,
      delta: DELTA,
      accountant: 'pld',
    }),
  ),
);
add(
  '20-point PLD curve, dpsgd to T=1e5 (cold)',
  '—',
  time(3, () =>
    epsilonCurve({
      spec: { mechanism: 'dpsgd', sampleRate: 256 / 60000, sigma: 1.1 * coldJitter() },
      delta: DELTA,
      maxSteps: 100_000,
      points: 20,
      accountant: 'pld',
    }),
  ),
);

const width = Math.max(...rows.map((r) => r.what.length));
console.log(`${'benchmark'.padEnd(width)}  median ms  target`);
for (const r of rows) {
  console.log(`${r.what.padEnd(width)}  ${r.ms.toFixed(3).padStart(9)}  ${r.target}`);
}
