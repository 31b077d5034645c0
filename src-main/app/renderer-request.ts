// Which file, if any, a request to the app's own scheme may read. The window
// loads `app://dp2/index.html`; every request under that origin is answered
// from the renderer folder and from nowhere else. Pure: the path flavour is a
// parameter so Windows rules (drive letters, backslashes, UNC roots) are
// tested on any machine.
import type { PlatformPath } from 'node:path';

/** The privileged scheme the renderer is served from (registered before `app.ready`). */
export const APP_SCHEME = 'app';
/** The one host under that scheme: requests to any other host are refused. */
export const APP_HOST = 'dp2';
/** The renderer's origin, what CSP's `'self'` means in the window. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** The page the window loads. */
export const APP_PAGE_URL = `${APP_ORIGIN}/index.html`;

/** A request the app may answer (with this file) or must refuse (for this reason). */
export type RendererRequest = { ok: true; file: string } | { ok: false; reason: string };

/**
 * Maps a request URL to the absolute path of a file inside `rendererRoot`, or
 * refuses it. Only `app://dp2/<path>` is served; query and fragment are
 * ignored; `/` means `index.html`. Each path segment is percent-decoded on its
 * own and refused if it could step outside the folder after decoding: `.`,
 * `..`, empty segments, `/` or `\` (as `%2f`, `%5c`), `:` (drive letters,
 * alternate data streams) and NUL. The joined result is checked once more
 * against the root, so a rule missed above still cannot escape.
 */
export function resolveRendererRequest({
  url,
  rendererRoot,
  path,
}: {
  url: string;
  /** Absolute path of the built renderer folder, in `path`'s flavour. */
  rendererRoot: string;
  /** `node:path`'s `posix` or `win32` (plain `node:path` in the app). */
  path: PlatformPath;
}): RendererRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (parsed.protocol !== `${APP_SCHEME}:`) return { ok: false, reason: 'not the app scheme' };
  if (parsed.hostname.toLowerCase() !== APP_HOST || parsed.port !== '') {
    return { ok: false, reason: 'not the app host' };
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return { ok: false, reason: 'credentials in the URL' };
  }
  if (!path.isAbsolute(rendererRoot)) return { ok: false, reason: 'renderer root is not absolute' };

  const raw = parsed.pathname === '/' || parsed.pathname === '' ? '/index.html' : parsed.pathname;
  const segments: string[] = [];
  for (const encoded of raw.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\:\0]/.test(segment)) {
      return { ok: false, reason: `path segment not allowed: ${JSON.stringify(segment)}` };
    }
    segments.push(segment);
  }

  const root = path.resolve(rendererRoot);
  const file = path.resolve(root, ...segments);
  const inside = path.relative(root, file);
  if (
    inside === '' ||
    inside === '..' ||
    inside.startsWith(`..${path.sep}`) ||
    path.isAbsolute(inside)
  ) {
    return { ok: false, reason: 'outside the renderer folder' };
  }
  return { ok: true, file };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
};

/**
 * The Content-Type for a renderer file, by extension. Module scripts load only
 * with a JavaScript type, so this must be right for `.js`; unknown kinds are
 * served as opaque bytes (and then refused by the browser where it matters).
 */
export function contentTypeFor(file: string, path: PlatformPath): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}
