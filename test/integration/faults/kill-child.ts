/**
 * Child process of the kill -9 trials: opens a data folder through the normal
 * services, prints "ready", waits for a line on stdin, then runs one write
 * path and prints "done" when it finished. While training it prints each
 * stage-2 step as "step N" once the runner reported it (the step was taken).
 * Usage: node --import tsx kill-child.ts HOME OP ARG
 *   OP: import (ARG: source folder) | spend | checkpoint | export (ARG: out folder) | delete
 */
import { writeSync } from 'node:fs';
import { dispatch } from '../../../src-main/contract/dispatch';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { TRAINING } from './kill-harness';

const [home, op, arg] = process.argv.slice(2);
if (!home || !op) throw new Error('usage: kill-child HOME OP [ARG]');

const say = (line: string): void => void writeSync(1, `${line}\n`);

const schedules = {
  // A spend round-trip before every noisy step; no stage-2 checkpoint until the end.
  spend: { reserveChunk: 1, checkpointEvery: 1000, gridEvery: 0, epsilonEvery: 5 },
  // A checkpoint every other step.
  checkpoint: { reserveChunk: 4, checkpointEvery: 2, gridEvery: 0, epsilonEvery: 5 },
} as const;

async function main(): Promise<void> {
  const schedule = op === 'spend' || op === 'checkpoint' ? schedules[op] : undefined;
  const ctx = new ServiceContext(home!, schedule ? { schedule } : {});
  ctx.onRunEvent((e) => {
    if (e.type === 'progress' && e.stage === 'stage2') say(`step ${e.step}`);
  });
  const handlers = createServices(ctx);
  const store = ctx.store; // start-up housekeeping happens before "ready"
  say(`ready ${store.path}`);
  await new Promise((resolve) => process.stdin.once('data', resolve));
  let result;
  switch (op) {
    case 'import':
      result = await dispatch(handlers, 'datasets.import', { path: arg, name: 'imported' });
      break;
    case 'spend':
    case 'checkpoint':
      result = await dispatch(handlers, 'runs.start', TRAINING);
      break;
    case 'export':
      result = await dispatch(handlers, 'runs.export', { runId: 1, outDir: arg, perClass: 20 });
      break;
    case 'delete':
      result = await dispatch(handlers, 'datasets.delete', { name: 'digits' });
      break;
    default:
      throw new Error(`unknown operation ${op}`);
  }
  say(`done ${JSON.stringify(result)}`);
  ctx.close();
  process.exit(0);
}

void main();
