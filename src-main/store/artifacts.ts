/**
 * Files the app produced, each marked `private` or `releasable`. The kind
 * decides what may be releasable: only the stage-2 decoder and what is
 * computed from it ('decoder', 'samples', 'certificate', 'grid'). The same
 * rule is a CHECK constraint in the schema, and a private artifact can never
 * be turned releasable (trigger). Private and releasable files must live in
 * separate folders: a releasable path may not contain or sit inside a private
 * one (data set folder, private artifact, checkpoint).
 */
import { UserError } from '../contract/errors';
import { getDataset } from './datasets';
import { nowIso, requireInt, stmt, writeTx } from './internal';
import { fromStoredPath, overlaps, toStoredPath } from './paths';
import { getRun } from './runs';
import { ARTIFACT_KINDS, RELEASABLE_KINDS } from './schema';
import type { Store } from './types';

/** Kind of artifact. */
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];
/** Whether an artifact may leave the machine. */
export type Visibility = 'private' | 'releasable';

/** A registered artifact. */
export interface Artifact {
  id: number;
  datasetId: number;
  runId: number | null;
  kind: ArtifactKind;
  visibility: Visibility;
  /** Absolute path (file or folder). */
  path: string;
  bytes: number | null;
  createdAt: string;
  /** Set when removed with its data set. */
  deletedAt: string | null;
}

/** What `registerArtifact` needs. */
export interface NewArtifact {
  kind: ArtifactKind;
  /** Defaults to the run's data set when `runId` is given. */
  datasetId?: number;
  runId?: number | null;
  /** File or folder inside the data home (absolute or relative to it). */
  path: string;
  /** Defaults to what the kind implies; 'releasable' is refused for a private kind. */
  visibility?: Visibility;
  bytes?: number | null;
}

interface ArtifactRow {
  id: number;
  dataset_id: number;
  run_id: number | null;
  kind: ArtifactKind;
  visibility: Visibility;
  path: string;
  bytes: number | null;
  created_at: string;
  deleted_at: string | null;
}

/** Whether artifacts of this kind may be releasable. */
export function isReleasableKind(kind: string): boolean {
  return (RELEASABLE_KINDS as readonly string[]).includes(kind);
}

/** Converts a row; undefined path when the stored path escapes the data home. */
export function toArtifact(store: Store, row: ArtifactRow): Artifact {
  const path = fromStoredPath(store, row.path);
  if (path === undefined) {
    throw new UserError(
      'CORRUPT_DATA',
      `Artifact ${row.id} points outside the data folder. Restore the database from a backup.`,
    );
  }
  return {
    id: row.id,
    datasetId: row.dataset_id,
    runId: row.run_id,
    kind: row.kind,
    visibility: row.visibility,
    path,
    bytes: row.bytes,
    createdAt: row.created_at,
    deletedAt: row.deleted_at,
  };
}

/**
 * Absolute paths (as stored, not resolved on disk) of everything private: all
 * data set folders (deleted ones too), all private artifacts and all
 * checkpoints. Rows whose path escapes the data home are skipped.
 */
export function privateLocations(store: Store): string[] {
  const rows = stmt(
    store,
    `SELECT files_dir AS path FROM datasets
     UNION SELECT path FROM artifacts WHERE visibility = 'private'
     UNION SELECT path FROM checkpoints`,
  ).all() as { path: string }[];
  return rows.flatMap((r) => {
    const abs = fromStoredPath(store, r.path);
    return abs === undefined ? [] : [abs];
  });
}

/**
 * Registers an artifact.
 * @throws UserError PRIVATE_ARTIFACT when a private kind is registered
 *   releasable, or a releasable path overlaps a private location.
 */
