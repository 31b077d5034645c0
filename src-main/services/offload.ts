import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CallContext, Channel, ParsedRequestOf, ResponseOf } from '../contract/channels';
import { UserError } from '../contract/errors';
import type { OffloadReply } from './offload-worker';

/** One helper process: the parent side (fork under Node, utilityProcess in Electron). */
export interface OffloadChannel {
  /** The helper's process id, where known. */
  readonly pid?: number | undefined;
  send(message: unknown): void;
  onMessage(handler: (raw: unknown) => void): void;
  onExit(handler: (code: number | null) => void): void;
  kill(): void;
}
export type OffloadLauncher = () => OffloadChannel;

/** The helper's entry (TypeScript through tsx; Electron runs the bundled offload-worker.js). */
export const OFFLOAD_WORKER_PATH = fileURLToPath(new URL('./offload-worker.ts', import.meta.url));

/** `child_process.fork` of the helper under plain Node with tsx (command line and tests). */
export function forkOffload(): OffloadChannel {
  const child = fork(OFFLOAD_WORKER_PATH, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'json',
  });
  return {
    pid: child.pid,
    // A helper that died before the request arrives fails in 'close', not here (EPIPE).
    send: (m) => void child.send(m as object, () => undefined),
    onMessage: (h) => void child.on('message', h),
    onExit: (h) => void child.once('close', (code) => h(code)),
    kill: () => void child.kill('SIGKILL'),
  };
}

/**
 * Answers `channel` in a helper process: the request goes out already
 * validated, progress comes back while it works, and an abort kills the helper.
 */
export function offloaded<C extends Channel>(
  launch: OffloadLauncher,
  dataHome: string,
  channel: C,
): (request: ParsedRequestOf<C>, call: CallContext) => Promise<ResponseOf<C>> {
  return (request, call) =>
    new Promise((resolve, reject) => {
      const child = launch();
      let settled = false;
      const onAbort = () => child.kill();
      call.signal?.addEventListener('abort', onAbort, { once: true });
      child.onMessage((raw) => {
        const m = raw as OffloadReply;
        if (m.type === 'progress') call.onProgress?.(m.progress);
        else if (m.type === 'result') {
          settled = true;
          call.signal?.removeEventListener('abort', onAbort);
          if (m.result.ok) resolve(m.result.value as ResponseOf<C>);
          else reject(new UserError(m.result.error.code, m.result.error.message));
        }
      });
      child.onExit((code) => {
        call.signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        reject(
          new UserError(
            call.signal?.aborted ? 'CANCELLED' : 'INTERNAL',
            call.signal?.aborted
              ? 'Stopped.'
              : `The helper process for ${channel} ended unexpectedly (exit code ${code}). Try again; if it keeps happening, restart the app.`,
          ),
        );
      });
      child.send({ type: 'request', dataHome, channel, request });
    });
}
