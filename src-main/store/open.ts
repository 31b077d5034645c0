/**
 * Opening the SQLite store: recognising our files, moving a damaged or
 * foreign file aside, connection settings and forward migrations.
 *
 * Durability: the connection runs WAL with `synchronous = NORMAL`. Every
 * commit is atomic and survives a crash of the process (`kill -9`); a power
 * cut may lose the last few commits but never corrupts the file. The privacy
 * ledger cannot accept even that loss, so `recordSpend` commits with
 * `synchronous = FULL` (the WAL is fsynced before it returns, and with it
 * every earlier commit). `fullfsync` makes that real on macOS too.
 */
import {
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  renameSync,
  statSync,
} from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { journalPath } from './ledger-journal';
import Database from 'better-sqlite3';
import { UserError } from '../contract/errors';
import { restoreLedger, type LedgerRestore } from './ledger-restore';
import { newOwner } from './owner';
import { APPLICATION_ID, MIGRATIONS } from './schema';
import type { Db, Store } from './types';

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /** Path of the database file; created (with its folder) when missing. */
  path: string;
  /** The data home stored paths are relative to; defaults to the database's folder. */
  home?: string;
  /** How long to wait for another process's write lock, in ms (default 5000). */
  busyTimeoutMs?: number;
  /** Clock for timestamps (default: the system clock). */
  clock?: () => Date;
  /** Migrations to apply instead of the shipped ones (tests only). */
  migrations?: readonly string[];
}

const SQLITE_MAGIC = 'SQLite format 3\0';
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

type Inspection = { state: 'fresh' | 'ours' } | { state: 'corrupt' | 'foreign'; detail: string };

/**
 * Opens (creating when missing) the store at `path`, applies pending
 * migrations in one transaction and returns it.
 *
 * @throws UserError CORRUPT_DATA when the file is damaged or is not a DP²
 *   Studio database; the file (and its -wal/-shm) is first renamed to
 *   `<name>.corrupt-<timestamp>` — never overwritten, never deleted.
 * @throws UserError UNSUPPORTED when the database comes from a newer version.
 */
