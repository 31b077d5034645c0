/**
 * Errors that reach the user. Every layer throws `UserError` for anything the
 * user can act on (bad input, unreachable target, missing thing); the contract
 * turns it into `{ ok: false, error: { code, message } }` and the CLI into a
 * message on stderr with exit status 1. Anything else is a bug and is reported
 * as INTERNAL.
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'UNREACHABLE_TARGET',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'BUDGET_EXCEEDED',
  'PRIVATE_ARTIFACT',
  'CANCELLED',
  'UNSUPPORTED',
  'CORRUPT_DATA',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error with a plain-words message (what, where, what to do) for the user. */
export class UserError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

/** The wire shape of an error crossing a process boundary. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

/** Error codes of a full disk: Node's errno codes and SQLite's (better-sqlite3). */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * Converts anything thrown into the wire shape; unknown errors become
 * INTERNAL. A full disk, whichever layer met it (file writes, SQLite), is
 * said in plain words: every write path is whole-or-absent, so nothing was
 * half-written and the same action succeeds once space is freed.
 */
export function toErrorPayload(err: unknown): ErrorPayload {
  if (err instanceof UserError) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DISK_FULL.has(code)) {
    const path = (err as { path?: unknown }).path;
    const where = typeof path === 'string' ? ` (writing ${path})` : '';
    return {
      code: 'INVALID_INPUT',
      message: `The disk holding DP² Studio's data is full${where}. Nothing was half-written: free some space, then try again.`,
    };
  }
  const detail = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message: `Something went wrong inside DP² Studio: ${detail}` };
}
