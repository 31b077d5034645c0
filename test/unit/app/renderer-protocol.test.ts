import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path, { join } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../../../src-main/app/csp';
import { rendererResponder } from '../../../src-main/app/renderer-protocol';
import { tempDir } from '../../support/temp';

/** An install folder like a user's: a space and non-ASCII in the path, a secret beside the renderer. */
function installFolder() {
  const home = tempDir();
  const out = join(home.path, 'DP2 Studio', 'Ärzte', 'out');
  const renderer = join(out, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  mkdirSync(join(out, 'main'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><div id="app"></div>');
  writeFileSync(join(renderer, 'assets', 'index-abc.js'), 'export {};');
  writeFileSync(join(renderer, 'assets', 'Grüße an alle.css'), 'body{}');
  writeFileSync(join(out, 'main', 'index.js'), 'SECRET MAIN PROCESS CODE');
  writeFileSync(join(home.path, 'DP2 Studio', 'secret.txt'), 'SECRET');
  const respond = rendererResponder({ rendererRoot: renderer, path, readFile });
  return { home, respond };
}

test('the page and its assets are answered with their bytes, type and the CSP', async () => {
  const { home, respond } = installFolder();
  try {
    const page = await respond('app://dp2/index.html');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.equal(await page.text(), '<!doctype html><div id="app"></div>');

    const script = await respond('app://dp2/assets/index-abc.js?t=1');
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(await script.text(), 'export {};');

    const style = await respond('app://dp2/assets/Gr%C3%BC%C3%9Fe%20an%20alle.css');
    assert.equal(style.status, 200);
    assert.match(style.headers.get('content-type') ?? '', /^text\/css/);
  } finally {
    home.cleanup();
  }
});

test('files beside the renderer folder are not answered, however the path is written', async () => {
  const { home, respond } = installFolder();
  try {
    for (const url of [
      'app://dp2/..%2fmain%2findex.js',
      'app://dp2/%2e%2e%2fmain%2findex.js',
      'app://dp2/%2E%2E%5Cmain%5Cindex.js',
      'app://dp2/assets/..%2f..%2fmain/index.js',
      'app://dp2/..%2f..%2fsecret.txt',
      'app://dp2/../main/index.js',
      'app://dp2/%2e%2e/%2e%2e/secret.txt',
      `app://dp2/${encodeURIComponent(join(home.path, 'DP2 Studio', 'secret.txt'))}`,
      'app://dp2/missing.js',
      'app://other/index.html',
      'file:///etc/passwd',
    ]) {
      const response = await respond(url);
      assert.equal(response.status, 404, url);
      const body = await response.text();
      assert.ok(!body.includes('SECRET'), url);
    }
  } finally {
    home.cleanup();
  }
});
