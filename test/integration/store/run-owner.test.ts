/**
 * A run's owner is its process id and that process's start time. After a
 * reboot another process may hold the recorded PID: the run must then count
 * as interrupted, not as still running. Uses a real live process (`sleep`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { getRun, markInterruptedRuns, updateRunStatus } from '../../../src-main/store';
import type { Store } from '../../../src-main/store';
import { processStartTime, startMark } from '../../../src-main/store/owner';
import { seed, tempStore } from '../../unit/store/helpers';

/** A run set running, then recorded as owned by `owner` (as another process would have written it). */
function runOwnedBy(store: Store, owner: string): number {
  const { run } = seed(store, `Scans ${owner}`);
  updateRunStatus(store, run.id, 'running');
  store.db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(owner, run.id);
  return run.id;
}

test('a live PID that started at another time than the recorded owner does not keep a run running', async (t) => {
  const { store } = tempStore(t);
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  await new Promise((resolve) => other.once('spawn', resolve));
  const pid = other.pid ?? 0;
  const realMark = startMark(processStartTime(pid));
  assert.ok(realMark);
  const wrongMark = realMark === '0000000000000000' ? '1111111111111111' : '0000000000000000';

  const reused = runOwnedBy(store, `${pid}:0a0b0c:${wrongMark}`);
  const live = runOwnedBy(store, `${pid}:0a0b0c:${realMark}`);

  assert.deepEqual(markInterruptedRuns(store), [reused]);
  assert.equal(getRun(store, reused).status, 'interrupted');
  assert.equal(getRun(store, live).status, 'running');
});

test('a run set running by this connection records a start time and stays its own', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  updateRunStatus(store, run.id, 'running');
  const owner = store.db.prepare('SELECT owner FROM runs WHERE id = ?').pluck().get(run.id);
  assert.match(String(owner), new RegExp(`^${process.pid}:[0-9a-f]+:[0-9a-f]{16}$`));
  assert.deepEqual(markInterruptedRuns(store), []);
  assert.equal(getRun(store, run.id).status, 'running');
});
