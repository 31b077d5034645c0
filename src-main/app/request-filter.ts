// The session's network rule: an offline app may load its own files and
// nothing else. Which file under the app origin is answered is decided by the
// scheme handler (renderer-request.ts); this rule only keeps every other
// scheme and host out.
import { APP_HOST, APP_SCHEME } from './renderer-request';

/**
 * Whether the window may make this request at all: the app's own origin,
 * `data:`/`blob:` (sample grids), `devtools:` (only reachable where DevTools
 * are enabled, i.e. in development), and, in development only, the dev
 * server's origin. Everything else (http, https, file, ws, other hosts) is
 * cancelled.
 */
export function requestAllowed(
  url: string,
  { devServerUrl }: { devServerUrl?: string | undefined },
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  switch (parsed.protocol) {
    case `${APP_SCHEME}:`:
      return parsed.hostname.toLowerCase() === APP_HOST && parsed.port === '';
    case 'data:':
    case 'blob:':
    case 'devtools:':
      return true;
    default:
      return devServerUrl !== undefined && parsed.origin === new URL(devServerUrl).origin;
  }
}
