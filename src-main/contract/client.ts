import { buildApi } from './api';
import { ipcName } from './channels';
import type { Dp2Api } from './channels';
import { toErrorPayload } from './errors';
import { parseRequest, parseResult } from './validate';

/**
 * The renderer-side half of the contract: validates each request before it
 * leaves and each reply when it comes back, and hands only plain data to the
 * transport. The Electron preload passes `ipcRenderer.invoke`; the end-to-end
 * harness passes a Playwright binding.
 */
export function createClient(
  transport: (ipcChannel: string, request: unknown) => Promise<unknown>,
): Dp2Api {
  return buildApi(async (channel, request) => {
    try {
      parseRequest(channel, request);
    } catch (err) {
      return { ok: false, error: toErrorPayload(err) };
    }
    try {
      return parseResult(channel, await transport(ipcName(channel), request));
    } catch (err) {
      return { ok: false, error: toErrorPayload(err) };
    }
  });
}
