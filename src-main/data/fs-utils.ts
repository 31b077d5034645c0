import { randomBytes } from 'node:crypto';
import { close as fsClose, fstat as fsFstat, open as fsOpen, read as fsRead } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../contract/errors';
import { formatBytes } from './limits';

/** Turns a file-system error while writing `file` into a plain UserError where the user can act. */
export function writeError(file: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EEXIST')
    return new UserError('ALREADY_EXISTS', `${file} already exists. Choose an empty folder.`);
  if (e.code === 'ENOSPC')
    return new UserError(
      'INVALID_INPUT',
      `The disk holding ${file} is full. Free some space or choose another folder.`,
    );
  if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') {
    return new UserError(
      'INVALID_INPUT',
      `DP² Studio may not write ${file}. Choose a folder you can write to.`,
    );
  }
  if (e.code === 'ENOENT')
    return new UserError(
      'NOT_FOUND',
      `The folder of ${file} does not exist. Choose an existing folder.`,
    );
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Writes `chunks` to `file` atomically: into a temporary file beside it,
 * flushed to disk, then renamed over `file`. A crash leaves either the old
 * file or the new one, never half of one.
 */
export async function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const fh = await open(tmp, 'wx');
    try {
      for (const c of chunks) {
        let done = 0;
        while (done < c.length) {
          const { bytesWritten } = await fh.write(c, done, c.length - done);
          done += bytesWritten;
        }
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(file, err);
  }
}

/** What readFileLimited found: the bytes, or for a file over the limit its size and first bytes. */
export type LimitedRead =
  { kind: 'bytes'; bytes: Uint8Array } | { kind: 'too-large'; size: number; head: Uint8Array };

/** A regular file opened for reading, with its size when opened. */
export interface OpenedFile {
  fd: number;
  size: number;
}

/** Opens a regular file and reads its size (nothing of its contents); rejects with EISDIR for anything else. */
export function openSized(path: string): Promise<OpenedFile> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (err, fd) => {
      if (err) return reject(err);
      fsFstat(fd, (statErr, st) => {
        const failure =
          statErr ??
          (st.isFile() ? null : Object.assign(new Error('not a regular file'), { code: 'EISDIR' }));
        if (!failure) return resolve({ fd, size: st.size });
        fsClose(fd, () => reject(failure));
      });
    });
  });
}

/** Closes a file opened by openSized without reading it. */
export function closeOpened(file: OpenedFile): Promise<void> {
  return new Promise((resolve) => fsClose(file.fd, () => resolve()));
}

/** Bytes a read of a file of `size` holds in memory (its first 512 bytes when it is over `maxBytes`). */
export function readCost(size: number, maxBytes: number): number {
  return size > maxBytes ? Math.min(512, size) : size;
}

/**
 * Reads a file opened by openSized, then closes it: the whole file unless it
 * was larger than `maxBytes` when opened; then only its first 512 bytes
 * (enough to recognise the format) and its size. Never reads more than the
 * size found when it was opened (a file that grows meanwhile is cut there).
 * Failing to allocate gives a plain error (code ENOMEM).
 */
export function readOpened(file: OpenedFile, maxBytes: number): Promise<LimitedRead> {
  const { fd, size } = file;
  return new Promise((resolve, reject) => {
    const finish = (e: Error | null, value?: LimitedRead): void => {
      fsClose(fd, (closeErr) => {
        const failure = e ?? closeErr;
        if (failure) reject(failure);
        else if (value) resolve(value);
      });
    };
    const tooLarge = size > maxBytes;
    const want = readCost(size, maxBytes);
    let buf: Buffer;
    try {
      buf = Buffer.allocUnsafe(want);
    } catch {
      return finish(
        Object.assign(
          new Error(`there is not enough free memory to read it (${formatBytes(want)})`),
          { code: 'ENOMEM' },
        ),
      );
    }
    let got = 0;
    const step = (): void => {
      if (got >= want) {
        return finish(
          null,
          tooLarge ? { kind: 'too-large', size, head: buf } : { kind: 'bytes', bytes: buf },
        );
      }
      fsRead(fd, buf, got, want - got, got, (readErr, n) => {
        if (readErr) return finish(readErr);
        if (n === 0) {
          // The file shrank while being read: return what is there.
          return finish(null, { kind: 'bytes', bytes: buf.subarray(0, got) });
        }
        got += n;
        step();
      });
    };
    step();
  });
}

/**
 * Reads a whole file unless it is larger than `maxBytes`; then only its first
 * 512 bytes are read (enough to recognise the format) and its size is
 * returned. The size is checked on the open file before anything is read.
 * Uses the callback API, which costs less per small file than fs.promises.
 */
export async function readFileLimited(path: string, maxBytes: number): Promise<LimitedRead> {
  return readOpened(await openSized(path), maxBytes);
}
