// A short-lived process that answers ONE contract request away from the main
// process, so minutes of tfjs work (evaluation) never stall the window: the
// same handlers, on a second connection to the same data home.
//
// Messages: parent → child `{ type: 'request', dataHome, channel, request }`;
// child → parent `{ type: 'progress', progress }` while it works, then
// `{ type: 'result', result }` (a contract Result) and the process exits.
// It also exits, at once, when its parent is gone.
import { dispatch } from '../contract/dispatch';
import { isChannel } from '../contract/channels';
import type { Progress, Result } from '../contract/channels';
import { watchParent } from '../jobs/parent-watch';
import { ServiceContext } from './context';
import { createServices } from './create-services';

interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  start?: () => void;
}

export type OffloadReply =
  { type: 'progress'; progress: Progress } | { type: 'result'; result: Result<unknown> };

const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;

function send(message: OffloadReply): Promise<void> {
  if (port) {
    port.postMessage(message);
    return Promise.resolve();
  }
  return new Promise((done) => process.send?.(message, undefined, {}, () => done()));
}

async function answer(raw: unknown): Promise<void> {
  const m = raw as { type?: unknown; dataHome?: unknown; channel?: unknown; request?: unknown };
  let result: Result<unknown>;
  if (m?.type !== 'request' || typeof m.dataHome !== 'string' || !isChannel(m.channel)) {
    result = {
      ok: false,
      error: { code: 'INTERNAL', message: 'The helper process got a malformed request.' },
    };
  } else {
    // No start-up housekeeping: the main process owns the runs it is training.
    const ctx = new ServiceContext(m.dataHome, { housekeeping: false });
    try {
      result = await dispatch(createServices(ctx), m.channel, m.request, {
        onProgress: (progress) => void send({ type: 'progress', progress }),
      });
    } finally {
      ctx.close();
    }
  }
  await send({ type: 'result', result });
  process.exit(0);
}

// Work for a parent that is gone is wasted: end with it (also mid-request).
watchParent();
if (port) {
  port.on('message', (e) => void answer(e.data));
  port.start?.();
} else {
  process.once('disconnect', () => process.exit(1));
  process.once('message', (raw) => void answer(raw));
}
