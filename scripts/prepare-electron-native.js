#!/usr/bin/env node
// better-sqlite3 is compiled for Node's ABI at `npm install` (the command line
// and the tests use that build). Electron has its own ABI, so the desktop app
// needs a second build of the driver. This makes it once, beside
// node_modules, without touching the Node build: a prebuilt binary for
// Electron when one can be downloaded, else a compile against Electron's
// headers. Prints the path of the .node file it made (or found).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the Electron build of better-sqlite3 lives for a given Electron version. */
export function electronBindingPath(electronVersion) {
  return join(
    root,
    '.electron-native',
    `better-sqlite3-${electronVersion}`,
    'build',
    'Release',
    'better_sqlite3.node',
  );
}

export function prepareElectronNative() {
  const electronVersion = require('electron/package.json').version;
  const binding = electronBindingPath(electronVersion);
  if (existsSync(binding)) return binding;

  console.log(`Preparing the database driver for Electron ${electronVersion} (once)…`);
  const source = dirname(require.resolve('better-sqlite3/package.json'));
  const target = join(root, '.electron-native', `better-sqlite3-${electronVersion}`);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  cpSync(source, target, {
    recursive: true,
    filter: (src) => !src.startsWith(join(source, 'build')),
  });

  const env = { ...process.env };
  // an npmrc `nodedir` would point node-gyp at Node's headers instead of Electron's
  for (const key of Object.keys(env))
    if (key.toLowerCase() === 'npm_config_nodedir') delete env[key];
  const prebuilt = spawnSync(
    process.execPath,
    [
      require.resolve('prebuild-install/bin.js'),
      '--runtime',
      'electron',
      '--target',
      electronVersion,
    ],
    { cwd: target, stdio: 'inherit', env },
  );
  if (prebuilt.status !== 0 || !existsSync(binding)) {
    const npmDir = dirname(
      dirname(process.env.npm_execpath ?? require.resolve('npm/package.json')),
    );
    const gyp = join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    const compiled = spawnSync(
      process.execPath,
      [
        gyp,
        'rebuild',
        '--release',
        `--target=${electronVersion}`,
        '--dist-url=https://electronjs.org/headers',
      ],
      { cwd: target, stdio: 'inherit', env },
    );
    if (compiled.status !== 0 || !existsSync(binding)) {
      throw new Error(
        'could not build the database driver for Electron (no prebuilt binary and no compiler toolchain). ' +
          'Install a C++ toolchain (build-essential, Xcode tools or Visual Studio Build Tools) and run npm start again.',
      );
    }
  }
  return binding;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(prepareElectronNative());
  } catch (err) {
    console.error(`prepare-electron-native: ${err.message}`);
    process.exit(1);
  }
}
