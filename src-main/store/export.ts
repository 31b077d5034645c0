/**
 * Exporting a run's releasable artifacts into a folder that leaves the
 * machine. The export is whole or absent: files are copied into a temporary
 * sibling `<outDir>.partial-…` which is renamed to `outDir` at the end and
 * removed on any error.
 *
 * The privacy boundary is checked here again, from the store, whatever the
 * caller asks: only artifacts registered releasable, of a releasable kind, of
 * this run, whose path lies inside the data home, reaches it through no
 * symbolic link, overlaps no private location (data set folders, private
 * artifacts, checkpoints), and whose files are neither symbolic links, nor
 * hard links (a second name could be a private file), nor the same file as
 * any private file. Anything else is refused with PRIVATE_ARTIFACT.
 */
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { UserError } from '../contract/errors';
import { renamePath, syncFile, syncFolder, writeAll } from '../io/whole-file';
import type { Artifact, ArtifactKind } from './artifacts';
import { getArtifact, isReleasableKind, listArtifacts, privateLocations } from './artifacts';
import { fromStoredPath, overlaps } from './paths';
import { getRun } from './runs';
import type { Store } from './types';

/** What to put in an export; with no `include`, every releasable artifact of the run. */
export interface ExportInclude {
  /** The stage-2 decoder. */
  decoder?: boolean;
  /** Synthetic samples as `.npz`. */
  samplesNpz?: boolean;
  /** Synthetic samples as PNG files (folder `CLASS/000001.png` or single PNGs). */
  samplesPng?: boolean;
  /** The privacy certificate. */
  certificate?: boolean;
  /** Sample grids drawn from the stage-2 decoder. */
  grids?: boolean;
  /** A method's noisy release (`mepf`), where the run made one. */
  release?: boolean;
  /** A released classifier's model folder (`randp`), where the run made one. */
  classifier?: boolean;
  /** Specific artifacts by id (each must be a releasable artifact of the run). */
  artifactIds?: readonly number[];
}

/** Options of `exportRun`. */
export interface ExportOptions {
  store: Store;
  runId: number;
  /** Folder to create; it must not exist, or be empty. */
  outDir: string;
  include?: ExportInclude;
}

/** What was exported. */
export interface ExportResult {
  /** Absolute path of the export folder. */
  outDir: string;
  /** One entry per artifact copied: its id, kind and name inside `outDir`. */
  files: { artifactId: number; kind: ArtifactKind; name: string }[];
}

const FLAGS = [
  'decoder',
  'samplesNpz',
  'samplesPng',
  'certificate',
  'grids',
  'release',
  'classifier',
] as const;
/** Flags that select what only some runs have: asked of a run without it, nothing is added. */
const WHERE_PRESENT: readonly Flag[] = ['release', 'classifier'];
type Flag = (typeof FLAGS)[number];
const PRIVATE_WORDS = [
  'encoder',
  'stage1',
  'checkpoint',
  'dataset',
  'array',
  'reconstruct',
  'thumbnail',
  'metric',
  'loss',
  'optimi',
  'private',
  'real',
  'train',
  'image',
];

/** Which flag selects an artifact, if any. */
function flagOf(a: Artifact): Flag | undefined {
  switch (a.kind) {
    case 'decoder':
      return 'decoder';
    case 'certificate':
      return 'certificate';
    case 'grid':
      return 'grids';
    case 'release':
      return 'release';
    case 'classifier':
      return 'classifier';
    case 'samples':
      return a.path.toLowerCase().endsWith('.npz') ? 'samplesNpz' : 'samplesPng';
    default:
      return undefined;
  }
}

function refuse(message: string): UserError {
  return new UserError('PRIVATE_ARTIFACT', `${message} Nothing was exported.`);
}

