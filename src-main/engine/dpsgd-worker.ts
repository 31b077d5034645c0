/**
 * One worker thread of dpsgd-threads.ts: loads the coordinator's TensorFlow.js
 * backend, then, for each step it is sent, reads the current parameters from
 * shared memory, takes chunks of the step's records from the shared queue
 * and adds their clipped per-record gradients into its own shared vector
 * (dpsgd-shard.ts), and draws N(0, 1) values for its range of the
 * mechanism's noise from this thread's CSPRNG.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload } from '../contract/errors';
import { selectBackend } from './backend';
import type { ShardContext } from './dpsgd-shard';
import {
  drainClipped,
  drainCodes,
  type ShardJob,
  type ShardReply,
  type ShardWorkerData,
} from './dpsgd-threads';
import { tensorsOf } from './flat-params';
import { disposeAll } from './params';
import { recordNoiseFromSpec } from './record-noise';
import { SecureGaussian } from './secure-noise';

const data = workerData as ShardWorkerData;
const port = parentPort;
if (!port) throw new Error('dpsgd-worker.ts runs as a worker thread of dpsgd-threads.ts.');
const send = (m: ShardReply): void => port.postMessage(m);

const ctx: ShardContext = {
  arch: data.arch,
  data: data.data,
  clip: data.clip,
  refine: data.refine,
  recordNoise: recordNoiseFromSpec(data.noise),
  posteriors: data.posteriors,
  rows: data.rows,
  coupled: data.coupled,
};
const gaussian = new SecureGaussian();

function step(job: ShardJob): void {
  const params = tensorsOf(data.params, data.shapes);
  try {
    if (job.phase === 'codes') {
      drainCodes({
        ctx,
        encoder: params.slice(0, data.nEnc),
        queue: data.queue,
        count: job.count,
        chunk: job.chunk,
      });
      send({ type: 'done', figures: { records: 0, recon: 0, kl: 0, clipped: 0 } });
      return;
    }
    data.sum.fill(0);
    const figures = drainClipped({
      ctx,
      params: { encoder: params.slice(0, data.nEnc), decoder: params.slice(data.nEnc) },
      queue: data.queue,
      step: job.step,
      count: job.count,
      chunk: job.chunk,
      out: data.sum,
    });
    gaussian.fill(data.noiseOut.subarray(job.noiseFrom, job.noiseTo), 1);
    send({ type: 'done', figures });
  } finally {
    disposeAll(params);
  }
}

// The same backend as the coordinator, or a plain error (never a silent other one).
selectBackend({ env: { DP2_BACKEND: data.backend } }).then(
  () => {
    port.on('message', (job: ShardJob) => {
      try {
        step(job);
      } catch (err) {
        send({ type: 'failed', error: toErrorPayload(err) });
      }
    });
    send({ type: 'ready' });
  },
  (err: unknown) => send({ type: 'failed', error: toErrorPayload(err) }),
);
