/**
 * Imported data sets. A deleted data set stays as a tombstone row
 * (`deletedAt` set) so the privacy ledger keeps its name and fingerprint;
 * its name becomes free for a new import.
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../contract/errors';
import {
  fromJson,
  nowIso,
  requireDelta,
  requireInt,
  requirePositive,
  requireText,
  stmt,
  toJson,
  writeTx,
} from './internal';
import { fromStoredPath, overlaps, toStoredPath } from './paths';
import type { Store } from './types';

/** What `insertDataset` needs. */
export interface NewDataset {
  /** Display name, unique among live data sets ignoring case; not only digits. */
  name: string;
  /** Content fingerprint (e.g. SHA-256 of the arrays); the ledger follows it across re-imports. */
  fingerprint: string;
  /** Source format, e.g. 'image-folder', 'npz', 'idx'. */
  format: string;
  /** Preprocessing settings (JSON). */
  preprocessing: unknown;
  /** Seed of the train/test split. */
  splitSeed: number;
  trainCount: number;
  testCount: number;
  classNames: readonly string[];
  /** Folder of the private arrays, inside the data home (absolute or relative to it). */
  filesDir: string;
  /** Budget cap ε, or null for none. */
  budgetEpsilon?: number | null;
  /** Budget δ (default 1e-5). */
  budgetDelta?: number;
}

/** A data set as stored. */
export interface Dataset {
  id: number;
  /**
   * Random identifier made at import (32 hex digits): how certificates and
   * anything else that leaves the machine name the data set. It says nothing
   * about the images.
   */
  publicId: string;
  name: string;
  /** Content fingerprint: private (a noise-free function of the images); never exported. */
  fingerprint: string;
  format: string;
  preprocessing: unknown;
  splitSeed: number;
  trainCount: number;
  testCount: number;
  classNames: string[];
  /** Absolute folder of the private arrays. */
  filesDir: string;
  budgetEpsilon: number | null;
  budgetDelta: number;
  createdAt: string;
  /** Set when the data set was deleted (tombstone kept for the ledger). */
  deletedAt: string | null;
}

interface DatasetRow {
  id: number;
  public_id: string;
  name: string;
  fingerprint: string;
  format: string;
  preprocessing: string;
  split_seed: number;
  train_count: number;
  test_count: number;
  class_names: string;
  files_dir: string;
  budget_epsilon: number | null;
  budget_delta: number;
  created_at: string;
  deleted_at: string | null;
}

/** The key names are unique under: NFC, lower case (locale-independent). */
function nameKey(name: string): string {
  return name.trim().normalize('NFC').toLowerCase();
}

function toDataset(store: Store, row: DatasetRow): Dataset {
  const filesDir = fromStoredPath(store, row.files_dir);
  if (filesDir === undefined) {
    throw new UserError(
      'CORRUPT_DATA',
      `The files folder of data set "${row.name}" points outside the data folder. Restore the database from a backup.`,
    );
  }
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    fingerprint: row.fingerprint,
    format: row.format,
    preprocessing: fromJson(row.preprocessing, `The preprocessing of data set "${row.name}"`),
    splitSeed: row.split_seed,
    trainCount: row.train_count,
    testCount: row.test_count,
    classNames: fromJson(row.class_names, `The class names of data set "${row.name}"`) as string[],
    filesDir,
    budgetEpsilon: row.budget_epsilon,
    budgetDelta: row.budget_delta,
    createdAt: row.created_at,
    deletedAt: row.deleted_at,
  };
}

/**
 * Adds a data set.
 * @throws UserError ALREADY_EXISTS when a live data set has the same name
 *   (ignoring case) or its files folder overlaps another's.
 */
