/**
 * kill -9 at random points of every write path (import, spend, checkpoint,
 * export, delete), a few trials each; `npm run bench kill-trials` runs the
 * full count. See kill-harness.ts for the invariants checked after each kill.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPS, prepareTemplate, runTrials } from './kill-harness';
import { tempDir } from '../../support/temp';

const PER_OP = 2;

test(
  'kill -9 during import, spend, checkpoint, export and delete: the reopened data folder keeps every invariant',
  { timeout: 300_000 },
  async (t) => {
    const tmp = tempDir('dp2-kill-');
    t.after(tmp.cleanup);
    const template = await prepareTemplate(tmp.path);
    // Kills within the first 60 % of each operation's measured time, so the one killed
    // trial per path is interrupted mid-way.
    const summary = await runTrials(template, {
      perOp: PER_OP,
      spread: 0.6,
      log: (line) => t.diagnostic(line),
    });
    assert.equal(summary.trials, PER_OP * OPS.length);
    assert.deepEqual([...summary.violations], []);
    // Each path was interrupted (the first trial of each runs to its end).
    for (const op of OPS) assert.ok(summary.perOp[op].killed >= 1, `${op} was never interrupted`);
  },
);
