/**
 * A full disk, for real: the data folder lives on a small tmpfs mounted by
 * the test (root is needed, as in CI), a ballast file fills it at the worst
 * moment, and import, training (checkpoint + ledger) and export each must
 * fail with a plain message, leave nothing half-written, never under-count
 * the ledger, and succeed once the ballast is removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  writeSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dispatch } from '../../../src-main/contract/dispatch';
import type { Channel, Handlers, ResponseOf } from '../../../src-main/contract/channels';
import { unpackContainer } from '../../../src-main/engine/checkpoint';
import { createServices } from '../../../src-main/services/create-services';
import { ServiceContext } from '../../../src-main/services/context';
import { getRun, listCheckpoints, listDatasets, stepsSpent } from '../../../src-main/store';
import type { RunEvent } from '../../../src-main/jobs/runner';
import { writeDigitFolder } from '../../support/digits';
import { tempDir } from '../../support/temp';

/** Mounts a tmpfs of `mib` MiB on a fresh folder; returns it and its unmount. */
function smallDisk(mib: number): { path: string; unmount: () => void } {
  const dir = tempDir('dp2-diskfull-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir.path]);
  } catch (err) {
    throw new Error(
      `This test mounts a small tmpfs and needs root (as in CI): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const unmount = () => {
    execFileSync('umount', [dir.path]);
    dir.cleanup();
  };
  return { path: dir.path, unmount };
}

/** Fills the disk of `dir` with a ballast file, leaving at most `leave` bytes free. */
function fill(dir: string, leave: number): string {
  const ballast = join(dir, `ballast-${Date.now()}-${Math.random()}`);
  const st = statfsSync(dir);
  let todo = Math.max(0, st.bavail * st.bsize - leave);
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(ballast, 'w');
  try {
    while (todo > 0) todo -= writeSync(fd, chunk, 0, Math.min(todo, chunk.length));
  } catch (err) {
    // The file system's own bookkeeping took the last blocks: it is full.
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return ballast;
}

/** Calls a service through the contract, as the app and the command line do. */
async function call<C extends Channel>(
  handlers: Handlers,
  channel: C,
  payload: unknown,
): Promise<
  { ok: true; value: ResponseOf<C> } | { ok: false; error: { code: string; message: string } }
> {
  return dispatch(handlers, channel, payload);
}

/** A failure said in plain words: no errno code, no "something went wrong". */
function assertPlainFailure(
  result: { ok: boolean; error?: { code: string; message: string } },
  what: string,
): void {
  assert.equal(result.ok, false, `${what} succeeded on a full disk`);
  const { code, message } = result.error!;
  assert.notEqual(code, 'INTERNAL', `${what}: ${message}`);
  assert.doesNotMatch(message, /ENOSPC|SQLITE_FULL|Something went wrong/, what);
  assert.match(message, /full/i, `${what}: ${message}`);
}

/** Only the folders of live data sets (and no staging folder) are in `datasets/`. */
function assertNoHalfImport(ctx: ServiceContext, what: string): void {
  const folder = join(ctx.dataHome, 'datasets');
  const owned = new Set(listDatasets(ctx.store).map((d) => d.filesDir));
  const present = existsSync(folder) ? readdirSync(folder).map((n) => join(folder, n)) : [];
  for (const p of present) assert.ok(owned.has(p), `${what}: ${p} belongs to no data set`);
}

const SMALL_RUN = {
  dataset: 'digits',
  method: 'dp2vae',
  preset: 'quick',
  epsilon: 20,
  overrides: { blocks: 2, steps: 30, pretrainEpochs: 1, batchSize: 16, seed: 5 },
  wait: true,
};

test(
  'a full disk: import, training and export fail in plain words, keep nothing half-written, and work once space is freed',
  { timeout: 240_000 },
  async (t) => {
    const { path: disk, unmount } = smallDisk(96);
    const source = tempDir('dp2-diskfull-src-');
    t.after(source.cleanup);
    writeDigitFolder(source.path, 20);
    const home = join(disk, 'home');
    const events: RunEvent[] = [];
    let onEvent: (e: RunEvent) => void = () => undefined;
    const open = () => {
      const ctx = new ServiceContext(home, {
        schedule: { checkpointEvery: 5, reserveChunk: 3, gridEvery: 0, epsilonEvery: 5 },
      });
      ctx.onRunEvent((e) => {
        events.push(e);
        onEvent(e);
      });
      return ctx;
    };
    let ctx = open();
    t.after(() => {
      ctx.close();
      unmount();
    });
    let handlers = createServices(ctx);
    assert.ok(ctx.store, 'the database exists before the disk fills');

    // Import: fill leaving 0, 48 KiB, 96 KiB, … until the import fits.
    let importFailures = 0;
    for (let leave = 0; ; leave += 48 * 1024) {
      assert.ok(leave < 4 << 20, 'the import never fitted');
      const ballast = fill(disk, leave);
      const r = await call(handlers, 'datasets.import', { path: source.path, name: 'digits' });
      rmSync(ballast);
      assertNoHalfImport(ctx, `import with ${leave} bytes free`);
      if (r.ok) break;
      importFailures++;
      assertPlainFailure(r, `import with ${leave} bytes free`);
      assert.equal(listDatasets(ctx.store).length, 0);
    }
    assert.ok(importFailures >= 2, `only ${importFailures} imports failed`);
    t.diagnostic(`import: ${importFailures} failures on a full disk, then success`);

    // Training: fill the disk in stage 1, then in stage 2 right after a checkpoint.
    const trainings: string[] = [];
    for (const when of ['stage1', 'stage2'] as const) {
      events.length = 0;
      let ballast: string | null = null;
      let stage2Steps = 0;
      onEvent = (e) => {
        if (e.type === 'progress' && e.stage === 'stage2')
          stage2Steps = Math.max(stage2Steps, e.step);
        const now =
          ballast === null &&
          ((when === 'stage1' && e.type === 'progress' && e.stage === 'stage1') ||
            (when === 'stage2' && e.type === 'checkpoint' && e.stage === 'stage2'));
        if (now) ballast = fill(disk, 0);
      };
      const r = await call(handlers, 'runs.start', SMALL_RUN);
      onEvent = () => undefined;
      assert.ok(
        ballast !== null,
        `the disk was never filled in ${when}: ${JSON.stringify(r)} ${JSON.stringify(events.map((e) => e.type))}`,
      );
      rmSync(ballast);
      assert.ok(r.ok, JSON.stringify(r));
      const { runId, outcome } = (r as { value: ResponseOf<'runs.start'> }).value;
      assert.ok(outcome && outcome.status !== 'completed', `${when}: ${JSON.stringify(outcome)}`);
      assertPlainFailure({ ok: false, error: outcome.error! }, `training filled in ${when}`);
      // Nothing half-written: every recorded checkpoint is a whole file.
      for (const cp of listCheckpoints(ctx.store, runId)) {
        if (cp.stage === 'stage2') unpackContainer(readFileSync(cp.path));
      }
      // The ledger holds every noisy step taken and every checkpointed one.
      const spent = stepsSpent(ctx.store, runId);
      const checkpointed = Math.max(
        0,
        ...listCheckpoints(ctx.store, runId).flatMap((c) => (c.stage === 'stage2' ? [c.step] : [])),
      );
      assert.ok(spent >= stage2Steps, `${when}: ledger ${spent} < ${stage2Steps} steps taken`);
      assert.ok(
        spent >= checkpointed,
        `${when}: ledger ${spent} < checkpoint step ${checkpointed}`,
      );
      // Once space is freed the run is no longer shown running (within the runner's 1 s retry).
      for (let i = 0; i < 50 && getRun(ctx.store, runId).status === 'running'; i++)
        await sleep(100);
      assert.equal(getRun(ctx.store, runId).status, outcome.status);
      trainings.push(`${when}: ${outcome.status} after ${stage2Steps} steps, ledger ${spent}`);
    }

    // The app keeps working: reopen the data folder as a new start would, and train.
    ctx.close();
    ctx = open();
    handlers = createServices(ctx);
    const done = await call(handlers, 'runs.start', SMALL_RUN);
    assert.ok(done.ok && done.value.outcome?.status === 'completed', JSON.stringify(done));
    const runId = (done as { value: ResponseOf<'runs.start'> }).value.runId;
    t.diagnostic(`training: ${trainings.join('; ')}; then completed`);

    // Export: fill leaving 0, 256 KiB, … until it fits.
    const release = join(disk, 'release');
    mkdirSync(release);
    const out = join(release, 'export');
    let exportFailures = 0;
    for (let leave = 0; ; leave += 256 * 1024) {
      assert.ok(leave < 16 << 20, 'the export never fitted');
      const ballast = fill(disk, leave);
      const r = await call(handlers, 'runs.export', { runId, outDir: out, perClass: 20 });
      rmSync(ballast);
      if (r.ok) break;
      exportFailures++;
      assertPlainFailure(r, `export with ${leave} bytes free`);
      assert.deepEqual(readdirSync(release), [], `export with ${leave} bytes free left a folder`);
    }
    assert.ok(exportFailures >= 2, `only ${exportFailures} exports failed`);
    assert.ok(existsSync(join(out, 'certificate.json')));
    t.diagnostic(`export: ${exportFailures} failures on a full disk, then success`);
  },
);
