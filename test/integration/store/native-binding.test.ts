/**
 * `npm start` names the Electron build of the SQLite driver in
 * DP2_SQLITE_NATIVE_BINDING. Every connection the store makes (the read-only
 * look at an existing file, the working connection) must load that build:
 * under Electron the package's own build does not load at all.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import { closeStore, getDataset, insertDataset, openStore } from '../../../src-main/store';
import { NATIVE_BINDING_ENV } from '../../../src-main/store/open';
import { datasetInput, tempHome } from '../../unit/store/helpers';

/** The driver build npm installed for this Node. */
const nodeBuild = join(
  dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')),
  'build',
  'Release',
  'better_sqlite3.node',
);

function withBinding(t: TestContext, value: string): void {
  const before = process.env[NATIVE_BINDING_ENV];
  process.env[NATIVE_BINDING_ENV] = value;
  t.after(() => {
    if (before === undefined) delete process.env[NATIVE_BINDING_ENV];
    else process.env[NATIVE_BINDING_ENV] = before;
  });
}

function refusedFor(binding: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_INPUT');
    assert.ok(err.message.includes(binding), err.message);
    assert.ok(err.message.includes(NATIVE_BINDING_ENV), err.message);
    return true;
  };
}

test('with the binding variable set, a new and an existing database both open', (t) => {
  withBinding(t, nodeBuild);
  const home = tempHome(t);
  const path = join(home, 'dp2.sqlite');
  const first = openStore({ path }); // new file: the working connection only
  insertDataset(first, datasetInput(first, 'Scans'));
  closeStore(first);
  const again = openStore({ path }); // existing file: the read-only check, then the connection
  t.after(() => closeStore(again));
  assert.equal(getDataset(again, 'Scans').name, 'Scans');
});

test('a binding that does not load stops every connection with a plain message and moves nothing', (t) => {
  const home = tempHome(t);
  const bogus = join(home, 'not-a-driver.node');
  writeFileSync(bogus, 'this is not a compiled module');

  // An existing database of ours: the read-only check must not open it with another driver.
  const ours = join(home, 'ours', 'dp2.sqlite');
  closeStore(openStore({ path: ours }));
  // A foreign SQLite file: a check that ignored the variable would judge it and move it aside.
  const foreign = join(home, 'foreign', 'dp2.sqlite');
  const other = openStore({ path: foreign });
  other.db.pragma('application_id = 1');
  closeStore(other);
  const foreignBytes = readFileSync(foreign);

  withBinding(t, bogus);
  assert.throws(() => openStore({ path: join(home, 'new', 'dp2.sqlite') }), refusedFor(bogus));
  assert.throws(() => openStore({ path: ours }), refusedFor(bogus));
  assert.throws(() => openStore({ path: foreign }), refusedFor(bogus));
  assert.deepEqual(readdirSync(join(home, 'foreign')), ['dp2.sqlite']);
  assert.deepEqual(readFileSync(foreign), foreignBytes);
});
