/**
 * One worker thread of features-parallel.ts: loads the parent's TensorFlow.js
 * backend and the prior (its SHA-256 checked here too), then computes the
 * features of the chunks it is sent, one at a time, from the images in shared
 * memory, and sends each chunk's features back (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload } from '../contract/errors';
import { selectBackend } from '../engine/backend';
import { extractFeatures } from './features';
import type { FeatureChunk, FeatureWorkerData, FeatureWorkerReply } from './features-parallel';
import { loadPrior } from './prior-file';

const data = workerData as FeatureWorkerData;
const port = parentPort;
if (!port) throw new Error('features-worker.ts runs as a worker thread of features-parallel.ts.');

// The same backend as the parent (never a silent other one), then the prior on it.
const ready = selectBackend({ env: { DP2_BACKEND: data.backend } }).then(
  () => loadPrior(data.prior, data.folder).net,
);
// Its failure is reported with the first chunk (awaited there), not as an uncaught rejection.
ready.catch(() => undefined);
const send = (m: FeatureWorkerReply, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(m, transfer);

async function run(chunk: FeatureChunk): Promise<void> {
  try {
    const net = await ready;
    const { images, readout, batchSize, map } = data;
    const per = images.height * images.width * images.channels;
    const { features, dims } = await extractFeatures(
      net,
      {
        ...images,
        x: images.x.subarray(chunk.start * per, chunk.end * per),
        count: chunk.end - chunk.start,
      },
      {
        readout,
        batchSize,
        map,
        onProgress: (done) => send({ type: 'progress', id: chunk.id, done }),
      },
    );
    send({ type: 'done', id: chunk.id, features, dims }, [features.buffer as ArrayBuffer]);
  } catch (err) {
    send({ type: 'failed', id: chunk.id, error: toErrorPayload(err) });
  }
}

let queue = Promise.resolve();
port.on('message', (chunk: FeatureChunk) => {
  queue = queue.then(() => run(chunk));
});