/** Checks the request at run time (it may come from an untyped caller). */
function readInclude(include: unknown): { flags: Set<Flag>; ids: number[]; explicit: boolean } {
  if (include === undefined) return { flags: new Set(FLAGS), ids: [], explicit: false };
  if (include === null || typeof include !== 'object' || Array.isArray(include)) {
    throw new UserError(
      'INVALID_INPUT',
      'The export request must say what to include, e.g. { decoder: true, certificate: true }.',
    );
  }
  const flags = new Set<Flag>();
  let ids: number[] = [];
  for (const [key, value] of Object.entries(include)) {
    if ((FLAGS as readonly string[]).includes(key)) {
      if (value !== undefined && typeof value !== 'boolean') {
        throw new UserError(
          'INVALID_INPUT',
          `In the export request, "${key}" must be true or false.`,
        );
      }
      if (value) flags.add(key as Flag);
    } else if (key === 'artifactIds') {
      if (!Array.isArray(value) || !value.every((v) => Number.isSafeInteger(v))) {
        throw new UserError(
          'INVALID_INPUT',
          'In the export request, "artifactIds" must be a list of artifact ids.',
        );
      }
      ids = value as number[];
    } else {
      const word = key.toLowerCase().replace(/[^a-z0-9]/g, '');
      if (PRIVATE_WORDS.some((w) => word.includes(w))) {
        throw refuse(
          `"${key}" touched private data without noise and can never be exported; only the decoder, samples, grids and the certificate can.`,
        );
      }
      throw new UserError(
        'INVALID_INPUT',
        `The export request has an unknown part "${key}"; use ${[...FLAGS, 'artifactIds'].join(', ')}.`,
      );
    }
  }
  if (flags.size === 0 && ids.length === 0) {
    throw new UserError(
      'INVALID_INPUT',
      'The export request includes nothing; choose the decoder, samples, grids or the certificate.',
    );
  }
  return { flags, ids, explicit: true };
}

/** Picks the artifacts to export, re-checking each against the store. */
function select(store: Store, runId: number, include: unknown): Artifact[] {
  const { flags, ids, explicit } = readInclude(include);
  const run = getRun(store, runId);
  const chosen = new Map<number, Artifact>();
  for (const id of ids) {
    const a = getArtifact(store, id);
    if (a.visibility !== 'releasable' || !isReleasableKind(a.kind)) {
      throw refuse(
        `Artifact ${id} (${a.kind}) is private: it touched private data without noise and never leaves the machine.`,
      );
    }
    if (a.runId !== run.id)
      throw new UserError(
        'INVALID_INPUT',
        `Artifact ${id} belongs to another run, not run ${run.id}.`,
      );
    if (a.deletedAt !== null) throw new UserError('NOT_FOUND', `Artifact ${id} was removed.`);
    chosen.set(a.id, a);
  }
  const available = listArtifacts(store, { runId: run.id, visibility: 'releasable' });
  for (const flag of flags) {
    const matching = available.filter((a) => flagOf(a) === flag);
    if (matching.length === 0 && explicit && !WHERE_PRESENT.includes(flag)) {
      throw new UserError(
        'NOT_FOUND',
        `Run ${run.id} has no ${flag} to export. Generate it first, or leave it out of the export.`,
      );
    }
    for (const a of matching) chosen.set(a.id, a);
  }
  if (chosen.size === 0) {
    throw new UserError(
      'NOT_FOUND',
      `Run ${run.id} has nothing releasable to export yet. Finish training and generate samples first.`,
    );
  }
  // Belt and braces: whatever the selection path, every artifact is releasable by row and kind.
  for (const a of chosen.values()) {
    if (a.visibility !== 'releasable' || !isReleasableKind(a.kind) || a.runId !== run.id) {
      throw refuse(`Artifact ${a.id} (${a.kind}) is private.`);
    }
  }
  return [...chosen.values()].sort((x, y) => x.id - y.id);
}

async function realOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

const inodeKey = (st: Stats): string => `${st.dev}:${st.ino}`;

