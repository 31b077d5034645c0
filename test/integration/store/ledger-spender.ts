/**
 * Child process of the ledger durability test: records one spend per step,
 * forever, and prints each step on stdout only after `recordSpend` returned.
 * Usage: node --import tsx ledger-spender.ts DB_PATH DATASET_ID RUN_ID, then a line on stdin.
 */
import { writeSync } from 'node:fs';
import { openStore, recordSpend, stepsSpent } from '../../../src-main/store';

const [path, datasetArg, runArg] = process.argv.slice(2);
if (!path || !datasetArg || !runArg)
  throw new Error('usage: ledger-spender DB_PATH DATASET_ID RUN_ID');
const datasetId = Number(datasetArg);
const runId = Number(runArg);

function spendForever(): never {
  const store = openStore({ path: path ?? '' });
  // Steps are never replayed here, so the steps spent so far are exactly 1..n.
  let step = stepsSpent(store, runId);
  writeSync(1, `ready ${step}\n`);
  for (;;) {
    step++;
    // Change sigma every 37 steps so the ledger both extends rows and appends new ones.
    const sigma = Math.floor(step / 37) % 2 === 0 ? 1 : 1.5;
    recordSpend(store, {
      datasetId,
      runId,
      spec: { mechanism: 'dp2vae', blocks: 10, sigma, clip: 1 },
      fromStep: step,
      toStep: step,
    });
    writeSync(1, `${step}\n`);
  }
}

// The modules are loaded now; wait for "go" on stdin (the parent starts the
// next child while the current one runs, to hide the start-up time).
process.stdin.once('data', () => spendForever());
