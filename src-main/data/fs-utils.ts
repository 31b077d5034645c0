import { randomBytes } from 'node:crypto';
import { close as fsClose, fstat as fsFstat, open as fsOpen, read as fsRead } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../contract/errors';

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

/**
 * Reads a whole file unless it is larger than `maxBytes`; then only its first
 * 512 bytes are read (enough to recognise the format) and its size is
 * returned. The size is checked on the open file before anything is read.
 * Uses the callback API, which costs less per small file than fs.promises.
 */
export function readFileLimited(path: string, maxBytes: number): Promise<LimitedRead> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (err, fd) => {
      if (err) return reject(err);
      const finish = (e: Error | null, value?: LimitedRead): void => {
        fsClose(fd, (closeErr) => {
          const failure = e ?? closeErr;
          if (failure) reject(failure);
          else if (value) resolve(value);
        });
      };
      fsFstat(fd, (statErr, st) => {
        if (statErr) return finish(statErr);
        if (!st.isFile())
          return finish(Object.assign(new Error('not a regular file'), { code: 'EISDIR' }));
        const tooLarge = st.size > maxBytes;
        const want = tooLarge ? Math.min(512, st.size) : st.size;
        const buf = Buffer.allocUnsafe(want);
        let got = 0;
        const step = (): void => {
          if (got >= want) {
            return finish(
              null,
              tooLarge
                ? { kind: 'too-large', size: st.size, head: buf }
                : { kind: 'bytes', bytes: buf },
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
    });
  });
}
