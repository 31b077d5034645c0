/**
 * Paths kept in the store are relative to the data home, written with `/`,
 * and must resolve strictly inside it. Not part of the public API.
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../contract/errors';
import type { Store } from './types';

/** Whether `child` is `parent` itself or lies inside it (both absolute, normalised). */
export function isWithin(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Whether one of the two absolute paths contains the other (or they are equal). */
export function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/**
 * Turns a path given by a caller (absolute, or relative to the data home) into
 * the stored form; refuses the data home itself and anything outside it.
 */
export function toStoredPath(store: Store, path: string, what: string): string {
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0')) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} must be a path inside the data folder ${store.home}.`,
    );
  }
  const abs = resolve(store.home, path);
  const rel = relative(store.home, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} (${path}) is not inside the data folder ${store.home}. Keep every file of DP² Studio inside its data folder.`,
    );
  }
  return rel.split(sep).join('/');
}

/**
 * The absolute path of a stored path, or `undefined` when the stored text
 * escapes the data home (a damaged or tampered row).
 */
export function fromStoredPath(store: Store, stored: string): string | undefined {
  if (stored === '' || isAbsolute(stored) || stored.includes('\0')) return undefined;
  const abs = resolve(join(store.home, ...stored.split('/')));
  const rel = relative(store.home, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return abs;
}
