/**
 * Deleting a data set removes what the database held about its private data
 * from the database files themselves, not only from query results: the bytes
 * are not left in free pages, in free space inside pages, or in the
 * write-ahead log. Scans the raw files for a marker stored before deletion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  appendMetrics,
  closeStore,
  deleteDataset,
  getMetrics,
  openStore,
  recordCheckpoint,
  updateRunStatus,
} from '../../../src-main/store';
import type { Store } from '../../../src-main/store';
import { seed, tempHome, writeFile } from '../../unit/store/helpers';

/** How many times `marker` occurs in the database file and its -wal. */
function occurrences(store: Store, marker: string): number {
  let n = 0;
  for (const file of [store.path, `${store.path}-wal`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    for (let i = bytes.indexOf(marker); i >= 0; i = bytes.indexOf(marker, i + 1)) n++;
  }
  return n;
}

/** A data set whose run has metrics and a checkpoint row that carry `marker`. */
function privateRows(store: Store, marker: string): void {
  const { run } = seed(store);
  updateRunStatus(store, run.id, 'running');
  appendMetrics(
    store,
    run.id,
    Array.from({ length: 50 }, (_, i) => ({ stage: 'stage2', step: i, name: marker, value: i })),
  );
  const ckpt = writeFile(join(store.home, 'runs', '1', `${marker}.ckpt`), 'encoder state');
  recordCheckpoint(store, { runId: run.id, stage: 'stage2', step: 30, path: ckpt, bytes: 13 });
  updateRunStatus(store, run.id, 'cancelled');
}

for (const where of ['checkpointed into the database file', 'still in the write-ahead log']) {
  test(`deleted private rows leave no bytes in the database files (${where})`, (t) => {
    const home = tempHome(t);
    const store = openStore({ path: join(home, 'dp2.sqlite') });
    t.after(() => closeStore(store));
    assert.equal(store.db.pragma('secure_delete', { simple: true }), 1);
    const marker = `private-${randomBytes(8).toString('hex')}`;
    privateRows(store, marker);
    if (where.startsWith('checkpointed')) store.db.pragma('wal_checkpoint(TRUNCATE)');
    assert.ok(occurrences(store, marker) > 0, 'the marker is on disk before the deletion');

    deleteDataset(store, 'Chest X-rays');

    assert.deepEqual(getMetrics(store, 1), []);
    // While the app is still open, as soon as the deletion has returned.
    assert.equal(occurrences(store, marker), 0, 'no byte of the deleted rows is left on disk');
  });
}
