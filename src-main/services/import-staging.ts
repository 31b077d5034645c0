/**
 * Where an import writes its data set, and the start-up clean-up of imports
 * that died half-way. Several processes may use one data folder at once (the
 * app, `dp2` in a terminal), so the clean-up removes only what is provably
 * abandoned:
 *
 * 1. Before it writes anything, an import creates an empty claim file whose
 *    name holds its owner (PID, connection, process start time; see
 *    store/owner.ts): `datasets/.importing-<id>.owner_<pid>_<conn>_<mark>`.
 *    Creating a file is atomic, so nobody ever sees a half-written claim.
 * 2. It writes `datasets/.importing-<id>/`, renames it to `datasets/<id>/`,
 *    commits the data set's row, and only then removes its claim.
 *
 * The clean-up lists the folder, then judges every claim, then reads the
 * rows. A data-set folder it listed was renamed after its claim was made; if
 * the claim is gone by the time it is judged, the row was committed before,
 * so the row query sees it. Hence: a folder is removed only when its claim's
 * owner is gone (or it has no claim) and no row owns it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeError } from '../data/fs-utils';
import { listDatasets } from '../store';
import type { Store } from '../store';
import { overlaps } from '../store/paths';
import { ownerGone, parseOwner } from '../store/owner';

/** Prefix of an import's folder until it is complete, and of its claim. */
export const IMPORTING_PREFIX = '.importing-';
const CLAIM_INFIX = '.owner_';
/** The names `randomUUID` gives: the only folders the clean-up may remove. */
const DATASET_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The folders of one import. */
export interface ImportFolders {
  id: string;
  /** Written first, under a temporary name. */
  staging: string;
  /** Where the complete data set is renamed to. */
  final: string;
  /** The claim that keeps other processes' clean-up away while this import runs. */
  claim: string;
}

function datasetsFolder(dataHome: string): string {
  return join(dataHome, 'datasets');
}

/**
 * Claims a new data set folder for an import by `owner` (the store's owner
 * string). Write into `staging`, rename it to `final`, record the row, then
 * call `releaseImport`; on failure call `abandonImport`.
 */
export async function claimImport(dataHome: string, owner: string): Promise<ImportFolders> {
  const id = randomUUID();
  const folder = datasetsFolder(dataHome);
  const claim = join(folder, `${IMPORTING_PREFIX}${id}${CLAIM_INFIX}${owner.replaceAll(':', '_')}`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(claim, '', { flag: 'wx' });
  } catch (err) {
    throw writeError(claim, err);
  }
  return { id, staging: join(folder, `${IMPORTING_PREFIX}${id}`), final: join(folder, id), claim };
}

/** The import is recorded: its folder now belongs to its row. */
export async function releaseImport(folders: ImportFolders): Promise<void> {
  await rm(folders.claim, { force: true });
}

/** The import failed: removes what it wrote, then its claim. */
export async function abandonImport(folders: ImportFolders): Promise<void> {
  await rm(folders.staging, { recursive: true, force: true });
  await rm(folders.final, { recursive: true, force: true });
  await rm(folders.claim, { force: true });
}

/** One entry of the datasets folder, as the clean-up reads it. */
export type DatasetsEntry =
  | { name: string; kind: 'staging' | 'folder'; id: string }
  | { name: string; kind: 'claim'; id: string; owner: string | null };

/**
 * Reads a name of the datasets folder; undefined for names that are not ours
 * to clean. Staging folders of any id count (earlier versions named them too).
 */
export function readDatasetsEntry(name: string): DatasetsEntry | undefined {
  if (DATASET_ID.test(name)) return { name, kind: 'folder', id: name };
  if (!name.startsWith(IMPORTING_PREFIX)) return undefined;
  const rest = name.slice(IMPORTING_PREFIX.length);
  const at = rest.indexOf(CLAIM_INFIX);
  if (at < 0) return rest ? { name, kind: 'staging', id: rest } : undefined;
  const id = rest.slice(0, at);
  if (!id) return undefined;
  const owner = rest.slice(at + CLAIM_INFIX.length).replaceAll('_', ':');
  return { name, kind: 'claim', id, owner: parseOwner(owner) ? owner : null };
}

/**
 * Which entries of the datasets folder to remove, in order (folders before
 * the claims that guard them): staging folders and claims of imports that
 * are not `live`, and data-set folders that are neither `live` nor `owned`
 * by a row.
 */
export function abandonedEntries(input: {
  entries: readonly DatasetsEntry[];
  live: ReadonlySet<string>;
  owned: ReadonlySet<string>;
}): string[] {
  const { entries, live, owned } = input;
  const folders = entries.filter(
    (e) => !live.has(e.id) && (e.kind === 'staging' || (e.kind === 'folder' && !owned.has(e.id))),
  );
  const claims = entries.filter((e) => e.kind === 'claim' && !live.has(e.id));
  return [...folders, ...claims].map((e) => e.name);
}

/**
 * At start-up: removes imports whose process is gone (their staging folders,
 * claims and unrecorded data-set folders) and data-set folders no row owns
 * (an import killed between its rename and its row). Imports of live
 * processes are left alone. Returns the removed paths.
 */
export function removeAbandonedImports(store: Store): string[] {
  const folder = datasetsFolder(store.home);
  if (!existsSync(folder)) return [];
  const entries = readdirSync(folder)
    .map(readDatasetsEntry)
    .filter((e): e is DatasetsEntry => e !== undefined);
  if (entries.length === 0) return [];
  // Order matters (see the top of this file): the listing, then the claims, then the rows.
  const live = new Set(
    entries
      .filter((e) => e.kind === 'claim' && !ownerGone(e.owner, store.owner, 'process'))
      .map((e) => e.id),
  );
  let rows: string[];
  try {
    rows = listDatasets(store, { includeDeleted: true }).map((d) => d.filesDir);
  } catch {
    return []; // a row we cannot read might own any folder: remove none
  }
  const owned = new Set(
    entries.filter((e) => rows.some((dir) => overlaps(join(folder, e.name), dir))).map((e) => e.id),
  );
  const removed: string[] = [];
  for (const name of abandonedEntries({ entries, live, owned })) {
    const path = join(folder, name);
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // In use or not ours to remove (permissions): the next start tries again.
    }
  }
  return removed;
}
