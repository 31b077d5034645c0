/**
 * The ledger survives `kill -9` at random points: a child records spends in a
 * loop and reports each step after `recordSpend` returned; the parent kills it
 * and checks the database is sound and holds every reported spend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import {
  closeStore,
  createRun,
  insertDataset,
  ledgerEntries,
  openStore,
  stepsSpent,
} from '../../../src-main/store';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./ledger-spender.ts', import.meta.url));
const TRIALS = 20;
const DEADLINE_MS = 30_000;

/** Starts a child; it loads its modules, then waits for a line on stdin. */
function startChild(path: string, datasetId: number, runId: number): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, path, String(datasetId), String(runId)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** Lets the child spend until a random kill point; returns the last step it reported. */
function trial(child: ChildProcess, onReady: () => void): Promise<{ last: number; start: number }> {
  return new Promise((resolve, reject) => {
    const { stdout, stderr, stdin } = child;
    if (!stdout || !stderr || !stdin) throw new Error('child without pipes');
    let buffered = '';
    let errors = '';
    let start = -1;
    let last = -1;
    let seen = 0;
    // Half the trials kill after a random number of reported steps, half after a random delay.
    const byCount = Math.random() < 0.5;
    const killAfter = byCount ? 1 + Math.floor(Math.random() * 30) : Math.random() * 40;
    const kill = () => child.kill('SIGKILL');
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready ')) {
          start = Number(line.slice(6));
          onReady();
          if (!byCount) setTimeout(kill, killAfter);
          continue;
        }
        last = Number(line);
        seen++;
        if (byCount && seen >= killAfter) kill();
      }
    });
    stderr.on('data', (c: Buffer) => (errors += c.toString()));
    const timer = setTimeout(kill, 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL')
        reject(new Error(`child ended by itself (code ${code}): ${errors}`));
      else if (start < 0) reject(new Error(`child never became ready: ${errors}`));
      else resolve({ last: last < 0 ? start : last, start });
    });
    stdin.write('go\n');
  });
}

test('every spend reported as recorded survives kill -9, and the database stays sound', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'dp2-ledger-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const path = join(home, 'dp2.sqlite');
  const setup = openStore({ path });
  const ds = insertDataset(setup, {
    name: 'Durability',
    fingerprint: 'sha256:durable',
    format: 'npz',
    preprocessing: {},
    splitSeed: 1,
    trainCount: 10,
    testCount: 2,
    classNames: ['a'],
    filesDir: 'datasets/durability',
  });
  const run = createRun(setup, {
    datasetId: ds.id,
    method: 'dp2vae',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  closeStore(setup);

  const began = Date.now();
  let trials = 0;
  let reported = 0;
  let next = startChild(path, ds.id, run.id);
  t.after(() => next.kill('SIGKILL'));
  while (trials < TRIALS && Date.now() - began < DEADLINE_MS) {
    const current = next;
    // The next child starts loading once this one has loaded everything, so
    // two children never fill tsx's transform cache at the same time.
    const { last, start } = await trial(current, () => {
      next = startChild(path, ds.id, run.id);
    });
    trials++;
    assert.ok(
      start >= reported,
      `trial ${trials}: the ledger lost steps (had ${reported}, child found ${start})`,
    );

    const raw = new Database(path);
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    raw.close();
    const store = openStore({ path });
    try {
      const spent = stepsSpent(store, run.id);
      assert.ok(
        spent >= last,
        `trial ${trials}: reported step ${last} but only ${spent} in the ledger`,
      );
      assert.ok(
        spent <= last + 1,
        `trial ${trials}: ${spent} steps recorded, at most one more than reported ${last}`,
      );
      // The rows cover 1..spent exactly once, in order.
      let next = 1;
      for (const row of ledgerEntries(store, ds.id)) {
        assert.equal(row.fromStep, next);
        assert.equal(row.spec.steps, row.toStep - row.fromStep + 1);
        next = row.toStep + 1;
      }
      assert.equal(next - 1, spent);
      reported = spent;
    } finally {
      closeStore(store);
    }
  }
  assert.ok(trials >= 5, `only ${trials} trials ran within the time limit`);
  assert.ok(reported > trials, 'the children made progress');
  t.diagnostic(`${trials} kills, ${reported} steps recorded`);
});
