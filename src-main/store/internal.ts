/**
 * Helpers shared by the store modules: a prepared-statement cache, write
 * transactions, JSON columns and input checks. Not part of the public API.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { UserError } from '../contract/errors';
import type { Db, Store } from './types';

const statements = new WeakMap<Db, Map<string, BetterSqlite3.Statement>>();

/** A cached prepared statement for `text` on the store's connection. */
export function stmt(store: Store, text: string): BetterSqlite3.Statement {
  let perDb = statements.get(store.db);
  if (!perDb) {
    perDb = new Map();
    statements.set(store.db, perDb);
  }
  let s = perDb.get(text);
  if (!s) {
    s = store.db.prepare(text);
    perDb.set(text, s);
  }
  return s;
}

/**
 * Runs `fn` in one write transaction (`BEGIN IMMEDIATE`, so a second process
 * waits on the busy timeout instead of failing half-way); everything `fn`
 * writes is committed together or not at all. Nested calls become savepoints.
 */
export function writeTx<T>(store: Store, fn: () => T): T {
  return store.db.transaction(fn).immediate();
}

/** The current time as an ISO-8601 string. */
export function nowIso(store: Store): string {
  return store.clock().toISOString();
}

/** Serialises a JSON column value; refuses values JSON cannot carry faithfully. */
export function toJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new UserError(
          'INVALID_INPUT',
          `${what} contains ${String(v)}, which cannot be stored. Use finite numbers.`,
        );
      }
      if (typeof v === 'bigint') {
        throw new UserError(
          'INVALID_INPUT',
          `${what} contains a bigint, which cannot be stored. Use a number or a string.`,
        );
      }
      return v;
    });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      'INVALID_INPUT',
      `${what} cannot be written as JSON (${(err as Error).message}).`,
    );
  }
  if (text === undefined) {
    throw new UserError('INVALID_INPUT', `${what} is missing; give a JSON value.`);
  }
  return text;
}

/** JSON text with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown, what: string): string {
  return toJson(sortKeys(value), what);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** Parses a JSON column read back from the database. */
export function fromJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UserError(
      'CORRUPT_DATA',
      `${what} in the database is not valid JSON. Restore the database from a backup.`,
    );
  }
}

/** Checks an integer id or step. */
export function requireInt(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} must be a whole number of at least ${min} (got ${String(value)}).`,
    );
  }
  return value;
}

/** Checks a positive finite number (or null when `nullable`). */
export function requirePositive(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} must be a number greater than 0 (got ${String(value)}).`,
    );
  }
  return value;
}

/** Checks a δ: a number strictly between 0 and 1. */
export function requireDelta(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} must be a number between 0 and 1, such as 1e-5 (got ${String(value)}).`,
    );
  }
  return value;
}

/** Checks a short non-empty label without control characters. */
export function requireText(value: unknown, what: string, maxLength = 200): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UserError('INVALID_INPUT', `${what} must be a non-empty text.`);
  }
  if (value.length > maxLength) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} is longer than ${maxLength} characters; shorten it.`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new UserError('INVALID_INPUT', `${what} contains control characters; remove them.`);
  }
  return value;
}
