// The answer to one request on the app's scheme: the handler that
// `protocol.handle` calls in the app, and the e2e test's loopback server
// calls in Chromium, so both go through the same decision.
import type { PlatformPath } from 'node:path';
import { CONTENT_SECURITY_POLICY } from './csp';
import { APP_SCHEME, contentTypeFor, resolveRendererRequest } from './renderer-request';

/**
 * How the app scheme is registered (`protocol.registerSchemesAsPrivileged`):
 * standard (real origin, relative URLs resolve), secure (like https, so CSP
 * `'self'` and module scripts work), fetch/CORS for `type="module"` scripts,
 * code cache for faster starts. No service workers, no CSP bypass.
 */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: {
    standard: true,
    secure: true,
    supportFetchAPI: true,
    corsEnabled: true,
    codeCache: true,
    allowServiceWorkers: false,
    bypassCSP: false,
    stream: false,
  },
} as const;

/**
 * Returns the request handler for the app scheme: a file inside
 * `rendererRoot` with its Content-Type and the app's CSP, or 404 for
 * anything refused or missing (the same answer, so a refusal reveals nothing).
 */
export function rendererResponder({
  rendererRoot,
  path,
  readFile,
}: {
  rendererRoot: string;
  path: PlatformPath;
  /** Reads a whole file (`fs.promises.readFile`; Electron's reads inside the asar too). */
  readFile: (file: string) => Promise<Uint8Array<ArrayBuffer>>;
}): (url: string) => Promise<Response> {
  return async (url) => {
    const resolved = resolveRendererRequest({ url, rendererRoot, path });
    if (!resolved.ok) return notFound();
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await readFile(resolved.file);
    } catch {
      return notFound();
    }
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': contentTypeFor(resolved.file, path),
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-cache',
      },
    });
  };
}

function notFound(): Response {
  return new Response(null, { status: 404 });
}
