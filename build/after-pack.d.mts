// Types for build/after-pack.mjs (plain JS so electron-builder loads it as is).
import type { FuseConfig } from '@electron/fuses';

export declare const FUSES: Readonly<Record<string, boolean>>;
export declare function fuseConfig(target: { platform: string; arch: number }): FuseConfig;
export declare function electronBinaryPath(app: {
  platform: string;
  appOutDir: string;
  productFilename: string;
  executableName: string;
}): string;
export default function afterPack(context: {
  electronPlatformName: string;
  arch: number;
  appOutDir: string;
  packager: { appInfo: { productFilename: string }; executableName: string };
}): Promise<void>;
