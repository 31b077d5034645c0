import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  formatOwner,
  isOwnerGone,
  parseOwner,
  processStartTime,
} from '../../../src-main/store/owner';
import type { ProcessProbe } from '../../../src-main/store/owner';

const SELF = '100:aaaaaa:1111111111111111';

function gone(
  owner: string | null,
  probe: ProcessProbe,
  sameProcess: 'connection' | 'process' = 'connection',
): boolean {
  return isOwnerGone({ owner, self: SELF, selfPid: 100, sameProcess, probe: () => probe });
}

test('owner strings read back as written; anything else is no owner', () => {
  const owner = { pid: 42, connection: 'c0ffee', startMark: '0123456789abcdef' };
  assert.deepEqual(parseOwner(formatOwner(owner)), owner);
  assert.deepEqual(parseOwner('42:c0ffee'), { pid: 42, connection: 'c0ffee', startMark: null });
  for (const bad of [null, '', 'x:y', '0:c', '-3:c', '42', '42:', '1.5:c', '42:c:m:extra']) {
    assert.equal(parseOwner(bad), null, String(bad));
  }
});

test('an owner is gone when missing, dead, or when its PID now belongs to a later process', () => {
  const recorded = '42:c0ffee:0123456789abcdef';
  assert.equal(gone(null, { alive: true, startMark: null }), true);
  assert.equal(gone('garbage', { alive: true, startMark: null }), true);
  assert.equal(gone(recorded, { alive: false, startMark: null }), true);
  // Same PID, another start: the PID was reused (after a reboot, or wrapped round).
  assert.equal(gone(recorded, { alive: true, startMark: 'fedcba9876543210' }), true);
  assert.equal(gone(recorded, { alive: true, startMark: '0123456789abcdef' }), false);
});

test('without a start time on either side the PID alone decides', () => {
  assert.equal(gone('42:c0ffee:0123456789abcdef', { alive: true, startMark: null }), false);
  assert.equal(gone('42:c0ffee', { alive: true, startMark: 'fedcba9876543210' }), false);
  assert.equal(gone('42:c0ffee', { alive: false, startMark: null }), true);
});

test('in this process: runs of an earlier connection are gone, imports are not', () => {
  const never: ProcessProbe = { alive: false, startMark: null };
  assert.equal(gone(SELF, never), false);
  assert.equal(gone('100:bbbbbb:1111111111111111', never, 'connection'), true);
  assert.equal(gone('100:bbbbbb:1111111111111111', never, 'process'), false);
  // Our PID, written by a process before a reboot that had the same number.
  assert.equal(gone('100:bbbbbb:2222222222222222', never, 'process'), true);
  assert.equal(gone('100:bbbbbb', never, 'process'), false);
});

test('the system tells start times apart: this process and a later one', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid ?? 0;
  for (const platform of ['linux', 'darwin'] as const) {
    const mine = processStartTime(process.pid, platform);
    assert.ok(mine, platform);
    assert.equal(processStartTime(process.pid, platform), mine, `${platform}: stable`);
    assert.ok(processStartTime(pid, platform), `${platform}: the child has one`);
  }
  // /proc counts clock ticks: a process started later differs.
  assert.notEqual(processStartTime(pid, 'linux'), processStartTime(process.pid, 'linux'));
  assert.equal(processStartTime(2 ** 22 + 12345, 'linux'), null, 'no such process');
});
