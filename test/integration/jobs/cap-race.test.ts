/**
 * Two processes (the desktop app and `dp2 train`, say) spending on one data
 * set can never pass its cap together: the runner's check and its record are
 * one IMMEDIATE transaction. Two children race to the cap, chunk by chunk;
 * the composed total of the ledger afterwards is within the cap, and the
 * cap was actually reached (the race was real).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ledgerTotal } from '../../../src-main/services/ledger-total';
import {
  createRun,
  ledgerEntriesByFingerprint,
  stepsSpent,
  type Store,
} from '../../../src-main/store';
import { mnistDataset, tempHome } from './helpers';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./cap-spender.ts', import.meta.url));
const CAP = 4;

function child(path: string, datasetId: number, runId: number): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, path, String(datasetId), String(runId)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

function lineOf(c: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout?.setEncoding('utf8');
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (s: string) => (err += s));
    const onData = (s: string) => {
      out += s;
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (line) {
        c.stdout?.off('data', onData);
        resolve(line);
      }
    };
    c.stdout?.on('data', onData);
    c.once('exit', (code) => {
      if (!out.split('\n').some((l) => l.startsWith(prefix)))
        reject(new Error(`child exited ${code} before "${prefix}": ${err}`));
    });
  });
}

function newRun(store: Store, datasetId: number): number {
  return createRun(store, {
    datasetId,
    method: 'dpsgd',
    hyperparameters: {},
    architecture: {},
    targetEpsilon: CAP,
    delta: 1e-5,
  }).id;
}

test(
  'two processes racing to a data set cap never pass it together',
  { timeout: 240_000 },
  async (t) => {
    const { store } = tempHome(t);
    for (let round = 0; round < 3; round++) {
      const ds = await mnistDataset(
        store,
        `race-${round}`,
        20,
        { epsilon: CAP, delta: 1e-5 },
        20 * round,
      );
      const runs = [newRun(store, ds.id), newRun(store, ds.id)];
      const children = runs.map((r) => child(store.path, ds.id, r));
      await Promise.all(children.map((c) => lineOf(c, 'loaded')));
      const finished = children.map((c) => lineOf(c, 'granted'));
      for (const c of children) c.stdin?.write('go\n');
      await Promise.all(finished);
      await Promise.all(
        children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(0)))),
      );
      const total = ledgerTotal(ledgerEntriesByFingerprint(store, ds.fingerprint), 1e-5);
      assert.ok(total.epsilon <= CAP, `round ${round}: composed ε ${total.epsilon} > cap ${CAP}`);
      assert.ok(
        total.epsilon > CAP * 0.99,
        `round ${round}: the cap was reached (${total.epsilon})`,
      );
      const spent = runs.map((r) => stepsSpent(store, r));
      assert.ok(
        spent.every((n) => n > 0),
        `both processes spent (${spent.join(' and ')} steps)`,
      );
    }
  },
);
