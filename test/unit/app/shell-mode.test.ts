import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applicationMenu } from '../../../src-main/app/app-menu';
import { shellMode, windowWebPreferences } from '../../../src-main/app/shell-mode';

const DEV_ENV = {
  ELECTRON_RENDERER_URL: 'http://localhost:5173',
  NODE_ENV_ELECTRON_VITE: 'development',
};

test('electron-vite dev (unpackaged, dev server set) is development and loads the dev server', () => {
  assert.deepEqual(shellMode({ isPackaged: false, env: DEV_ENV }), {
    development: true,
    devServerUrl: 'http://localhost:5173',
  });
});

test('npm start (unpackaged, built files, no dev server) runs as the installed app does', () => {
  assert.deepEqual(shellMode({ isPackaged: false, env: {} }), {
    development: false,
    devServerUrl: undefined,
  });
  assert.deepEqual(shellMode({ isPackaged: false, env: { ELECTRON_RENDERER_URL: ' ' } }), {
    development: false,
    devServerUrl: undefined,
  });
});

test('a packaged app is production whatever its environment says: no dev server, no DevTools', () => {
  for (const env of [DEV_ENV, { ELECTRON_RENDERER_URL: 'https://attacker.example/' }, {}]) {
    assert.deepEqual(shellMode({ isPackaged: true, env }), {
      development: false,
      devServerUrl: undefined,
    });
  }
});

test('DevTools are on only in development; the security settings never change', () => {
  const production = windowWebPreferences({ preload: '/p.cjs', development: false });
  const development = windowWebPreferences({ preload: '/p.cjs', development: true });
  assert.equal(production.devTools, false);
  assert.equal(development.devTools, true);
  for (const prefs of [production, development]) {
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.nodeIntegrationInWorker, false);
    assert.equal(prefs.nodeIntegrationInSubFrames, false);
    assert.equal(prefs.webSecurity, true);
    assert.equal(prefs.allowRunningInsecureContent, false);
    assert.equal(prefs.experimentalFeatures, false);
    assert.equal(prefs.webviewTag, false);
    assert.equal(prefs.enableBlinkFeatures, undefined);
    assert.equal(prefs.preload, '/p.cjs');
  }
});

test('production has no menu with DevTools or reload on any platform; development keeps the default', () => {
  assert.equal(applicationMenu({ development: true, platform: 'linux' }), 'default');
  assert.equal(applicationMenu({ development: false, platform: 'linux' }), null);
  assert.equal(applicationMenu({ development: false, platform: 'win32' }), null);
  const mac = applicationMenu({ development: false, platform: 'darwin' });
  assert.ok(Array.isArray(mac), 'macOS needs a menu for Quit and copy/paste');
  const roles = JSON.stringify(mac).toLowerCase();
  for (const forbidden of ['devtools', 'reload', 'viewmenu', 'windowmenu']) {
    assert.ok(!roles.includes(forbidden), `${forbidden} in the production menu: ${roles}`);
  }
  assert.deepEqual(
    mac.map((item) => item.role),
    ['appMenu', 'editMenu'],
  );
});
