/**
 * A worker that stops answering (its event loop blocked forever) is killed
 * once its silence passes what the rule allows; the run is left interrupted,
 * resumable, with a plain message, and the process is gone.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { forkWorker, startTraining, type WorkerChannel } from '../../../src-main/jobs/runner';
import { getRun } from '../../../src-main/store';
import { mnistDataset, recorder, SMALL, tempHome } from './helpers';

const HUNG = fileURLToPath(new URL('./fixtures/hung-worker.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  'a hung worker is killed and its run left interrupted with a plain message',
  { timeout: 60_000 },
  async (t) => {
    const { store, home } = tempHome(t);
    await mnistDataset(store, 'hung', 110);
    let channel: WorkerChannel | undefined;
    const { events, onEvent } = recorder();
    const handle = await startTraining({
      store,
      dataHome: home,
      datasetName: 'hung',
      method: 'dp2vae',
      targetEpsilon: 5,
      preset: 'quick',
      overrides: SMALL,
      onEvent,
      launcher: () => (channel = forkWorker({ entry: HUNG })),
      watchdog: { floorMs: 1_500, factor: 3, checkEveryMs: 100 },
    });
    const outcome = await handle.done;
    assert.equal(outcome.status, 'interrupted');
    assert.match(
      outcome.error?.message ?? '',
      new RegExp(
        `run ${handle.runId} stopped responding for \\d+ s .*Resume the run to continue from its last checkpoint; the privacy already spent stays recorded`,
      ),
    );
    const run = getRun(store, handle.runId);
    assert.equal(run.status, 'interrupted');
    assert.equal(run.errorMessage, outcome.error?.message);
    // The stand-in reported its backend, so the run was running before it hung.
    assert.ok(events.some((e) => e.type === 'status' && e.status === 'running'));
    const pid = channel?.pid;
    assert.ok(pid !== undefined);
    assert.equal(alive(pid), false, 'the hung process is gone');
  },
);

test('a message to a worker that died a moment ago is dropped; this process carries on', async () => {
  const channel = forkWorker({ entry: HUNG });
  const closed = new Promise<string | null>((done) =>
    channel.onExit((_code, signal) => done(signal)),
  );
  await new Promise<void>((ready) => channel.onMessage(() => ready()));
  channel.kill('SIGKILL');
  // Wait without letting this process see the death, as a busy message queue does: the
  // channel still counts as connected, and writing to it fails with EPIPE.
  const until = Date.now() + 300;
  while (Date.now() < until) {
    // busy
  }
  channel.send({ type: 'spent', fromStep: 1, toStep: 5 });
  channel.send({ type: 'spent', fromStep: 6, toStep: 10 });
  assert.equal(await closed, 'SIGKILL');
});
