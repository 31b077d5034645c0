import type { Result } from '../contract';
import { UserError } from '../contract/errors';

/** Turns a contract `Result` back into a value or a thrown `UserError` for the CLI. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new UserError(result.error.code, result.error.message);
}
