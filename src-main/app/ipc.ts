import { CHANNEL_NAMES, ipcName } from '../contract/channels';
import type { Channel, Handlers, Result } from '../contract/channels';
import { dispatch } from '../contract/dispatch';

/** The part of an IPC event we look at: who sent it. */
export interface IpcEventLike {
  senderFrame: { url: string } | null;
}

/** The part of Electron's `ipcMain` we use (so the wiring is testable in plain Node). */
export interface IpcMainLike {
  handle(
    channel: string,
    listener: (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>,
  ): void;
  removeHandler(channel: string): void;
}

/**
 * Registers one IPC handler per contract channel. Every message is checked
 * against the sender (only the app's own page may call) and validated against
 * the contract before it reaches a service; replies are `Result` envelopes.
 * Returns a function that removes the handlers again.
 */
export function registerIpc(
  ipc: IpcMainLike,
  handlers: Handlers,
  { isTrustedSender }: { isTrustedSender: (url: string) => boolean },
): () => void {
  for (const channel of CHANNEL_NAMES) {
    ipc.handle(ipcName(channel), async (event, ...args) => {
      const url = event.senderFrame?.url ?? '';
      if (!isTrustedSender(url)) {
        const refused: Result<never> = {
          ok: false,
          error: {
            code: 'INVALID_INPUT',
            message: 'Request refused: it did not come from DP² Studio’s own window.',
          },
        };
        return refused;
      }
      if (args.length !== 1) {
        return {
          ok: false,
          error: {
            code: 'INVALID_INPUT',
            message: `Invalid request for ${channel}: expected exactly one argument.`,
          },
        } satisfies Result<never>;
      }
      return dispatch(handlers, channel as Channel, args[0]);
    });
  }
  return () => CHANNEL_NAMES.forEach((channel) => ipc.removeHandler(ipcName(channel)));
}

/**
 * The trusted-sender rule: the app's own page (`app://dp2/index.html`, any
 * query or fragment) or, in development, the dev server's origin; nothing
 * else, not other pages of the app origin, not local files.
 */
export function trustedSenderCheck({
  pageUrl,
  devServerUrl,
}: {
  pageUrl: string;
  devServerUrl?: string | undefined;
}): (url: string) => boolean {
  const page = new URL(pageUrl);
  const devOrigin = devServerUrl ? new URL(devServerUrl).origin : undefined;
  return (url: string) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (devOrigin !== undefined && parsed.origin === devOrigin) return true;
    return (
      parsed.protocol === page.protocol &&
      parsed.host.toLowerCase() === page.host.toLowerCase() &&
      parsed.username === '' &&
      parsed.password === '' &&
      parsed.pathname === page.pathname
    );
  };
}
