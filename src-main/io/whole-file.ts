/**
 * Writing files that must be whole or absent (training checkpoints, exports).
 * Every write, flush and rename of those writers goes through the four
 * functions here, so a test can make the N-th one fail (`injectWriteFaults`),
 * as SQLite's own tests do with its VFS. Without a fault plan each is the
 * plain `node:fs` call.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../contract/errors';

/** One step of writing a file, as a fault plan sees it. */
export type WriteStep = 'write' | 'sync' | 'rename';

/**
 * What a fault plan answers for a step: go on, fail before doing anything
 * (`fail`), or write half of the bytes and then fail (`torn`; for writes).
 * The failure is an `EIO` error unless the plan gives another errno code.
 */
export type FaultAnswer = 'ok' | 'fail' | 'torn' | { code: string };

/** Decides the fate of each step; tests only. */
export type WriteFaultPlan = (step: WriteStep, path: string) => FaultAnswer;

let plan: WriteFaultPlan | undefined;

/** Installs a fault plan (tests only); returns the function that removes it. */
export function injectWriteFaults(faults: WriteFaultPlan): () => void {
  plan = faults;
  return () => {
    if (plan === faults) plan = undefined;
  };
}

function injected(code: string, step: WriteStep, path: string): Error {
  return Object.assign(new Error(`${code}: injected fault, ${step} '${path}'`), { code });
}

/** The plan's answer for a step; throws for `fail`. */
function ask(step: WriteStep, path: string): 'ok' | 'torn' {
  const answer = plan?.(step, path) ?? 'ok';
  if (answer === 'ok' || answer === 'torn') return answer;
  throw injected(answer === 'fail' ? 'EIO' : answer.code, step, path);
}

/** Writes all of `bytes` at the handle's position (loops over short writes). */
export async function writeAll(fh: FileHandle, bytes: Uint8Array, path: string): Promise<void> {
  let length = bytes.length;
  if (ask('write', path) === 'torn') length = Math.floor(length / 2);
  for (let done = 0; done < length;) {
    done += (await fh.write(bytes, done, length - done)).bytesWritten;
  }
  if (length < bytes.length) throw injected('EIO', 'write', path);
}

/** Flushes a file's data and size to the disk. */
export async function syncFile(fh: FileHandle, path: string): Promise<void> {
  ask('sync', path);
  await fh.sync();
}

/** Renames `from` to `to` (atomic within one file system). */
export async function renamePath(from: string, to: string): Promise<void> {
  ask('rename', to);
  await rename(from, to);
}

/** Makes a rename in `dir` durable where the platform can flush a folder (not Windows). */
export async function syncFolder(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Folders cannot be flushed on Windows; the rename is still atomic there.
  }
}

/**
 * Writes `bytes` to `path` whole or not at all: a temporary file beside it,
 * flushed, renamed over `path`, then the folder flushed. On any failure the
 * temporary file is removed and `path` is as it was (absent, or its old bytes).
 * Errors the user can act on (disk full, no permission) become a UserError
 * naming `what`.
 */
export async function writeWholeFile(path: string, bytes: Uint8Array, what: string): Promise<void> {
  const tmp = join(
    dirname(path),
    `${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const fh = await open(tmp, 'wx');
    try {
      await writeAll(fh, bytes, tmp);
      await syncFile(fh, tmp);
    } finally {
      await fh.close();
    }
    await renamePath(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeFailure(err, what, path);
  }
  await syncFolder(dirname(path));
}

/**
 * Turns a file-system error while writing `what` (at `path`) into a plain
 * UserError where the user can act: disk or quota full, file too large for
 * the file system, read-only or forbidden folder, a failing disk. Other
 * errors pass unchanged.
 */
export function writeFailure(err: unknown, what: string, path: string): unknown {
  if (err instanceof UserError) return err;
  switch ((err as { code?: string }).code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new UserError(
        'INVALID_INPUT',
        `The disk is full: ${what} could not be written to ${path}. Free some space on that disk and try again.`,
      );
    case 'EFBIG':
      return new UserError(
        'INVALID_INPUT',
        `${what} is too large for the disk or file system at ${path}. Free some space or choose another disk, and try again.`,
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new UserError(
        'INVALID_INPUT',
        `DP² Studio may not write ${what} to ${path} (permission denied or read-only disk). Choose a folder you can write to.`,
      );
    case 'EIO':
      return new UserError(
        'INVALID_INPUT',
        `The disk reported an error while writing ${what} to ${path}. Check the disk, then try again.`,
      );
    default:
      return err;
  }
}
