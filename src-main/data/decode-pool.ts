/**
 * Decodes image files on worker threads, so a large import uses every core:
 * decoding (DICOM codecs, PNG inflate) is most of an import's time. The scan
 * reads a batch of files, hands each to the least-busy worker and handles
 * the results in file order, so the data set is the same as when decoded in
 * one thread.
 */
import type { Worker } from 'node:worker_threads';
import { UserError } from '../contract/errors';
import type { ErrorPayload } from '../contract/errors';
import { startModuleWorker } from '../engine/worker-thread';
import type { DecodeFileOptions, PreparedFile } from './decode-file';
import type { TargetShape } from './preprocess';
import { DicomWithoutImage } from './dicom';

/** A file for a worker. */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  where: string;
  options: DecodeFileOptions;
  target: TargetShape;
}

/** A worker's answer: the file's images, or what went wrong (rebuilt as the same error here). */
export type DecodeReply =
  | { id: number; ok: true; file: PreparedFile }
  | {
      id: number;
      ok: false;
      kind: 'error' | 'dicom-without-image' | 'out-of-memory';
      error: ErrorPayload;
    };

/**
 * Fewest files for which worker threads repay their start (under a second
 * each when bundled, 1–2 s under tsx): a few hundred 512×512 DICOM files.
 */
export const MIN_FILES_FOR_WORKERS = 200;

interface Pending {
  resolve: (file: PreparedFile) => void;
  reject: (err: Error) => void;
  worker: number;
}

function rebuild(reply: Extract<DecodeReply, { ok: false }>): Error {
  if (reply.kind === 'dicom-without-image') {
    return new DicomWithoutImage(reply.error.message);
  }
  if (reply.kind === 'out-of-memory') return new RangeError(reply.error.message);
  return new UserError(reply.error.code, reply.error.message);
}

/** A fixed set of decode worker threads. */
export class DecodePool {
  private readonly workers: Worker[];
  private readonly busy: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(threads: number) {
    this.workers = Array.from({ length: threads }, () => {
      const worker = startModuleWorker({ here: import.meta.url, name: 'decode-worker' });
      worker.on('message', (reply: DecodeReply) => this.settle(reply));
      const fail = (err: Error): void => this.fail(err);
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (code !== 0) fail(new Error(`a decode worker thread ended (exit code ${code})`));
      });
      return worker;
    });
    this.busy = this.workers.map(() => 0);
  }

  /** Decodes one file on the least-busy worker and brings its images to `target`. */
  decode(
    bytes: Uint8Array,
    where: string,
    options: DecodeFileOptions,
    target: TargetShape,
  ): Promise<PreparedFile> {
    if (this.failure) return Promise.reject(this.failure);
    let w = 0;
    for (let i = 1; i < this.busy.length; i++) if (this.busy[i]! < this.busy[w]!) w = i;
    const id = this.nextId++;
    this.busy[w]!++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: w });
      const request: DecodeRequest = { id, bytes, where, options, target };
      this.workers[w]!.postMessage(request);
    });
  }

  private settle(reply: DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    this.busy[p.worker]!--;
    if (reply.ok) p.resolve(reply.file);
    else p.reject(rebuild(reply));
  }

  /** A worker that died fails every file waiting, and the pool refuses more. */
  private fail(err: Error): void {
    this.failure ??= new UserError(
      'INTERNAL',
      `Decoding the images stopped: ${err.message}. Import again; if it keeps happening, set DP2_IMPORT_THREADS=1.`,
    );
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
