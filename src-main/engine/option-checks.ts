/**
 * Checks of trainer options shared by DP²-VAE's stage 2 and DP-SGD: each
 * returns the value when it is valid and otherwise refuses it in plain words.
 */
import { UserError } from '../contract/errors';
import type { OptimizerKind } from './optim';

export function invalidOption(message: string): never {
  throw new UserError('INVALID_INPUT', message);
}

export function checkPositive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    invalidOption(`${what} must be a positive number; got ${String(v)}.`);
  return v;
}

export function checkInt(v: unknown, what: string, min: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`;
    invalidOption(`${what} must be a whole number ${range}; got ${String(v)}.`);
  }
  return v;
}

export function checkKind(v: unknown, what: string): OptimizerKind {
  if (v !== 'adam' && v !== 'sgd')
    invalidOption(`${what} must be "adam" or "sgd"; got ${String(v)}.`);
  return v;
}
