/**
 * One worker thread of parallel.ts: loads the parent's TensorFlow.js backend,
 * then makes the jobs it is sent, one at a time, on the images it was given
 * (shared memory), and answers each with its figures.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload } from '../contract/errors';
import { selectBackend } from '../engine/backend';
import { fidelityPart } from './evaluate';
import type { EvalJob, EvalWorkerData, EvalWorkerReply } from './parallel';
import { runUtility } from './utility';

const data = workerData as EvalWorkerData;
const port = parentPort;
if (!port) throw new Error('eval-worker.ts runs as a worker thread of parallel.ts.');

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** CPU seconds of this thread so far, where /proc tells (Linux); for the bench's figures. */
function threadCpu(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime), counted from the state field (3).
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

// The same backend as the parent, or a plain error (never a silent other one).
const ready = selectBackend({ env: { DP2_BACKEND: data.backend } });
// Its failure is reported with the first job (awaited there), not as an uncaught rejection.
ready.catch(() => undefined);
const send = (m: EvalWorkerReply): void => port.postMessage(m);

async function run(job: EvalJob): Promise<void> {
  const started = performance.now();
  const cpu0 = threadCpu();
  let last = 0;
  // At most ten progress messages a second (an MLP step takes a few ms).
  const onStep = (step: number, steps: number): void => {
    const now = performance.now();
    if (step < steps && now - last < 100) return;
    last = now;
    send({ type: 'progress', id: job.id, step, steps });
  };
  try {
    await ready;
    const value =
      job.part === 'utility'
        ? await runUtility({
            kind: job.kind,
            seed: job.seed,
            train: data.synthetic,
            test: data.realTest,
            classes: data.classes,
            config: job.config,
            onStep,
          })
        : await fidelityPart({
            synthetic: data.synthetic,
            realTest: data.realTest,
            realTrain: data.realTrain as NonNullable<EvalWorkerData['realTrain']>,
            classes: data.classes,
            ...(job.extractorConfig ? { extractorConfig: job.extractorConfig } : {}),
            onStep,
          });
    const cpu1 = threadCpu();
    send({
      type: 'done',
      id: job.id,
      value,
      seconds: (performance.now() - started) / 1000,
      ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuSeconds: cpu1 - cpu0 } : {}),
    });
  } catch (err) {
    send({ type: 'failed', id: job.id, error: toErrorPayload(err) });
  }
}

let queue = Promise.resolve();
port.on('message', (job: EvalJob) => {
  queue = queue.then(() => run(job));
});
