#!/usr/bin/env node
// `npm start`: build the app, then open it in Electron. The Electron runtime
// is fetched once, on the first start, by the `electron` package itself.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { prepareElectronNative } from './prepare-electron-native.js';

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');

console.log('Building DP² Studio…');
const built = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (built.status !== 0) process.exit(built.status ?? 1);

const electronDir = dirname(require.resolve('electron/package.json'));
const pathFile = join(electronDir, 'path.txt');
const installed =
  existsSync(pathFile) && existsSync(join(electronDir, 'dist', readFileSync(pathFile, 'utf8')));
if (!installed) {
  console.log(
    'First start: downloading the Electron runtime (about 100 MB, once). ' +
      'After this, DP² Studio never needs the internet.',
  );
}

let electronPath;
try {
  electronPath = require('electron');
} catch (err) {
  console.error(
    `\nCould not get the Electron runtime: ${err instanceof Error ? err.message : String(err)}\n` +
      'The desktop window needs it, downloaded once on a machine with internet access.\n' +
      'Everything else works without it: try `npx dp2 --help`.',
  );
  process.exit(1);
}

let nativeBinding;
try {
  nativeBinding = prepareElectronNative();
} catch (err) {
  console.error(
    `\nCould not prepare the database driver for Electron: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
}

console.log('Starting DP² Studio…');
const child = spawn(electronPath, ['.'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DP2_SQLITE_NATIVE_BINDING: nativeBinding },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
