// End-to-end harness: the built renderer served on 127.0.0.1 and loaded in
// Debian's Chromium, with `window.dp2` bridged to the REAL main-process
// services of this test process through the same IPC registration as Electron.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path, { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { rendererResponder } from '../../src-main/app/renderer-protocol';
import { APP_ORIGIN } from '../../src-main/app/renderer-request';
import { registerIpc } from '../../src-main/app/ipc';
import type { IpcEventLike, IpcMainLike } from '../../src-main/app/ipc';
import { ServiceContext } from '../../src-main/services/context';
import { forkWorker } from '../../src-main/jobs/runner';
import { forkOffload } from '../../src-main/services/offload';
import type { WorkerChannel } from '../../src-main/jobs/runner';
import type { WorkerSchedule } from '../../src-main/jobs/protocol';
import { createServices } from '../../src-main/services/create-services';

const ROOT = resolve(import.meta.dirname, '../..');
const RENDERER = join(ROOT, 'out/renderer');
export const SCREENSHOTS = join(ROOT, 'test-output/screenshots');

/**
 * Serves a built renderer folder on 127.0.0.1 through the app's own scheme
 * handler (`rendererResponder`, what `protocol.handle('app', …)` calls in
 * Electron): each request path is answered as `app://dp2<path>` would be.
 */
function serveRenderer(rendererRoot: string): Promise<{ server: Server; origin: string }> {
  if (!existsSync(join(rendererRoot, 'index.html'))) {
    throw new Error('The renderer is not built: run `npm run build` before the end-to-end tests.');
  }
  const respond = rendererResponder({ rendererRoot, path, readFile });
  const server = createServer((req, res) => {
    void respond(`${APP_ORIGIN}${req.url ?? '/'}`).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      ok({ server, origin: `http://127.0.0.1:${port}` });
    }),
  );
}

async function bundlePreload(): Promise<string> {
  const out = await build({
    entryPoints: [join(import.meta.dirname, 'harness-preload.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    target: 'es2022',
  });
  return out.outputFiles[0]?.text ?? '';
}

export interface Harness {
  page: Page;
  context: BrowserContext;
  origin: string;
  /** Every request the page tried outside the local harness (must stay empty: offline app). */
  blockedRequests: string[];
  /** Console errors and CSP violations seen in the page. */
  consoleErrors: string[];
  screenshot(name: string): Promise<string>;
  /** Quits like the desktop app: the window and every training process end at once. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  dataHome: string;
  /** How often runs checkpoint and draw grids (small in tests). */
  schedule?: Partial<WorkerSchedule>;
  /** The built renderer folder to serve (default: this checkout's `out/renderer`). */
  rendererRoot?: string;
}

/** Starts the real services, the static server and Chromium, and opens the app. */
export async function startHarness({
  dataHome,
  schedule,
  rendererRoot = RENDERER,
}: HarnessOptions): Promise<Harness> {
  const { server, origin } = await serveRenderer(rendererRoot);
  const listeners = new Map<
    string,
    (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>
  >();
  const ipc: IpcMainLike = {
    handle: (channel, listener) => void listeners.set(channel, listener),
    removeHandler: (channel) => void listeners.delete(channel),
  };
  // Training processes are children of the app: quitting ends them (utilityProcess in Electron).
  const workers = new Set<WorkerChannel>();
  const launcher = (): WorkerChannel => {
    const channel = forkWorker();
    workers.add(channel);
    channel.onExit(() => workers.delete(channel));
    return channel;
  };
  const services = new ServiceContext(dataHome, {
    launcher,
    offload: forkOffload,
    ...(schedule ? { schedule } : {}),
  });
  registerIpc(ipc, createServices(services), {
    isTrustedSender: (url) => url.startsWith(origin + '/'),
  });

  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const blockedRequests: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + '/') || url.startsWith('data:') || url.startsWith('blob:')) {
      return route.continue();
    }
    blockedRequests.push(url);
    return route.abort('blockedbyclient');
  });
  await context.exposeBinding('__dp2Invoke', async (source, channel: string, request: unknown) => {
    const listener = listeners.get(channel);
    if (!listener)
      return { ok: false, error: { code: 'INVALID_INPUT', message: `Unknown channel ${channel}` } };
    return listener({ senderFrame: { url: source.frame.url() } }, request);
  });
  await context.addInitScript({ content: await bundlePreload() });

  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  await page.goto(origin + '/');

  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    page,
    context,
    origin,
    blockedRequests,
    consoleErrors,
    async screenshot(name) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await browser.close();
      const ending = [...services.runs.values()].map((run) => run.done);
      for (const worker of workers) worker.kill('SIGKILL');
      await Promise.all(ending);
      services.close();
      await new Promise((ok) => server.close(ok));
    },
  };
}
