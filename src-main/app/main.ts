// The Electron shell: window, lifecycle, security settings and IPC wiring.
// Everything else lives below it and runs in plain Node too.
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session } from 'electron';
import { readFile } from 'node:fs/promises';
import path, { join } from 'node:path';
import { createServices } from '../services/create-services';
import { ServiceContext } from '../services/context';
import { dataHome } from '../services/data-home';
import { applicationMenu } from './app-menu';
import { CONTENT_SECURITY_POLICY } from './csp';
import { pickerOptions } from './dialog-options';
import type { PickPurpose } from './dialog-options';
import { registerIpc, trustedSenderCheck } from './ipc';
import { APP_PAGE_URL, APP_SCHEME } from './renderer-request';
import { APP_SCHEME_PRIVILEGES, rendererResponder } from './renderer-protocol';
import { requestAllowed } from './request-filter';
import { secondInstanceSteps } from './single-instance';
import { shellMode, windowWebPreferences } from './shell-mode';
import { utilityOffloadLauncher, utilityWorkerLauncher } from './utility-worker';

const { development, devServerUrl } = shellMode({ isPackaged: app.isPackaged, env: process.env });
const rendererRoot = join(import.meta.dirname, '../renderer');
const isAppUrl = trustedSenderCheck({ pageUrl: APP_PAGE_URL, devServerUrl });

// Must happen before `ready`: the renderer's origin is app://dp2, not file://.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);

function hardenSession(): void {
  const ses = session.defaultSession;
  const respond = rendererResponder({ rendererRoot, path, readFile });
  ses.protocol.handle(APP_SCHEME, (request) => respond(request.url));
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [CONTENT_SECURITY_POLICY],
      },
    });
  });
  // Offline by design: the renderer may load its own files and nothing else.
  ses.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !requestAllowed(details.url, { devServerUrl }) });
  });
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

/** The system's own file pickers, for the renderer's "Choose…" buttons. */
async function choosePath(purpose: PickPurpose): Promise<string | null> {
  const window = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
  const options: Electron.OpenDialogOptions = pickerOptions(purpose);
  const result = window
    ? await dialog.showOpenDialog(window, options)
    : await dialog.showOpenDialog(options);
  return result.canceled ? null : (result.filePaths[0] ?? null);
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    title: 'DP² Studio',
    show: false,
    webPreferences: windowWebPreferences({
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      development,
    }),
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(devServerUrl ?? APP_PAGE_URL);
  return win;
}

/** A second start was refused: bring this app's window to the user instead. */
function focusExistingWindow(): void {
  if (!app.isReady()) return;
  const win = BrowserWindow.getAllWindows()[0];
  const state = win ? { minimized: win.isMinimized(), visible: win.isVisible() } : null;
  for (const step of secondInstanceSteps(state)) {
    if (step === 'create-window') createWindow();
    else if (step === 'restore') win?.restore();
    else if (step === 'show') win?.show();
    else win?.focus();
  }
}

/** Starts the app; only the first instance gets here (see below). */
function start(): void {
  app.on('second-instance', focusExistingWindow);
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  app.enableSandbox();

  void app.whenReady().then(() => {
    const menu = applicationMenu({ development, platform: process.platform });
    if (menu !== 'default') Menu.setApplicationMenu(menu && Menu.buildFromTemplate(menu));
    hardenSession();
    const services = new ServiceContext(dataHome(), {
      choosePath,
      launcher: utilityWorkerLauncher(process.env),
      offload: utilityOffloadLauncher(process.env),
    });
    app.on('will-quit', () => services.close());
    const handlers = createServices(services);
    registerIpc(ipcMain, handlers, { isTrustedSender: isAppUrl });
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

// One app at a time: a second start must not open the data folder (its
// start-up clean-up would touch the first one's imports and runs). It hands
// over to the running app, which focuses its window, and quits.
if (app.requestSingleInstanceLock()) start();
else app.quit();