/** Device/inode of every regular file under the private locations (links not followed). */
async function privateInodes(locations: readonly string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const walk = async (path: string): Promise<void> => {
    let st: Stats;
    try {
      st = await lstat(path);
    } catch {
      return;
    }
    if (st.isFile()) seen.add(inodeKey(st));
    else if (st.isDirectory()) {
      for (const name of await readdir(path).catch(() => [] as string[]))
        await walk(join(path, name));
    }
  };
  for (const p of locations) await walk(p);
  return seen;
}

function fsError(err: unknown, what: string): unknown {
  if (err instanceof UserError) return err;
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return new UserError(
        'NOT_FOUND',
        `${what} is missing. Generate it again, then export. Nothing was exported.`,
      );
    case 'EACCES':
    case 'EPERM':
      return new UserError(
        'INVALID_INPUT',
        `${what} cannot be read or written (permission denied). Check the file permissions. Nothing was exported.`,
      );
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new UserError(
        'INVALID_INPUT',
        `The disk is full while exporting ${what}. Free some space and export again. Nothing was exported.`,
      );
    case 'EIO':
      return new UserError(
        'INVALID_INPUT',
        `The disk reported an error while exporting ${what}. Check the disk, then export again. Nothing was exported.`,
      );
    default:
      return err;
  }
}

interface CopyContext {
  privateFiles: Set<string>;
}

