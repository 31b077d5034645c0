/**
 * The training worker: the child process that runs one training run and
 * streams typed events to the runner (protocol.ts). The main process never
 * trains; this process never writes the database.
 *
 * Started by the runner with `child_process.fork(workerPath, { execArgv:
 * ['--import', 'tsx'] })` (CLI, tests) or Electron's `utilityProcess`; the
 * transport is `process.send`/`process.on('message')` or `process.parentPort`.
 * It waits for a `start` message with its WorkerConfig, then runs the plan's
 * method (found in src-main/methods/registry.ts) against a small context
 * (training-context.ts): events out, pause/resume/cancel in, the runner's
 * acknowledgements of write-ahead spends and checkpoints, and the per-record
 * random source. Each method's loop ends in the shared private stage
 * (private-stage.ts): before each noisy update the steps are paid for
 * write-ahead (`spend`, wait for `spent`; reserved in chunks, never past the
 * step budget, the run's own target ε or the data set's cap, so a crash can
 * only over-count); checkpoints in `<runDir>/checkpoints` (private); sample
 * grids; at the end the released decoder in `<runDir>/decoder` (releasable),
 * then `done`.
 *
 * Pause, resume and cancel act within one step: each stage checks an
 * AbortSignal before every step; a paused private stage is checkpointed and
 * waits.
 *
 * While it runs, the worker sends a `heartbeat` every few seconds; the runner
 * kills a worker silent for longer than its slowest step allows (heartbeat.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toErrorPayload } from '../contract/errors';
import { secureRecordNoise } from '../engine/record-noise';
import { methodOfPlan } from '../methods/registry';
import { HEARTBEAT_INTERVAL_MS, startStallMeter } from './heartbeat';
import { watchParent } from './parent-watch';
import {
  parseParentMessage,
  processTransport,
  type ChildMessage,
  type WorkerConfig,
  type WorkerTransport,
} from './protocol';
import { Acks, Control, type TrainingContext } from './training-context';

/** Runs one job over `transport`; resolves when the job has ended (done or error sent). */
export async function runWorker(transport: WorkerTransport): Promise<void> {
  const send = (m: ChildMessage): void => transport.send(m);
  let position = (): number => 0;
  const control = new Control(() => position());
  const acks = new Acks();
  let started: ((config: WorkerConfig) => void) | null = null;
  const configReady = new Promise<WorkerConfig>((r) => (started = r));
  let failProtocol: (err: Error) => void = () => {};
  const protocolFailed = new Promise<never>((_, reject) => (failProtocol = reject));
  protocolFailed.catch(() => {});

  transport.onMessage((raw) => {
    try {
      const msg = parseParentMessage(raw);
      switch (msg.type) {
        case 'start':
          started?.(msg.config);
          started = null;
          break;
        case 'spent':
          acks.spent(msg.fromStep, msg.toStep);
          break;
        case 'checkpoint-recorded':
          acks.checkpointRecorded(msg.path);
          break;
        case 'pause':
          control.pause();
          break;
        case 'resume':
          control.resume();
          break;
        case 'cancel':
          control.cancel();
          break;
      }
    } catch (err) {
      failProtocol(err as Error);
    }
  });
  send({ type: 'ready', pid: process.pid });
  const stopHeartbeat = startStallMeter(HEARTBEAT_INTERVAL_MS, (longestStallMs) =>
    send({ type: 'heartbeat', longestStallMs }),
  );

  try {
    const config = await Promise.race([configReady, protocolFailed]);
    await Promise.race([
      train(config, { send, control, acks, setPosition: (f) => (position = f) }),
      protocolFailed,
    ]);
  } catch (err) {
    send({ type: 'error', ...toErrorPayload(err) });
  } finally {
    stopHeartbeat();
  }
}

/** Runs the plan's method with the context every method gets. */
async function train(
  config: WorkerConfig,
  ctx: Omit<TrainingContext, 'recordNoise'>,
): Promise<void> {
  const method = methodOfPlan(config.plan);
  await method.train(config, config.plan, { ...ctx, recordNoise: secureRecordNoise() });
}

/** Whether this module is the process's entry point (fork) or runs in Electron's utilityProcess. */
function isEntryPoint(): boolean {
  if ((process as unknown as { parentPort?: unknown }).parentPort) return true;
  const main = process.argv[1];
  if (!main) return false;
  try {
    return (
      pathToFileURL(resolve(main)).href === import.meta.url ||
      resolve(main) === fileURLToPath(import.meta.url)
    );
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const transport = processTransport();
  // The runner is gone (main process crashed or quit): stop at once; the run resumes later.
  transport.onParentGone(() => process.exit(1));
  watchParent();
  void runWorker(transport)
    .then(() => transport.close())
    .then(
      () => {
        // Nothing should keep the process alive now; make sure of it.
        setTimeout(() => process.exit(0), 2000).unref();
      },
      (err: unknown) => {
        process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
        process.exit(1);
      },
    );
}
