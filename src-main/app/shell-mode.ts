// Development or production: decided once at start-up from facts Electron
// gives us, so that an installed app can never be switched into development
// (DevTools, a dev server URL from the environment) by its environment.
import type { WebPreferences } from 'electron';

/** How the shell runs: DevTools and the dev server only ever in development. */
export interface ShellMode {
  development: boolean;
  /** The dev server the window loads instead of the built renderer (development only). */
  devServerUrl: string | undefined;
}

/**
 * Development means an unpackaged app started by `electron-vite dev` (it sets
 * `ELECTRON_RENDERER_URL` and `NODE_ENV_ELECTRON_VITE=development`). A
 * packaged app is always production, whatever its environment says; `npm
 * start` (unpackaged, built files) is production too, so it runs exactly
 * what an installer ships.
 */
export function shellMode({
  isPackaged,
  env,
}: {
  isPackaged: boolean;
  env: Readonly<Record<string, string | undefined>>;
}): ShellMode {
  if (isPackaged) return { development: false, devServerUrl: undefined };
  const devServerUrl = nonEmpty(env.ELECTRON_RENDERER_URL);
  const development = devServerUrl !== undefined || env.NODE_ENV_ELECTRON_VITE === 'development';
  return { development, devServerUrl: development ? devServerUrl : undefined };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

/**
 * The window's web preferences: sandboxed, isolated, no Node, and DevTools
 * only in development.
 */
export function windowWebPreferences({
  preload,
  development,
}: {
  preload: string;
  development: boolean;
}): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools: development,
  };
}
