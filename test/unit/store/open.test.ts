import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { UserError } from '../../../src-main/contract/errors';
import {
  APPLICATION_ID,
  SCHEMA_VERSION,
  closeStore,
  getDataset,
  insertDataset,
  openStore,
} from '../../../src-main/store';
import { MIGRATIONS } from '../../../src-main/store/schema';
import { datasetInput, insertOldDataset, tempHome } from './helpers';

function isUserError(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

test('a new store gets the whole schema, our application id and safe settings', (t) => {
  const home = tempHome(t);
  const store = openStore({ path: join(home, 'db', 'dp2.sqlite') });
  t.after(() => closeStore(store));
  const db = store.db;
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(db.pragma('application_id', { simple: true }), APPLICATION_ID);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
  assert.ok(Number(db.pragma('busy_timeout', { simple: true })) >= 1000);
  const tables = db
    .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
    .pluck()
    .all();
  for (const name of [
    'artifacts',
    'checkpoints',
    'datasets',
    'ledger',
    'metrics',
    'runs',
    'sample_grids',
  ]) {
    assert.ok(tables.includes(name), `table ${name}`);
  }
  assert.equal(store.home, join(home, 'db'));
});

test('reopening keeps the data and runs no migration twice', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const first = openStore({ path });
  insertDataset(first, datasetInput(first));
  closeStore(first);
  const again = openStore({ path });
  t.after(() => closeStore(again));
  assert.equal(getDataset(again, 'chest x-rays').trainCount, 900);
});

test('an older database is migrated forward, keeping its rows', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const v1 = openStore({ path, migrations: MIGRATIONS.slice(0, 1) });
  assert.equal(v1.db.pragma('user_version', { simple: true }), 1);
  insertOldDataset(v1, datasetInput(v1));
  closeStore(v1);
  const store = openStore({ path });
  t.after(() => closeStore(store));
  assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(getDataset(store, 'Chest X-rays').classNames.length, 2);
  // v5: an older data set gets a random public identifier of its own.
  assert.match(getDataset(store, 'Chest X-rays').publicId, /^[0-9a-f]{32}$/);
  const grids = store.db.prepare(`SELECT count(*) FROM sample_grids`).pluck().get();
  assert.equal(grids, 0);
});

test('a failing migration leaves the database exactly as it was', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const v1 = openStore({ path, migrations: MIGRATIONS.slice(0, 1) });
  closeStore(v1);
  const broken = [
    MIGRATIONS[0] ?? '',
    'CREATE TABLE extra (x INTEGER); CREATE TABLE extra (y INTEGER);',
  ];
  assert.throws(() => openStore({ path, migrations: broken }), /already exists/);
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  assert.equal(
    db.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'extra'`).pluck().get(),
    0,
  );
});

test('a database from a newer version is refused and left unchanged', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  closeStore(openStore({ path }));
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
  db.close();
  const before = readFileSync(path);
  assert.throws(
    () => openStore({ path }),
    isUserError('UNSUPPORTED', /newer version.*install the newer/s),
  );
  assert.deepEqual(readFileSync(path), before);
  assert.ok(!readdirSync(home).some((n) => n.includes('.corrupt-')));
});

test('a file of random bytes is moved aside byte for byte, and a new store can start', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const bytes = randomBytes(8192);
  writeFileSync(path, bytes);
  let message = '';
  assert.throws(
    () => openStore({ path }),
    (err: unknown) =>
      isUserError('CORRUPT_DATA', /not an SQLite database.*kept, unchanged, as/s)(err) &&
      ((message = (err as Error).message), true),
  );
  assert.ok(!existsSync(path));
  const kept = readdirSync(home).filter((n) => n.startsWith('dp2.sqlite.corrupt-'));
  assert.equal(kept.length, 1);
  const keptPath = join(home, kept[0] ?? '');
  assert.ok(message.includes(keptPath), 'the message says where the file was kept');
  assert.deepEqual(readFileSync(keptPath), bytes);
  closeStore(openStore({ path }));
});

test('a short file and an SQLite file of another program are refused and kept aside', (t) => {
  const home = tempHome(t);
  const short = join(home, 'short.sqlite');
  writeFileSync(short, 'SQLite');
  assert.throws(() => openStore({ path: short }), isUserError('CORRUPT_DATA'));
  assert.ok(!existsSync(short));

  const path = join(home, 'other.sqlite');
  const other = new Database(path);
  other.exec(`CREATE TABLE patients (name TEXT); INSERT INTO patients VALUES ('Ada')`);
  other.close();
  const before = readFileSync(path);
  assert.throws(() => openStore({ path }), isUserError('CORRUPT_DATA', /another program/));
  const kept = readdirSync(home).filter((n) => n.startsWith('other.sqlite.corrupt-'));
  assert.deepEqual(kept, [kept[0]]);
  assert.deepEqual(readFileSync(join(home, kept[0] ?? '')), before);
});

test('a foreign WAL database is moved aside together with its -wal file', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const other = new Database(path);
  other.pragma('journal_mode = WAL');
  other.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (1)`);
  // Copy the files while the WAL still holds the rows, as after a crash.
  const main = readFileSync(path);
  const wal = readFileSync(`${path}-wal`);
  other.close();
  writeFileSync(path, main);
  writeFileSync(`${path}-wal`, wal);
  assert.throws(() => openStore({ path }), isUserError('CORRUPT_DATA'));
  const keptMain = readdirSync(home).find(
    (n) => n.startsWith('dp2.sqlite.corrupt-') && !n.endsWith('-wal') && !n.endsWith('-shm'),
  );
  assert.ok(keptMain);
  assert.deepEqual(readFileSync(join(home, keptMain)), main);
  assert.deepEqual(readFileSync(join(home, `${keptMain}-wal`)), wal);
  assert.ok(!existsSync(`${path}-wal`));
  // The kept pair is still a readable database.
  const check = new Database(join(home, keptMain), { readonly: true });
  t.after(() => check.close());
  assert.equal(check.prepare('SELECT count(*) FROM t').pluck().get(), 1);
  // And the original place starts clean.
  closeStore(openStore({ path }));
});

test('an empty file becomes a new store', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  writeFileSync(path, '');
  const store = openStore({ path });
  t.after(() => closeStore(store));
  assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
});

test('our database with damaged pages is refused as damaged and kept aside', (t) => {
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const store = openStore({ path });
  for (let i = 0; i < 20; i++)
    insertDataset(store, datasetInput(store, `Set ${'x'.repeat(i + 1)}`));
  closeStore(store);
  const bytes = readFileSync(path);
  const pageSize = bytes.readUInt16BE(16);
  assert.ok(bytes.length > 3 * pageSize);
  randomBytes(pageSize).copy(bytes, 2 * pageSize);
  writeFileSync(path, bytes);
  assert.throws(() => openStore({ path }), isUserError('CORRUPT_DATA', /damaged/));
  const kept = readdirSync(home).filter(
    (n) => n.startsWith('dp2.sqlite.corrupt-') && !/-(wal|shm)$/.test(n),
  );
  assert.equal(kept.length, 1);
  assert.deepEqual(readFileSync(join(home, kept[0] ?? '')), bytes);
});