export function openStore(options: OpenStoreOptions): Store {
  const path = resolve(options.path);
  const home = resolve(options.home ?? dirname(path));
  const migrations = options.migrations ?? MIGRATIONS;
  mkdirSync(dirname(path), { recursive: true });

  const found = inspect(path);
  if (found.state === 'corrupt' || found.state === 'foreign') {
    throw refuseAndMoveAside(path, found.state, found.detail);
  }

  const db = openConnection(path, options.busyTimeoutMs ?? 5000);
  let created: boolean;
  try {
    configure(db, path);
    created = Number(db.pragma('user_version', { simple: true })) === 0;
    migrate(db, path, migrations);
  } catch (err) {
    db.close();
    if (isCorruption(err)) throw refuseAndMoveAside(path, 'corrupt', (err as Error).message);
    throw err;
  }
  let owner: string | undefined;
  let restored: LedgerRestore | null | undefined;
  const store: Store = {
    db,
    path,
    home,
    clock: options.clock ?? (() => new Date()),
    // Made on first use: finding the process's start time may start `ps`.
    get owner() {
      owner ??= newOwner();
      return owner;
    },
    get restored() {
      return restored;
    },
  };
  // A new database beside a ledger journal: a damaged one was moved aside
  // (or deleted). Bring every data set's spend back before anything else.
  if (created && migrations === MIGRATIONS) {
    try {
      restored = restoreLedger(store);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return store;
}

/** Closes the store's connection (checkpointing the WAL). Safe to call twice. */
export function closeStore(store: Store): void {
  if (store.db.open) store.db.close();
}

/**
 * Inside Electron the driver must be the build for Electron's ABI, which
 * `npm start` prepares beside node_modules (scripts/prepare-electron-native.js)
 * and names in this variable; plain Node uses the package's own build.
 */
export const NATIVE_BINDING_ENV = 'DP2_SQLITE_NATIVE_BINDING';

function openConnection(path: string, timeout: number): Db {
  try {
    return connect(path, { timeout });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      'INVALID_INPUT',
      `DP² Studio cannot open its database ${path} (${(err as Error).message}). Check that the folder exists and that you may write to it.`,
    );
  }
}

/**
 * Every connection to a database is made here, so that every one uses the
 * driver build named by `NATIVE_BINDING_ENV` (under Electron the package's
 * own build does not load) and the same privacy setting.
 *
 * `secure_delete`: SQLite otherwise leaves deleted rows' bytes in free pages
 * and free space inside pages, where anyone with the file could read what a
 * deleted data set's evaluations, metrics and checkpoints said. With it on,
 * freed content is overwritten with zeros as it is freed.
 *
 * @throws UserError INVALID_INPUT when the named driver build cannot be loaded.
 */
export function connect(
  path: string,
  options: { timeout?: number; readonly?: boolean; fileMustExist?: boolean } = {},
): Db {
  const nativeBinding = process.env[NATIVE_BINDING_ENV];
  let db: Db;
  try {
    db = new Database(path, { ...options, ...(nativeBinding ? { nativeBinding } : {}) });
  } catch (err) {
    if (nativeBinding && isDriverLoadFailure(err)) {
      throw new UserError(
        'INVALID_INPUT',
        `DP² Studio cannot load its database driver ${nativeBinding}, named by ${NATIVE_BINDING_ENV} (${(err as Error).message}). ` +
          `Start DP² Studio with npm start (which prepares that file), or unset ${NATIVE_BINDING_ENV}.`,
      );
    }
    throw err;
  }
  try {
    db.pragma('secure_delete = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Node's errors for a native module file that is missing, not one, or built for another runtime. */
function isDriverLoadFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_DLOPEN_FAILED' || code === 'MODULE_NOT_FOUND';
}

function configure(db: Db, path: string): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new UserError(
      'UNSUPPORTED',
      `The database ${path} cannot use write-ahead logging (the file system gave "${String(mode)}"). Keep the data folder on a local disk.`,
    );
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('fullfsync = ON');
  db.pragma('checkpoint_fullfsync = ON');
}

/**
 * Applies the missing migrations in one IMMEDIATE transaction (so two
 * processes starting together do not both migrate) and stamps the file with
 * our application id and the new `user_version`.
 */
export function migrate(db: Db, path: string, migrations: readonly string[]): void {
  const target = migrations.length;
  const check = (): number => {
    const current = Number(db.pragma('user_version', { simple: true }));
    if (current > target) {
      throw new UserError(
        'UNSUPPORTED',
        `The database ${path} was written by a newer version of DP² Studio (schema ${current}; this version knows up to ${target}). It was left unchanged: install the newer DP² Studio to open it.`,
      );
    }
    return current;
  };
  if (check() === target) return;
  // A migration may rebuild a table that others reference (v6): foreign keys
  // are off while it runs (the pragma is a no-op inside a transaction) and
  // checked before the commit, so a broken reference rolls everything back.
  db.pragma('foreign_keys = OFF');
  try {
    db.transaction(() => {
      const current = check();
      for (let v = current; v < target; v++) db.exec(migrations[v] ?? '');
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) {
        throw new UserError(
          'CORRUPT_DATA',
          `The database ${path} could not be upgraded: ${broken.length} record(s) refer to rows that do not exist. It was left unchanged.`,
        );
      }
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${target}`);
    }).immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

/** Looks at an existing file without changing it: ours, new, damaged or foreign. */
function inspect(path: string): Inspection {
  if (!existsSync(path)) return { state: 'fresh' };
  const size = statSync(path).size;
  if (size > 0) {
    const head = Buffer.alloc(16);
    const fd = openSync(path, 'r');
    let read: number;
    try {
      read = readSync(fd, head, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
    if (read < 16 || head.toString('latin1') !== SQLITE_MAGIC) {
      return { state: 'corrupt', detail: 'it is not an SQLite database' };
    }
  }
  let db: Db | undefined;
  try {
    // Read-only: no hot-journal rollback, no checkpoint on close.
    db = connect(path, { readonly: true, fileMustExist: true });
    const appId = Number(db.pragma('application_id', { simple: true }));
    const tables = db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number };
    const version = Number(db.pragma('user_version', { simple: true }));
    if (appId === 0 && tables.n === 0 && version === 0) return { state: 'fresh' };
    if (appId !== APPLICATION_ID) {
      return { state: 'foreign', detail: 'it is an SQLite database of another program' };
    }
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok')
      return { state: 'corrupt', detail: `SQLite found damage: ${String(check)}` };
    return { state: 'ours' };
  } catch (err) {
    if (isCorruption(err)) return { state: 'corrupt', detail: (err as Error).message };
    if (err instanceof UserError) throw err;
    throw new UserError(
      'INVALID_INPUT',
      `DP² Studio cannot read its database ${path} (${(err as Error).message}). Check the file's permissions and that no other program holds it.`,
    );
  } finally {
    db?.close();
  }
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
  );
}

/** A timestamp usable in a file name on every platform. */
function fileStamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/**
 * Renames the file (and its -wal/-shm/-journal companions, which belong to it)
 * to `<name>.corrupt-<timestamp>` and returns the error to throw.
 */
function refuseAndMoveAside(path: string, state: 'corrupt' | 'foreign', detail: string): UserError {
  const base = `${path}.corrupt-${fileStamp(new Date())}`;
  let kept = base;
  for (let i = 1; [kept, ...SIDE_FILES.map((s) => kept + s)].some((p) => existsSync(p)); i++) {
    kept = `${base}-${i}`;
  }
  try {
    renameSync(path, kept);
    for (const side of SIDE_FILES) {
      if (existsSync(path + side)) renameSync(path + side, kept + side);
    }
  } catch (err) {
    return new UserError(
      'CORRUPT_DATA',
      `The database ${path} cannot be used (${detail}), and moving it aside failed (${(err as Error).message}); it was left where it is. Move it elsewhere yourself, then start DP² Studio again.`,
    );
  }
  const what = state === 'foreign' ? 'is not a DP² Studio database' : 'is damaged';
  return new UserError(
    'CORRUPT_DATA',
    `The database ${path} ${what} (${detail}). It was kept, unchanged, as ${kept}. ` +
      `A new database takes its place when DP² Studio opens the data folder again, and the privacy budget already spent on every data set is restored into it from the ledger journal beside it (${basename(journalPath(path))}); runs, evaluations and released files must be imported or made again.`,
  );
}
