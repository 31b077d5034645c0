import { CHANNEL_NAMES } from './channels';
import type { Channel, Dp2Api } from './channels';

/**
 * Builds the `window.dp2` object from one transport function. The preload
 * passes an IPC invoker, the end-to-end harness a Playwright binding: the
 * renderer gets the same functions, and only those.
 */
export function buildApi(invoke: (channel: Channel, request: unknown) => Promise<unknown>): Dp2Api {
  const api: Record<string, Record<string, (request: unknown) => Promise<unknown>>> = {};
  for (const channel of CHANNEL_NAMES) {
    const [group = '', method = ''] = channel.split('.');
    api[group] ??= {};
    api[group][method] = (request: unknown) => invoke(channel, request);
  }
  return api as unknown as Dp2Api;
}
