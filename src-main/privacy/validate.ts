/**
 * Input checks shared by the privacy modules. Every failure is a
 * `UserError('INVALID_INPUT', …)` whose message names the field, says what
 * was wrong and what to enter instead.
 */
import { UserError } from '../contract/errors';

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Throws INVALID_INPUT for the field `name` with the expectation `expected`. */
export function invalid(name: string, value: unknown, expected: string): never {
  throw new UserError(
    'INVALID_INPUT',
    `${name} must be ${expected}, but it is ${describe(value)}. Enter ${expected} for ${name}.`,
  );
}

/** A finite number strictly greater than 0. */
export function requirePositive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(name, value, 'a finite number greater than 0');
  }
  return value;
}

/** An integer ≥ `min` (and ≤ `max` when given). */
export function requireInteger(name: string, value: unknown, min: number, max?: number): number {
  const range = max === undefined ? `at least ${min}` : `between ${min} and ${max}`;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < min ||
    (max !== undefined && value > max)
  ) {
    invalid(name, value, `a whole number ${range}`);
  }
  return value;
}

/** A probability in the open-closed interval (0, 1]. */
export function requireRate(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    invalid(name, value, 'a number greater than 0 and at most 1');
  }
  return value;
}

/** δ: a number in the open interval (0, 1). */
export function requireDelta(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1) {
    invalid(name, value, 'a number greater than 0 and less than 1 (for example 1e-5)');
  }
  return value;
}

/** ε: a finite number ≥ 0. */
export function requireEpsilon(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    invalid(name, value, 'a finite number of at least 0');
  }
  return value;
}

/** A number in the closed interval [0, 1]. */
export function requireProbability(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    invalid(name, value, 'a number between 0 and 1');
  }
  return value;
}
