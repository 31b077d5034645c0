/**
 * Child process of the cap race test: spends chunks of steps on one data set
 * through the runner's own write-ahead spend (`spendWithinCap`) until the cap
 * refuses, then prints how many steps it was granted.
 * Usage: node --import tsx cap-spender.ts DB_PATH DATASET_ID RUN_ID, then a line on stdin.
 */
import { writeSync } from 'node:fs';
import { spendWithinCap } from '../../../src-main/jobs/spend';
import { closeStore, openStore } from '../../../src-main/store';

const [path, datasetArg, runArg] = process.argv.slice(2);
if (!path || !datasetArg || !runArg)
  throw new Error('usage: cap-spender DB_PATH DATASET_ID RUN_ID');
const CHUNK = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

process.stdin.once('data', () => {
  const store = openStore({ path: path ?? '' });
  let next = 1;
  for (;;) {
    const granted = spendWithinCap(store, {
      datasetId: Number(datasetArg),
      runId: Number(runArg),
      noise: { mechanism: 'dpsgd', sampleRate: 0.02, sigma: 1 },
      fromStep: next,
      toStep: next + CHUNK - 1,
      delta: 1e-5,
    });
    if (granted < next + CHUNK - 1) {
      writeSync(1, `granted ${granted}\n`);
      break;
    }
    next = granted + 1;
    // The training steps the spend paid for (a worker spends between steps).
    Atomics.wait(pause, 0, 0, 1 + Math.random() * 3);
  }
  closeStore(store);
  process.exit(0);
});
writeSync(1, 'loaded\n');
