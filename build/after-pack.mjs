// electron-builder's `afterPack` hook: flips the Electron fuses of the packed
// binary before it is signed, so the installed app cannot be turned into a
// plain Node.js runtime or a debugger target, and runs only the app in its
// checked asar archive.
import { join } from 'node:path';
import fuses from '@electron/fuses';

/**
 * The fuses every installer gets, by their `FuseV1Options` names.
 * - RunAsNode off: `ELECTRON_RUN_AS_NODE` cannot turn the app into `node`.
 * - NODE_OPTIONS and --inspect off: no code injection or debugger through the command line or environment.
 * - Cookie encryption on: the (unused) cookie store is encrypted at rest with the OS key store.
 * - Asar integrity and only-load-from-asar on: the app runs only its own, unmodified archive.
 * - File-protocol extra privileges off: the renderer is served from app://, file:// needs none.
 */
export const FUSES = Object.freeze({
  RunAsNode: false,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableCookieEncryption: true,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  GrantFileProtocolExtraPrivileges: false,
});

/** electron-builder's `Arch` numbers that run on Apple silicon (arm64, universal). */
const APPLE_SILICON_ARCHS = new Set([3, 4]);

/**
 * The `flipFuses` configuration for one packed app: every fuse in `FUSES`
 * by its option number; arm64 macOS builds get their ad-hoc signature
 * renewed (the flip invalidates it; real signing comes after this hook).
 * Throws if a name is not a fuse this version of `@electron/fuses` knows.
 * @param {{ platform: string, arch: number }} target
 * @returns {import('@electron/fuses').FuseConfig}
 */
export function fuseConfig({ platform, arch }) {
  /** @type {Record<number, boolean>} */
  const settings = {};
  for (const [name, value] of Object.entries(FUSES)) {
    const option = /** @type {Record<string, unknown>} */ (fuses.FuseV1Options)[name];
    if (typeof option !== 'number') throw new Error(`Unknown Electron fuse: ${name}`);
    settings[option] = value;
  }
  return {
    version: fuses.FuseVersion.V1,
    resetAdHocDarwinSignature: platform === 'darwin' && APPLE_SILICON_ARCHS.has(arch),
    ...settings,
  };
}

/**
 * Where electron-builder put the Electron executable of a packed app.
 * @param {{ platform: string, appOutDir: string, productFilename: string, executableName: string }} app
 */
export function electronBinaryPath({ platform, appOutDir, productFilename, executableName }) {
  if (platform === 'darwin' || platform === 'mas') return join(appOutDir, `${productFilename}.app`);
  if (platform === 'win32') return join(appOutDir, `${productFilename}.exe`);
  return join(appOutDir, executableName);
}

/**
 * The hook itself (`"afterPack": "build/after-pack.mjs"`).
 * @param {{ electronPlatformName: string, arch: number, appOutDir: string,
 *   packager: { appInfo: { productFilename: string }, executableName: string } }} context
 */
export default async function afterPack(context) {
  const binary = electronBinaryPath({
    platform: context.electronPlatformName,
    appOutDir: context.appOutDir,
    productFilename: context.packager.appInfo.productFilename,
    executableName: context.packager.executableName,
  });
  await fuses.flipFuses(
    binary,
    fuseConfig({ platform: context.electronPlatformName, arch: context.arch }),
  );
}