export function insertDataset(store: Store, input: NewDataset): Dataset {
  const name = requireText(input.name, 'The data set name', 120).trim();
  if (/^\d+$/.test(name)) {
    throw new UserError(
      'INVALID_INPUT',
      `The data set name "${name}" is only digits, which would be mistaken for an id. Add a letter.`,
    );
  }
  const fingerprint = requireText(input.fingerprint, 'The data set fingerprint', 200);
  const format = requireText(input.format, 'The data set format', 50);
  const preprocessing = toJson(input.preprocessing, 'The preprocessing settings');
  const splitSeed = requireInt(input.splitSeed, 'The split seed', Number.MIN_SAFE_INTEGER);
  const trainCount = requireInt(input.trainCount, 'The number of training images');
  const testCount = requireInt(input.testCount, 'The number of test images');
  if (!Array.isArray(input.classNames) || !input.classNames.every((c) => typeof c === 'string')) {
    throw new UserError('INVALID_INPUT', 'The class names must be a list of texts.');
  }
  const classNames = toJson(input.classNames, 'The class names');
  const filesDir = toStoredPath(store, input.filesDir, 'The data set files folder');
  const budgetEpsilon =
    input.budgetEpsilon === undefined || input.budgetEpsilon === null
      ? null
      : requirePositive(input.budgetEpsilon, 'The budget cap ε');
  const budgetDelta = requireDelta(input.budgetDelta ?? 1e-5, 'The budget δ');

  return writeTx(store, () => {
    const key = nameKey(name);
    const clash = stmt(
      store,
      'SELECT name FROM datasets WHERE name_key = ? AND deleted_at IS NULL',
    ).get(key) as { name: string } | undefined;
    if (clash) {
      throw new UserError(
        'ALREADY_EXISTS',
        `A data set named "${clash.name}" already exists. Choose another name or delete the old data set first.`,
      );
    }
    const absFiles = fromStoredPath(store, filesDir) ?? '';
    for (const other of stmt(
      store,
      'SELECT name, files_dir FROM datasets WHERE deleted_at IS NULL',
    ).all() as {
      name: string;
      files_dir: string;
    }[]) {
      const otherAbs = fromStoredPath(store, other.files_dir);
      if (otherAbs !== undefined && overlaps(otherAbs, absFiles)) {
        throw new UserError(
          'ALREADY_EXISTS',
          `The files folder ${absFiles} overlaps the folder of data set "${other.name}". Give each data set its own folder.`,
        );
      }
    }
    const info = stmt(
      store,
      `INSERT INTO datasets (name, name_key, fingerprint, format, preprocessing, split_seed, train_count, test_count,
         class_names, files_dir, budget_epsilon, budget_delta, created_at, public_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      name,
      key,
      fingerprint,
      format,
      preprocessing,
      splitSeed,
      trainCount,
      testCount,
      classNames,
      filesDir,
      budgetEpsilon,
      budgetDelta,
      nowIso(store),
      randomBytes(16).toString('hex'),
    );
    return getDataset(store, Number(info.lastInsertRowid));
  });
}

/** Options of the data set look-ups. */
export interface DatasetLookup {
  /** Also find deleted data sets (tombstones); default false. */
  includeDeleted?: boolean;
}

/** Finds a data set by id (number or digits) or by name (ignoring case); undefined when none. */
export function findDataset(
  store: Store,
  nameOrId: string | number,
  options: DatasetLookup = {},
): Dataset | undefined {
  const live = options.includeDeleted ? '' : ' AND deleted_at IS NULL';
  let row: DatasetRow | undefined;
  if (typeof nameOrId === 'number' || /^\d+$/.test(nameOrId.trim())) {
    row = stmt(store, `SELECT * FROM datasets WHERE id = ?${live}`).get(Number(nameOrId)) as
      DatasetRow | undefined;
  } else {
    // Among tombstones several may share a name: take the newest.
    row = stmt(
      store,
      `SELECT * FROM datasets WHERE name_key = ?${live} ORDER BY deleted_at IS NOT NULL, id DESC LIMIT 1`,
    ).get(nameKey(nameOrId)) as DatasetRow | undefined;
  }
  return row && toDataset(store, row);
}

/**
 * Gets a data set by id or name.
 * @throws UserError NOT_FOUND when there is none.
 */
export function getDataset(
  store: Store,
  nameOrId: string | number,
  options: DatasetLookup = {},
): Dataset {
  const found = findDataset(store, nameOrId, options);
  if (!found) {
    throw new UserError(
      'NOT_FOUND',
      `There is no data set "${String(nameOrId)}". List the data sets to see their names.`,
    );
  }
  return found;
}

/** Lists data sets, oldest first. */
export function listDatasets(store: Store, options: DatasetLookup = {}): Dataset[] {
  const where = options.includeDeleted ? '' : ' WHERE deleted_at IS NULL';
  return (stmt(store, `SELECT * FROM datasets${where} ORDER BY id`).all() as DatasetRow[]).map(
    (r) => toDataset(store, r),
  );
}

/** Sets (or removes, with `epsilon: null`) the budget cap of a live data set. */
export function setBudgetCap(
  store: Store,
  nameOrId: string | number,
  cap: { epsilon: number | null; delta?: number },
): Dataset {
  const epsilon = cap.epsilon === null ? null : requirePositive(cap.epsilon, 'The budget cap ε');
  const delta = cap.delta === undefined ? undefined : requireDelta(cap.delta, 'The budget δ');
  return writeTx(store, () => {
    const ds = getDataset(store, nameOrId);
    stmt(store, 'UPDATE datasets SET budget_epsilon = ?, budget_delta = ? WHERE id = ?').run(
      epsilon,
      delta ?? ds.budgetDelta,
      ds.id,
    );
    return getDataset(store, ds.id);
  });
}
