import type { Dp2Api, ErrorPayload, Result } from '../../../src-main/contract';

declare global {
  interface Window {
    dp2: Dp2Api;
    /** The desktop app's preload only: where a dropped file or folder is stored. */
    dp2Files?: { pathOf(file: File): string };
  }
}

/** The contract's functions, as the preload (or the test harness) exposes them. */
export const dp2: Dp2Api = window.dp2;

/**
 * One request in flight at a time: while one runs, later ones replace each
 * other, so a dragged slider never queues up stale work. Every reply is shown
 * (they arrive in order), so the view follows the drag.
 */
export function latestOnly<Req, Res>(
  call: (request: Req) => Promise<Result<Res>>,
  onResult: (result: Result<Res>) => void,
): (request: Req) => void {
  let running = false;
  let queued: { request: Req } | undefined;
  const run = async (request: Req): Promise<void> => {
    running = true;
    let result: Result<Res>;
    try {
      result = await call(request);
    } catch (err) {
      result = {
        ok: false,
        error: { code: 'INTERNAL', message: String(err) } satisfies ErrorPayload,
      };
    }
    onResult(result);
    running = false;
    if (queued) {
      const next = queued.request;
      queued = undefined;
      void run(next);
    }
  };
  return (request: Req) => {
    if (running) queued = { request };
    else void run(request);
  };
}
