// The built app as an installer lays it out: `out/` copied under a folder
// whose path has a space and a non-ASCII character, served through the app
// scheme's own handler (the same `rendererResponder` Electron's
// `protocol.handle('app', …)` calls) and opened in Chromium.
//
// Why a loopback server rather than Playwright routing of a fake `app://`:
// Chromium outside Electron cannot load an unknown scheme at all, and a
// browser canonicalises every URL before any handler sees it. Over plain
// HTTP the test can also send raw, un-normalised hostile paths (`/../`,
// `%2e%2e%2f`, absolute paths) straight to the handler.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative, resolve, sep } from 'node:path';
import { startHarness } from './harness';
import type { Harness } from './harness';
import { tempDir } from '../support/temp';

const BUILT = resolve(import.meta.dirname, '../../out');

let home: ReturnType<typeof tempDir>;
let install: string;
let harness: Harness;

before(async () => {
  if (!existsSync(join(BUILT, 'renderer', 'index.html'))) {
    throw new Error('The app is not built: run `npx electron-vite build` first.');
  }
  home = tempDir();
  install = join(home.path, 'DP2 Studio', 'Ärzte');
  cpSync(BUILT, join(install, 'out'), { recursive: true });
  harness = await startHarness({
    dataHome: join(home.path, 'data'),
    rendererRoot: join(install, 'out', 'renderer'),
  });
});

after(async () => {
  await harness?.close();
  home?.cleanup();
});

/** Every file of a folder, relative to it, with `/` separators. */
function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

/** A GET with the path sent exactly as written: no browser canonicalises it first. */
function rawGet(origin: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((ok, fail) => {
    const req = request({ host: hostname, port, path: rawPath, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

test('from an install path with a space and "Ä", every asset the page asks for loads and the app renders', async () => {
  const { page, origin } = harness;
  assert.ok(install.includes(' ') && install.includes('Ä'));
  const renderer = join(install, 'out', 'renderer');
  const responses: { path: string; status: number }[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.origin === origin) responses.push({ path: url.pathname, status: response.status() });
  });
  await page.reload({ waitUntil: 'load' });
  // The real renderer mounted and talked to the real services through the bridge.
  await page.getByTestId('sigma').waitFor();

  const files = filesUnder(renderer);
  const referenced = [
    ...readFileSync(join(renderer, 'index.html'), 'utf8').matchAll(/(?:src|href)="\.\/([^"]+)"/g),
  ].map((match) => match[1]);
  assert.ok(referenced.length >= 2, `index.html references ${referenced.join(', ')}`);
  const requested = responses.map((r) => r.path.slice(1) || 'index.html');
  for (const asset of ['index.html', ...referenced]) {
    assert.ok(requested.includes(asset as string), `${asset} was never requested: ${requested}`);
  }
  assert.deepEqual(
    responses.filter((r) => r.status !== 200),
    [],
    'every request to the app origin is answered 200',
  );
  for (const path of requested) {
    assert.ok(files.includes(decodeURIComponent(path)), `${path} is not a renderer file`);
  }
  console.log(`# packaged layout: ${responses.length} requests, all 200 (${requested.join(', ')})`);
  assert.deepEqual(harness.blockedRequests, [], 'the page tried to reach outside the app');
  assert.deepEqual(
    harness.consoleErrors.filter((e) => /Content Security Policy|Failed to load/.test(e)),
    [],
  );
  assert.ok(await page.locator('#app main').isVisible(), 'the app root rendered');
});

test('nothing outside the renderer folder is served, however the path is written', async () => {
  const { origin, page } = harness;
  const mainCode = readFileSync(join(install, 'out', 'main', 'index.js'), 'utf8').slice(0, 200);
  const preloadCode = readFileSync(join(install, 'out', 'preload', 'index.cjs'), 'utf8');
  const absolute = join(install, 'out', 'main', 'index.js');
  const rawPaths = [
    '/../main/index.js',
    '/../../out/main/index.js',
    '/assets/../../main/index.js',
    '/%2e%2e/main/index.js',
    '/%2E%2E/preload/index.cjs',
    '/.%2e/%2e./main/index.js',
    '/..%2fmain%2findex.js',
    '/%2e%2e%2fmain%2findex.js',
    '/assets/%2e%2e%2f%2e%2e%2fmain%2findex.js',
    '/%2e%2e%5cmain%5cindex.js',
    '/..\\main\\index.js',
    '//etc/passwd',
    `/${encodeURIComponent(absolute)}`,
    encodeURI(absolute),
    `/${encodeURI(absolute)}`,
    '/%2Fetc%2Fpasswd',
    '/C:%5CWindows%5Cwin.ini',
    '/%5C%5Cserver%5Cshare%5Cx',
    '/index.html%00.js',
    '/missing.js',
  ];
  for (const rawPath of rawPaths) {
    const { status, body } = await rawGet(origin, rawPath);
    assert.equal(status, 404, rawPath);
    assert.ok(!body.includes(mainCode) && !body.includes(preloadCode.slice(0, 200)), rawPath);
  }
  // And through the browser, which keeps encoded separators as they are.
  for (const path of ['/..%2fmain%2findex.js', '/%2e%2e%5cpreload%5cindex.cjs']) {
    // An empty 404 makes the navigation itself fail; its response is what counts.
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === origin + path),
      page.goto(origin + path).catch(() => null),
    ]);
    assert.equal(response.status(), 404, path);
  }
  console.log(`# packaged layout: ${rawPaths.length + 2} requests outside the folder, all 404`);
});
