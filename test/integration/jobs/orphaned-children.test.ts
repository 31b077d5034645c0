/**
 * The evaluation helper and the training worker end when the process that
 * started them dies (SIGKILL, no chance to clean up), also mid-request:
 * work for a parent that is gone is wasted, and a lingering process holds
 * private data in memory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const PARENT = fileURLToPath(new URL('./fixtures/helper-parent.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the parent, waits until its child is busy, kills the parent; the child's PID. */
async function orphan(kind: 'helper' | 'worker', home: string): Promise<number> {
  const parent = spawn(process.execPath, ['--import', 'tsx', PARENT, kind, home], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DP2_HOME: home },
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout.setEncoding('utf8');
    parent.stdout.on('data', (c: string) => {
      out += c;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { pid: number }).pid);
    });
    parent.once('exit', (code) => reject(new Error(`the parent ended first (${code})`)));
  });
  parent.kill('SIGKILL');
  await new Promise((r) => parent.once('exit', r));
  return pid;
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

for (const kind of ['helper', 'worker'] as const) {
  test(
    `the ${kind === 'helper' ? 'evaluation helper' : 'training worker'} ends when its parent is killed`,
    { timeout: 120_000 },
    async (t) => {
      const home = mkdtempSync(join(tmpdir(), 'dp2-orphan-'));
      t.after(() => rmSync(home, { recursive: true, force: true }));
      const pid = await orphan(kind, home);
      t.after(() => {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      });
      assert.ok(
        await goneWithin(pid, 4_000),
        `process ${pid} still runs 4 s after its parent died`,
      );
    },
  );
}
