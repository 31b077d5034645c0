// kill -9 at random points of every write path (import, spend, checkpoint,
// export, delete): prepares a data folder once, then runs the trials of
// test/integration/faults/kill-harness.ts and prints, per path, the trials,
// how many were killed mid-way, and every invariant found broken.
// Usage: npm run bench kill-trials   (or: node --import tsx bench/kill-trials.ts [trials])
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPS, prepareTemplate, runTrials } from '../test/integration/faults/kill-harness';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 200);
  const perOp = Math.ceil(total / OPS.length);
  const root = mkdtempSync(join(tmpdir(), 'dp2-kill-bench-'));
  const began = performance.now();
  try {
    const template = await prepareTemplate(root);
    console.log(`template ready in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    const summary = await runTrials(template, {
      perOp,
      log: (line) => {
        if (line.includes('—')) console.log(line);
      },
    });
    const seconds = (performance.now() - began) / 1000;
    console.log(`\n${summary.trials} trials in ${seconds.toFixed(0)} s`);
    console.log('path        trials  killed  finished  violations');
    for (const op of OPS) {
      const s = summary.perOp[op];
      console.log(
        `${op.padEnd(10)}  ${String(s.trials).padStart(6)}  ${String(s.killed).padStart(6)}  ${String(s.finished).padStart(8)}  ${String(s.violations).padStart(10)}`,
      );
    }
    if (summary.violations.size === 0) console.log('no invariant was broken');
    for (const [what, n] of summary.violations) console.log(`VIOLATION ×${n}: ${what}`);
    process.exitCode = summary.violations.size === 0 ? 0 : 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
