import type BetterSqlite3 from 'better-sqlite3';

/** The better-sqlite3 connection type. */
export type Db = BetterSqlite3.Database;

/**
 * An open store: one SQLite connection plus the data home that every stored
 * path is relative to. Create it with `openStore`, end it with `closeStore`.
 */
export interface Store {
  /** The better-sqlite3 connection (WAL, foreign keys on). */
  readonly db: Db;
  /** Absolute path of the database file. */
  readonly path: string;
  /** Absolute path of the data home; stored paths are relative to it and must stay inside it. */
  readonly home: string;
  /** The clock used for every timestamp (injectable for tests). */
  readonly clock: () => Date;
  /**
   * Who this connection is, `"<pid>:<random>:<start mark>"` (see owner.ts):
   * written on the runs it sets running, so another process opening the
   * database leaves them alone while this process lives, and only then.
   */
  readonly owner: string;
  /**
   * Set when THIS open made a new database and restored the privacy ledger
   * into it from the ledger journal (a damaged database was moved aside).
   */
  readonly restored?: {
    datasets: { name: string; live: boolean }[];
    runs: number;
    rows: number;
    steps: number;
  } | null;
}
