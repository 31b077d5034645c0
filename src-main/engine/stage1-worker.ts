/**
 * One worker thread of stage1-threads.ts: loads the coordinator's
 * TensorFlow.js backend, then trains each group of blocks it is sent
 * (stage1.ts' trainGroup, the same code as in one thread) and sends back
 * its encoders; a few progress messages a second meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload } from '../contract/errors';
import { selectBackend } from './backend';
import { trainGroup } from './stage1';
import type { Stage1Reply, Stage1WorkerData } from './stage1-threads';

const data = workerData as Stage1WorkerData;
const port = parentPort;
if (!port) throw new Error('stage1-worker.ts runs as a worker thread of stage1-threads.ts.');
const send = (m: Stage1Reply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

async function train(group: number): Promise<void> {
  let last = 0;
  const flats = await trainGroup(data.setup, data.groups[group] as number[], (step, terms) => {
    const now = performance.now();
    // Every step counts for the progress, so the last of a burst is always sent.
    if (now - last < 100 && step < data.setup.steps) return;
    last = now;
    send({ type: 'step', group, step, ...terms });
  });
  if (!flats) return;
  send(
    { type: 'done', group, flats },
    flats.map((f) => f.buffer as ArrayBuffer),
  );
}

// The same backend as the coordinator, or a plain error (never a silent other one).
selectBackend({ env: { DP2_BACKEND: data.backend } }).then(
  () => {
    port.on('message', (group: number) => {
      train(group).catch((err: unknown) => send({ type: 'failed', error: toErrorPayload(err) }));
    });
    send({ type: 'ready' });
  },
  (err: unknown) => send({ type: 'failed', error: toErrorPayload(err) }),
);
