import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfCancelled, isIgnoredName } from './context';
import type { ScanContext } from './context';
import { closeOpened, openSized, readCost, readOpened } from './fs-utils';
import type { ImageTree, TreeFile, TreeRead } from './image-tree';

const MAX_DEPTH = 32;

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'ENOENT') return 'it disappeared while being read';
  if (e.code === 'EISDIR') return 'it is not a regular file';
  return e.message;
}

/**
 * Lists a folder tree for import. Symbolic links are followed, but every
 * folder (by device and inode) and every linked file (by real path) is read
 * at most once: links that lead back into a folder already read — loops
 * included — are skipped and reported. Links are followed only after the
 * plain tree, so a file keeps the class of its real folder. Hidden files and
 * system clutter are skipped silently.
 */
export async function walkFolder(root: string, ctx: ScanContext): Promise<ImageTree> {
  const { log } = ctx;
  const files: TreeFile[] = [];
  const dirs: string[][] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const deferred: { full: string; rel: string[]; depth: number }[] = [];
  const rootStat = await stat(root);
  seenDirs.add(`${rootStat.dev}:${rootStat.ino}`);
  const realRoot = await realpath(root);

  const visitDir = async (
    dir: string,
    realDir: string,
    rel: string[],
    depth: number,
  ): Promise<void> => {
    throwIfCancelled(ctx);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      log.error(
        'unreadable-folder',
        dir,
        `This folder cannot be read (${errorText(err)}).`,
        'Check its permissions, then import again.',
      );
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (isIgnoredName(e.name)) continue;
      const full = join(dir, e.name);
      const r = [...rel, e.name];
      if (e.isSymbolicLink()) {
        deferred.push({ full, rel: r, depth });
      } else if (e.isDirectory()) {
        await enterDir(full, join(realDir, e.name), r, depth);
      } else if (e.isFile()) {
        seenFiles.add(join(realDir, e.name));
        files.push({ rel: r, display: full });
      } else {
        log.warn(
          'not-a-file',
          full,
          'is not a regular file (a device, socket or pipe); it is ignored.',
          'Nothing to do.',
        );
      }
    }
  };

  const enterDir = async (
    full: string,
    real: string,
    rel: string[],
    depth: number,
    via?: string,
  ): Promise<void> => {
    let key: string;
    try {
      const st = await stat(full);
      key = `${st.dev}:${st.ino}`;
    } catch (err) {
      log.error(
        'unreadable-folder',
        full,
        `This folder cannot be read (${errorText(err)}).`,
        'Check its permissions, then import again.',
      );
      return;
    }
    if (seenDirs.has(key)) {
      log.warn(
        'symlink-loop',
        via ?? full,
        `is a link to ${real}, a folder that is already read (a link loop or a second way to the same images); it is skipped so no image is counted twice.`,
        'Nothing to do; remove the link if it is a mistake.',
      );
      return;
    }
    if (depth >= MAX_DEPTH) {
      log.warn(
        'too-deep',
        full,
        `is nested more than ${MAX_DEPTH} folders deep; it is skipped.`,
        'Move its images closer to the class folder.',
      );
      return;
    }
    seenDirs.add(key);
    dirs.push(rel);
    await visitDir(full, real, rel, depth + 1);
  };

  await visitDir(root, realRoot, [], 0);
  // Links last: each may add more links, which are handled in turn.
  for (let i = 0; i < deferred.length; i++) {
    throwIfCancelled(ctx);
    const link = deferred[i];
    if (!link) continue;
    let real: string;
    let isDir: boolean;
    let isFile: boolean;
    try {
      real = await realpath(link.full);
      const st = await stat(real);
      isDir = st.isDirectory();
      isFile = st.isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') {
        log.warn(
          'symlink-loop',
          link.full,
          'is a link that loops back on itself; it is skipped.',
          'Remove the link.',
        );
      } else {
        log.warn(
          'broken-link',
          link.full,
          'is a link to something that does not exist; it is skipped.',
          'Remove the link or fix its target.',
        );
      }
      continue;
    }
    if (isDir) {
      await enterDir(link.full, real, link.rel, link.depth, link.full);
    } else if (isFile) {
      if (seenFiles.has(real)) {
        log.warn(
          'link-duplicate',
          link.full,
          `is a link to ${real}, which is already imported; it is skipped.`,
          'Nothing to do.',
        );
        continue;
      }
      seenFiles.add(real);
      files.push({ rel: link.rel, display: link.full });
    }
  }

  /** Bytes taken from the budget by the reads handed out last (held until the next batch). */
  let held = 0;
  /**
   * Reads the longest prefix of `batch` that fits in the scan's read budget
   * (at least one file): every file is opened and sized first, nothing is
   * allocated for a file that does not fit, and those are read concurrently.
   */
  const readBatch = async (batch: readonly TreeFile[]): Promise<TreeRead[]> => {
    ctx.budget.give(held);
    held = 0;
    const opened = await Promise.all(
      batch.map((f) =>
        openSized(f.display).then(
          (file) => ({ file }),
          (err: unknown) => ({ error: errorText(err) }),
        ),
      ),
    );
    const reads: Promise<TreeRead>[] = [];
    let i = 0;
    for (; i < opened.length; i++) {
      const o = opened[i];
      if (!o) break;
      if ('error' in o) {
        reads.push(Promise.resolve({ kind: 'error', message: o.error }));
        continue;
      }
      const cost = readCost(o.file.size, ctx.maxFileBytes);
      if (!ctx.budget.fits(cost)) break;
      ctx.budget.take(cost);
      held += cost;
      reads.push(
        readOpened(o.file, ctx.maxFileBytes).catch((err: unknown): TreeRead => ({
          kind: 'error',
          message: errorText(err),
        })),
      );
    }
    await Promise.all(opened.slice(i).map((o) => ('file' in o ? closeOpened(o.file) : undefined)));
    return Promise.all(reads);
  };

  return { files, dirs, readBatch };
}
