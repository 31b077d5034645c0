// The Electron shell: window, lifecycle, security settings and IPC wiring.
// Everything else lives below it and runs in plain Node too.
import { app, BrowserWindow, dialog, ipcMain, session } from 'electron';
import { join } from 'node:path';
import { createServices } from '../services/create-services';
import { ServiceContext } from '../services/context';
import { dataHome } from '../services/data-home';
import { CONTENT_SECURITY_POLICY } from './csp';
import { registerIpc, trustedSenderCheck } from './ipc';
import { utilityOffloadLauncher, utilityWorkerLauncher } from './utility-worker';

const rendererFile = join(import.meta.dirname, '../renderer/index.html');
const devServerUrl = process.env.ELECTRON_RENDERER_URL;
const isAppUrl = trustedSenderCheck({ rendererFile, devServerUrl });

function hardenSession(): void {
  const ses = session.defaultSession;
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
    const allowed =
      isAppUrl(details.url) ||
      details.url.startsWith('file://' + join(import.meta.dirname, '../renderer')) ||
      details.url.startsWith('data:') ||
      details.url.startsWith('blob:') ||
      details.url.startsWith('devtools:') ||
      (devServerUrl !== undefined && details.url.startsWith(new URL(devServerUrl).origin));
    callback({ cancel: !allowed });
  });
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
}

/** The system's own file pickers, for the renderer's "Choose…" buttons. */
async function choosePath(
  purpose: 'import-folder' | 'import-file' | 'export-folder',
): Promise<string | null> {
  const window = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
  const options: Electron.OpenDialogOptions =
    purpose === 'import-file'
      ? {
          title: 'Choose a data file to import',
          properties: ['openFile'],
          filters: [{ name: 'Image data', extensions: ['zip', 'npz', 'idx3-ubyte', 'ubyte'] }],
        }
      : {
          title:
            purpose === 'import-folder' ? 'Choose a folder of images' : 'Choose where to export',
          properties: ['openDirectory', 'createDirectory'],
        };
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
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  if (devServerUrl) void win.loadURL(devServerUrl);
  else void win.loadFile(rendererFile);
  return win;
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.enableSandbox();

void app.whenReady().then(() => {
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
