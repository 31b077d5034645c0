/**
 * The ledger journal: an append-only copy of every privacy spend, in a file
 * beside the database (`<database>.ledger.jsonl`), written and fsynced inside
 * the spend's transaction before it commits. If the database is ever found
 * damaged and moved aside, the new database restores every data set's spend
 * from it, so privacy already spent is never forgotten.
 *
 * Each line is self-contained: the data set (as the store knows it, with its
 * private fingerprint: the journal is private, like the database), the run
 * (its id in the database that wrote the line, tagged with that database's
 * random instance id) and the steps paid for. Only whole lines count: a line
 * torn by a crash is skipped, which can only lose a spend whose transaction
 * never committed (the line is complete before the commit).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Dataset } from './datasets';
import type { Store } from './types';

/** One spend as the journal keeps it. */
export interface JournalSpend {
  v: 1;
  /** The random instance id of the database that recorded the spend. */
  db: string;
  at: string;
  /** The data set as the store knows it; `filesDir` as stored (relative to the data home). */
  dataset: Omit<Dataset, 'id' | 'createdAt' | 'deletedAt'>;
  run: { id: number; method: string; delta: number };
  spec: Record<string, unknown>;
  fromStep: number;
  toStep: number;
  delta: number;
}

/** The journal's file for a database at `databasePath`. */
export function journalPath(databasePath: string): string {
  return `${databasePath}.ledger.jsonl`;
}

/** The database's instance id (migration v5). */
export function instanceId(store: Store): string {
  const row = store.db.prepare("SELECT value FROM meta WHERE key = 'instance'").get() as
    { value: string } | undefined;
  if (!row) throw new Error('The database has no instance id (schema older than v5).');
  return row.value;
}

/** What `appendSpend` needs besides the store. */
export interface SpendLine {
  dataset: Dataset;
  storedFilesDir: string;
  run: { id: number; method: string; delta: number };
  spec: Record<string, unknown>;
  fromStep: number;
  toStep: number;
  delta: number;
}

/** Appends one spend and fsyncs it; throws (and so rolls the spend back) when it cannot. */
export function appendSpend(store: Store, line: SpendLine): void {
  const d = line.dataset;
  const entry: JournalSpend = {
    v: 1,
    db: instanceId(store),
    at: store.clock().toISOString(),
    dataset: {
      publicId: d.publicId,
      name: d.name,
      fingerprint: d.fingerprint,
      format: d.format,
      preprocessing: d.preprocessing,
      splitSeed: d.splitSeed,
      trainCount: d.trainCount,
      testCount: d.testCount,
      classNames: d.classNames,
      filesDir: line.storedFilesDir,
      budgetEpsilon: d.budgetEpsilon,
      budgetDelta: d.budgetDelta,
    },
    run: line.run,
    spec: line.spec,
    fromStep: line.fromStep,
    toStep: line.toStep,
    delta: line.delta,
  };
  const fd = openSync(journalPath(store.path), 'a');
  try {
    // A torn earlier line must not swallow this one: every line starts on its own.
    writeSync(fd, `\n${JSON.stringify(entry)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isSpend(x: unknown): x is JournalSpend {
  const s = x as Partial<JournalSpend> | null;
  return (
    s !== null &&
    typeof s === 'object' &&
    s.v === 1 &&
    typeof s.db === 'string' &&
    typeof s.dataset?.fingerprint === 'string' &&
    typeof s.dataset.publicId === 'string' &&
    typeof s.run?.id === 'number' &&
    typeof s.run.method === 'string' &&
    Number.isSafeInteger(s.fromStep) &&
    Number.isSafeInteger(s.toStep) &&
    (s.toStep as number) >= (s.fromStep as number) &&
    typeof s.delta === 'number' &&
    s.spec !== null &&
    typeof s.spec === 'object'
  );
}

/** Every whole spend line of the journal, oldest first (none when there is no journal). */
export function readJournal(databasePath: string): JournalSpend[] {
  const file = journalPath(databasePath);
  if (!existsSync(file)) return [];
  const out: JournalSpend[] = [];
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (isSpend(value)) out.push(value);
    } catch {
      // a line torn by a crash before its commit
    }
  }
  return out;
}
