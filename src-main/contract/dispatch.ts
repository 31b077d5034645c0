import type { CallContext, Channel, Handlers, Result, ResponseOf } from './channels';
import { toErrorPayload } from './errors';
import { parseRequest, parseResponse } from './validate';

/**
 * Runs one request through the contract: validate the payload, call the
 * handler, validate its reply, and wrap everything as a `Result`. Electron's
 * IPC, the end-to-end harness and the command line all go through here.
 */
export async function dispatch<C extends Channel>(
  handlers: Handlers,
  channel: C,
  payload: unknown,
  call: CallContext = {},
): Promise<Result<ResponseOf<C>>> {
  try {
    const request = parseRequest(channel, payload);
    const handler = handlers[channel] as (
      req: typeof request,
      call: CallContext,
    ) => Promise<unknown>;
    const value = parseResponse(channel, await handler(request, call));
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: toErrorPayload(err) };
  }
}