export function registerArtifact(store: Store, input: NewArtifact): Artifact {
  if (!(ARTIFACT_KINDS as readonly string[]).includes(input.kind)) {
    throw new UserError(
      'INVALID_INPUT',
      `The artifact kind "${String(input.kind)}" is unknown; use one of ${ARTIFACT_KINDS.join(', ')}.`,
    );
  }
  const releasableKind = isReleasableKind(input.kind);
  const visibility: Visibility = input.visibility ?? (releasableKind ? 'releasable' : 'private');
  if (visibility !== 'private' && visibility !== 'releasable') {
    throw new UserError(
      'INVALID_INPUT',
      `The visibility "${String(visibility)}" is unknown; use private or releasable.`,
    );
  }
  if (visibility === 'releasable' && !releasableKind) {
    throw new UserError(
      'PRIVATE_ARTIFACT',
      `A ${input.kind} artifact touched private data without noise and can never be releasable. Only what was trained or released under noise can (${RELEASABLE_KINDS.join(', ')}).`,
    );
  }
  const path = toStoredPath(store, input.path, `The path of the ${input.kind} artifact`);
  const bytes =
    input.bytes === undefined || input.bytes === null
      ? null
      : requireInt(input.bytes, 'The artifact size');
  return writeTx(store, () => {
    const run =
      input.runId === undefined || input.runId === null ? undefined : getRun(store, input.runId);
    if (visibility === 'releasable' && !run) {
      throw new UserError(
        'INVALID_INPUT',
        `A releasable ${input.kind} must belong to the run whose stage-2 decoder produced it.`,
      );
    }
    const datasetId = input.datasetId ?? run?.datasetId;
    if (datasetId === undefined)
      throw new UserError('INVALID_INPUT', 'An artifact needs a data set id or a run id.');
    // Releasable artifacts may still be made from a kept decoder after its data set was deleted.
    const ds = getDataset(store, datasetId, { includeDeleted: visibility === 'releasable' });
    if (run && run.datasetId !== ds.id) {
      throw new UserError(
        'INVALID_INPUT',
        `Run ${run.id} belongs to data set ${run.datasetId}, not ${ds.id}.`,
      );
    }
    const abs = fromStoredPath(store, path) ?? '';
    if (visibility === 'releasable') {
      const clash = privateLocations(store).find((p) => overlaps(p, abs));
      if (clash !== undefined) {
        throw new UserError(
          'PRIVATE_ARTIFACT',
          `The ${input.kind} at ${abs} overlaps private data at ${clash}, so it cannot be releasable. Save releasable files in their own folder.`,
        );
      }
    } else {
      for (const r of listArtifacts(store, { visibility: 'releasable' })) {
        if (overlaps(r.path, abs)) {
          throw new UserError(
            'INVALID_INPUT',
            `The private ${input.kind} at ${abs} overlaps the releasable ${r.kind} at ${r.path}. Keep private and releasable files in separate folders.`,
          );
        }
      }
    }
    const live = stmt(store, 'SELECT id FROM artifacts WHERE path = ? AND deleted_at IS NULL').get(
      path,
    ) as { id: number } | undefined;
    if (live)
      throw new UserError(
        'ALREADY_EXISTS',
        `The file ${abs} is already registered as artifact ${live.id}.`,
      );
    const info = stmt(
      store,
      `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(ds.id, run?.id ?? null, input.kind, visibility, path, bytes, nowIso(store));
    return getArtifact(store, Number(info.lastInsertRowid));
  });
}

/**
 * Gets an artifact by id.
 * @throws UserError NOT_FOUND when there is none.
 */
export function getArtifact(store: Store, id: number): Artifact {
  const row = stmt(store, 'SELECT * FROM artifacts WHERE id = ?').get(id) as
    ArtifactRow | undefined;
  if (!row) throw new UserError('NOT_FOUND', `There is no artifact ${String(id)}.`);
  return toArtifact(store, row);
}

/** Lists artifacts (oldest first); removed ones only with `includeDeleted`. */
export function listArtifacts(
  store: Store,
  filter: {
    runId?: number;
    datasetId?: number;
    kind?: ArtifactKind;
    visibility?: Visibility;
    includeDeleted?: boolean;
  } = {},
): Artifact[] {
  const rows = stmt(
    store,
    `SELECT * FROM artifacts
     WHERE (@run IS NULL OR run_id = @run) AND (@dataset IS NULL OR dataset_id = @dataset) AND (@kind IS NULL OR kind = @kind)
       AND (@visibility IS NULL OR visibility = @visibility) AND (@all = 1 OR deleted_at IS NULL)
     ORDER BY id`,
  ).all({
    run: filter.runId ?? null,
    dataset: filter.datasetId ?? null,
    kind: filter.kind ?? null,
    visibility: filter.visibility ?? null,
    all: filter.includeDeleted ? 1 : 0,
  }) as ArtifactRow[];
  return rows.map((r) => toArtifact(store, r));
}
