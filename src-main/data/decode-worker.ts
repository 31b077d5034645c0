/**
 * One decode worker thread of decode-pool.ts: decodes the files it is sent,
 * one at a time, brings their images to the target shape and sends them
 * back (transferred, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { toErrorPayload } from '../contract/errors';
import { prepareFile } from './decode-file';
import type { DecodeRequest, DecodeReply } from './decode-pool';
import { DicomWithoutImage, ensureDicomCodecs } from './dicom';
import { detectImageFormat } from './decode-image';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs as a worker thread of decode-pool.ts.');

async function run(m: DecodeRequest): Promise<DecodeReply> {
  try {
    if (detectImageFormat(m.bytes) === 'dicom') await ensureDicomCodecs();
    const file = prepareFile(m.bytes, m.where, m.options, m.target);
    return { id: m.id, ok: true, file };
  } catch (err) {
    const kind =
      err instanceof DicomWithoutImage
        ? 'dicom-without-image'
        : err instanceof RangeError
          ? 'out-of-memory'
          : 'error';
    return { id: m.id, ok: false, kind, error: toErrorPayload(err) };
  }
}

let queue = Promise.resolve();
port.on('message', (m: DecodeRequest) => {
  queue = queue.then(async () => {
    const reply = await run(m);
    const transfer = reply.ok ? reply.file.images.map((i) => i.pixels.buffer as ArrayBuffer) : [];
    port.postMessage(reply, transfer);
  });
});
