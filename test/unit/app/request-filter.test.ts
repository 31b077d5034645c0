import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_SECURITY_POLICY } from '../../../src-main/app/csp';
import { APP_PAGE_URL } from '../../../src-main/app/renderer-request';
import { requestAllowed } from '../../../src-main/app/request-filter';

test('the installed app may load its own origin, data: and blob:, nothing else', () => {
  const production = { devServerUrl: undefined };
  for (const url of [
    APP_PAGE_URL,
    'app://dp2/assets/index-DuODzQcv.js',
    'app://dp2/assets/DP2%20Studio.css',
    'data:image/png;base64,iVBORw0KGgo=',
    'blob:app://dp2/6f1c7d0e-0000-4000-8000-000000000000',
  ]) {
    assert.equal(requestAllowed(url, production), true, url);
  }
  for (const url of [
    'file:///opt/DP2%20Studio/resources/app.asar/out/renderer/index.html',
    'file:///etc/passwd',
    'http://localhost:5173/',
    'https://example.com/tracker.js',
    'wss://example.com/',
    'app://evil/index.html',
    'app://dp2:81/index.html',
    'ftp://dp2/index.html',
    'not a url',
  ]) {
    assert.equal(requestAllowed(url, production), false, url);
  }
});

test('in development the dev server origin is allowed too, and only that origin', () => {
  const dev = { devServerUrl: 'http://localhost:5173' };
  assert.equal(requestAllowed('http://localhost:5173/src/main.ts', dev), true);
  assert.equal(requestAllowed('ws://localhost:5173/', dev), false);
  assert.equal(requestAllowed('http://localhost:5174/', dev), false);
  assert.equal(requestAllowed('http://127.0.0.1:5173/', dev), false);
});

test('the CSP allows scripts and styles from the app origin only, nothing remote', () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split(';').map((d) => {
      const [name = '', ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"]);
  assert.deepEqual(directives.get('style-src'), ["'self'"]);
  assert.deepEqual(directives.get('connect-src'), ["'none'"]);
  for (const [name, values] of directives) {
    for (const value of values) {
      assert.ok(
        !/^(https?:|wss?:|\*|'unsafe-inline'|'unsafe-eval'|file:)/.test(value),
        `${name} allows ${value}`,
      );
    }
  }
});
