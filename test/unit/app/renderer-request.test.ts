import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix, win32 } from 'node:path';
import type { PlatformPath } from 'node:path';
import {
  APP_PAGE_URL,
  contentTypeFor,
  resolveRendererRequest,
} from '../../../src-main/app/renderer-request';

// Install folders as users get them: a space in the product name, non-ASCII
// in the user's name, a Windows drive, a network share.
const ROOTS: { name: string; path: PlatformPath; root: string }[] = [
  { name: 'Linux', path: posix, root: '/opt/DP2 Studio/resources/app.asar/out/renderer' },
  {
    name: 'macOS',
    path: posix,
    root: '/Users/Zoë/Applications/DP2 Studio.app/Contents/Resources/app.asar/out/renderer',
  },
  {
    name: 'Windows drive',
    path: win32,
    root: 'C:\\Users\\Jürgen Ärzte\\AppData\\Local\\Programs\\DP2 Studio\\resources\\app.asar\\out\\renderer',
  },
  {
    name: 'Windows UNC',
    path: win32,
    root: '\\\\fileserver\\apps$\\DP2 Studio\\resources\\app.asar\\out\\renderer',
  },
];

function served(url: string, root: string, path: PlatformPath): string {
  const result = resolveRendererRequest({ url, rendererRoot: root, path });
  assert.ok(result.ok, `${url} should be served, was refused: ${result.ok ? '' : result.reason}`);
  return result.file;
}

function refused(url: string, root: string, path: PlatformPath): void {
  const result = resolveRendererRequest({ url, rendererRoot: root, path });
  assert.equal(result.ok, false, `${url} must be refused, got ${result.ok ? result.file : ''}`);
}

for (const { name, path, root } of ROOTS) {
  test(`${name}: the page and its assets resolve to files inside the renderer folder`, () => {
    assert.equal(served(APP_PAGE_URL, root, path), path.join(root, 'index.html'));
    assert.equal(served('app://dp2/', root, path), path.join(root, 'index.html'));
    assert.equal(served('app://dp2', root, path), path.join(root, 'index.html'));
    assert.equal(
      served('app://dp2/assets/index-DuODzQcv.js', root, path),
      path.join(root, 'assets', 'index-DuODzQcv.js'),
    );
    // Query strings and fragments never reach the file system.
    assert.equal(
      served('app://dp2/assets/index.css?v=3#top', root, path),
      path.join(root, 'assets', 'index.css'),
    );
    // Percent-encoded names (spaces, non-ASCII) are decoded once.
    assert.equal(
      served('app://dp2/assets/DP2%20Studio%20%C3%84rzte.svg', root, path),
      path.join(root, 'assets', 'DP2 Studio Ärzte.svg'),
    );
    assert.equal(
      served('app://dp2/assets/DP2 Studio.svg', root, path),
      path.join(root, 'assets', 'DP2 Studio.svg'),
    );
    // The host is case-insensitive, as Chromium lowercases it anyway.
    assert.equal(served('app://DP2/index.html', root, path), path.join(root, 'index.html'));
  });

  test(`${name}: dot segments, plain or encoded, cannot climb above the renderer folder`, () => {
    // The URL standard folds `..`, `%2e%2e`, `.%2e` into the path before the
    // resolver sees it (Chromium does the same), clamped at the root: they
    // stay inside the folder.
    for (const url of [
      'app://dp2/../main/index.js',
      'app://dp2/%2e%2e/main/index.js',
      'app://dp2/%2E%2E/main/index.js',
      'app://dp2/.%2e/%2e./main/index.js',
      'app://dp2/assets/../../../main/index.js',
    ]) {
      assert.equal(served(url, root, path), path.join(root, 'main', 'index.js'), url);
    }
  });

  test(`${name}: traversal through encoded separators or backslashes is refused`, () => {
    for (const url of [
      'app://dp2/assets/%2e%2e%2f%2e%2e%2fmain%2findex.js',
      'app://dp2/%2e%2e%2fmain%2findex.js',
      'app://dp2/..%2Fmain%2Findex.js',
      'app://dp2/..%5cmain%5cindex.js',
      'app://dp2/..%5Cmain%5Cindex.js',
      'app://dp2/..\\main\\index.js',
      'app://dp2/assets/..\\..\\main\\index.js',
      'app://dp2/assets//index.js',
      'app://dp2//etc/passwd',
    ]) {
      refused(url, root, path);
    }
  });

  test(`${name}: absolute paths, drive letters and network shares in the URL are refused`, () => {
    for (const url of [
      'app://dp2/%2Fetc%2Fpasswd',
      'app://dp2/C:/Windows/win.ini',
      'app://dp2/C%3A/Windows/win.ini',
      'app://dp2/C%3A%5CWindows%5Cwin.ini',
      'app://dp2/c:%5cWindows',
      'app://dp2/%5C%5Cserver%5Cshare%5Csecret.txt',
      'app://dp2/%5C%5C%3F%5CC%3A%5Csecret.txt',
      'app://dp2/assets/index.js:Zone.Identifier',
      'app://dp2/index.html%00.png',
    ]) {
      refused(url, root, path);
    }
  });

  test(`${name}: other schemes, hosts, ports and credentials are refused`, () => {
    for (const url of [
      'file:///etc/passwd',
      `file://${root.replaceAll('\\', '/')}/index.html`,
      'http://dp2/index.html',
      'https://dp2/index.html',
      'app://evil/index.html',
      'app://dp2.evil/index.html',
      'app://dp2:8080/index.html',
      'app://user:pw@dp2/index.html',
      'blob:app://dp2/1234',
      'data:text/html,<script>1</script>',
      'not a url',
      '',
      'app://dp2/%E0%A4%A',
    ]) {
      refused(url, root, path);
    }
  });
}

test('a relative renderer root is refused rather than resolved against the working folder', () => {
  refused(APP_PAGE_URL, 'out/renderer', posix);
  refused(APP_PAGE_URL, 'out\\renderer', win32);
});

test('whatever the URL, an accepted file is inside the renderer folder', () => {
  // A sweep of hostile pieces in every order: nothing accepted may escape.
  const pieces = ['..', '%2e%2e', '%2E.', '.', '%2f', '%5c', 'C:', '%3a', '\\', 'a', '', 'b%20c'];
  const root = 'C:\\Program Files\\DP2 Studio\\out\\renderer';
  let accepted = 0;
  for (const a of pieces) {
    for (const b of pieces) {
      for (const c of pieces) {
        for (const path of [posix, win32]) {
          const base = path === win32 ? root : '/opt/DP2 Studio/out/renderer';
          const result = resolveRendererRequest({
            url: `app://dp2/${a}/${b}${c}/x.js`,
            rendererRoot: base,
            path,
          });
          if (!result.ok) continue;
          accepted += 1;
          const inside = path.relative(base, result.file);
          assert.ok(
            inside !== '..' && !inside.startsWith(`..${path.sep}`) && !path.isAbsolute(inside),
            `${a}/${b}${c} escaped: ${result.file}`,
          );
        }
      }
    }
  }
  assert.ok(accepted > 0, 'the sweep accepted nothing: it tested no accepted path');
});

test('content types: module scripts get a JavaScript type, unknown files opaque bytes', () => {
  assert.match(contentTypeFor('/r/assets/index-x.js', posix), /^text\/javascript/);
  assert.match(contentTypeFor('C:\\r\\assets\\INDEX.CSS', win32), /^text\/css/);
  assert.match(contentTypeFor('/r/index.html', posix), /^text\/html/);
  assert.equal(contentTypeFor('/r/secret.bin', posix), 'application/octet-stream');
});