async function copyEntry(src: string, dest: string, ctx: CopyContext): Promise<void> {
  const st = await lstat(src);
  if (st.isSymbolicLink()) {
    throw refuse(
      `${src} is a symbolic link; exports never follow links, as one could point at private data. Replace it with the file itself.`,
    );
  }
  if (st.isDirectory()) {
    await mkdir(dest);
    for (const name of (await readdir(src)).sort())
      await copyEntry(join(src, name), join(dest, name), ctx);
    return;
  }
  if (!st.isFile())
    throw new UserError(
      'INVALID_INPUT',
      `${src} is not a regular file or folder and cannot be exported. Nothing was exported.`,
    );
  const input = await open(src, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const fst = await input.stat();
    if (inodeKey(fst) !== inodeKey(st)) throw refuse(`${src} changed while it was being exported.`);
    if (ctx.privateFiles.has(inodeKey(fst)))
      throw refuse(`${src} is the same file as private data.`);
    if (fst.nlink > 1) {
      throw refuse(
        `${src} has other hard links, one of which could be private data. Replace it with a plain copy.`,
      );
    }
    const output = await open(dest, 'wx');
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (let position = 0; ;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        await writeAll(output, buffer.subarray(0, bytesRead), dest);
        position += bytesRead;
      }
      await syncFile(output, dest);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** Names inside the export: the artifact's own name, suffixed with its id on a clash. */
function exportNames(artifacts: readonly Artifact[]): string[] {
  const used = new Set<string>();
  return artifacts.map((a) => {
    let name = basename(a.path);
    if (used.has(name.toLowerCase())) {
      const ext = extname(name);
      name = `${name.slice(0, name.length - ext.length)}-${a.id}${ext}`;
    }
    used.add(name.toLowerCase());
    return name;
  });
}

/** Infix of an export's folder until it is complete: `<outDir>.partial-<pid>-<random>`. */
const PARTIAL = '.partial-';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * Removes the unfinished folders of earlier exports to `outDir` whose process
 * has ended (killed or powered off mid-export); they hold only releasable
 * copies, and their name already marks them incomplete.
 */
async function removeAbandonedPartials(outDir: string): Promise<void> {
  const prefix = `${basename(outDir)}${PARTIAL}`;
  for (const name of await readdir(dirname(outDir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid))
      await rm(join(dirname(outDir), name), { recursive: true, force: true });
  }
}

async function isEmptyDirOrMissing(path: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return true;
    throw err;
  }
  if (!st.isDirectory()) return false;
  return (await readdir(path)).length === 0;
}

/**
 * Copies the chosen releasable artifacts of a run into `outDir`, whole or not at all.
 * @throws UserError PRIVATE_ARTIFACT for anything private, ALREADY_EXISTS when
 *   `outDir` exists and is not empty, NOT_FOUND for a missing run or file.
 */
export async function exportRun(options: ExportOptions): Promise<ExportResult> {
  const { store, runId } = options;
  const outDir = resolve(options.outDir);
  const artifacts = store.db.transaction(() => select(store, runId, options.include))();
  const locations = privateLocations(store);

  const taken = [
    ...locations,
    ...listArtifacts(store, { includeDeleted: true }).map((a) => a.path),
  ].find((p) => overlaps(p, outDir));
  if (taken !== undefined || overlaps(outDir, store.path) || outDir === store.home) {
    throw new UserError(
      'INVALID_INPUT',
      `The export folder ${outDir} overlaps files DP² Studio keeps (${taken ?? store.path}). Choose a folder outside them.`,
    );
  }
  if (!(await isEmptyDirOrMissing(outDir))) {
    throw new UserError(
      'ALREADY_EXISTS',
      `The export folder ${outDir} already exists and is not empty. Choose a new folder or empty it first.`,
    );
  }

  // Where each artifact really is, refusing links on the way and private overlaps.
  const realHome = await realpath(store.home);
  const realPrivate = (await Promise.all(locations.map(realOrUndefined))).filter(
    (p): p is string => p !== undefined,
  );
  for (const a of artifacts) {
    const what = `Artifact ${a.id} (the ${a.kind} of run ${runId}, ${a.path})`;
    if (fromStoredPath(store, relative(store.home, a.path)) !== a.path)
      throw refuse(`${what} is outside the data folder.`);
    const clash = locations.find((p) => overlaps(p, a.path));
    if (clash !== undefined) throw refuse(`${what} overlaps private data at ${clash}.`);
    let real: string;
    try {
      real = await realpath(a.path);
    } catch (err) {
      throw fsError(err, what);
    }
    if (real !== join(realHome, relative(store.home, a.path))) {
      throw refuse(
        `${what} is reached through a symbolic link; exports never follow links, as one could point at private data.`,
      );
    }
    const realClash = realPrivate.find((p) => overlaps(p, real));
    if (realClash !== undefined) throw refuse(`${what} overlaps private data at ${realClash}.`);
  }
  const ctx: CopyContext = { privateFiles: await privateInodes([...locations, ...realPrivate]) };

  const names = exportNames(artifacts);
  const parent = dirname(outDir);
  const temp = `${outDir}${PARTIAL}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(parent, { recursive: true });
    await removeAbandonedPartials(outDir);
    await mkdir(temp);
  } catch (err) {
    throw fsError(err, `the export folder ${outDir}`);
  }
  try {
    for (const [i, a] of artifacts.entries()) {
      try {
        await copyEntry(a.path, join(temp, names[i] ?? String(a.id)), ctx);
      } catch (err) {
        throw fsError(err, `Artifact ${a.id} (the ${a.kind} of run ${runId}, ${a.path})`);
      }
    }
    if (!(await isEmptyDirOrMissing(outDir))) {
      throw new UserError(
        'ALREADY_EXISTS',
        `The export folder ${outDir} was filled by something else during the export. Choose a new folder.`,
      );
    }
    await rmdir(outDir).catch(() => undefined);
    try {
      await renamePath(temp, outDir);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EPERM') {
        throw new UserError(
          'ALREADY_EXISTS',
          `The export folder ${outDir} appeared during the export. Choose a new folder.`,
        );
      }
      throw fsError(err, `the export folder ${outDir}`);
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  // Make the rename itself durable where the platform allows syncing a folder.
  await syncFolder(parent);
  return {
    outDir,
    files: artifacts.map((a, i) => ({
      artifactId: a.id,
      kind: a.kind,
      name: names[i] ?? String(a.id),
    })),
  };
}
