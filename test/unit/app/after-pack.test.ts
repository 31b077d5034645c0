import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FuseV1Options, FuseVersion, getCurrentFuseWire } from '@electron/fuses';
import afterPack, { electronBinaryPath, FUSES, fuseConfig } from '../../../build/after-pack.mjs';
import { tempDir } from '../../support/temp';

// The fuse wire as Electron's binaries carry it: a sentinel, the wire version,
// its length, then one byte per fuse ('0' off, '1' on).
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const DISABLE = 0x30;
const ENABLE = 0x31;

/** A stand-in executable whose fuses are all as stock Electron ships them (the risky ones on). */
function fakeElectron(file: string): void {
  const stock = [ENABLE, DISABLE, ENABLE, ENABLE, DISABLE, DISABLE, DISABLE, ENABLE];
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from('\x7fELF fake executable body '),
      Buffer.from(SENTINEL),
      Buffer.from([1, stock.length, ...stock]),
      Buffer.from(' rest of the binary'),
    ]),
  );
}

test('the fuse list is exactly the hardening the installer promises', () => {
  assert.deepEqual(
    { ...FUSES },
    {
      RunAsNode: false,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableCookieEncryption: true,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      GrantFileProtocolExtraPrivileges: false,
    },
  );
  assert.ok(Object.isFrozen(FUSES));
});

test('every fuse name is one @electron/fuses knows, mapped to its option number', () => {
  const config = fuseConfig({ platform: 'linux', arch: 1 }) as unknown as Record<string, unknown>;
  assert.equal(config.version, FuseVersion.V1);
  assert.equal(config[FuseV1Options.RunAsNode], false);
  assert.equal(config[FuseV1Options.EnableCookieEncryption], true);
  assert.equal(config[FuseV1Options.EnableNodeOptionsEnvironmentVariable], false);
  assert.equal(config[FuseV1Options.EnableNodeCliInspectArguments], false);
  assert.equal(config[FuseV1Options.EnableEmbeddedAsarIntegrityValidation], true);
  assert.equal(config[FuseV1Options.OnlyLoadAppFromAsar], true);
  assert.equal(config[FuseV1Options.GrantFileProtocolExtraPrivileges], false);
  assert.equal(config.resetAdHocDarwinSignature, false);
  // Apple silicon builds (arm64 = 3, universal = 4) must be re-signed ad hoc after the flip.
  assert.equal(fuseConfig({ platform: 'darwin', arch: 3 }).resetAdHocDarwinSignature, true);
  assert.equal(fuseConfig({ platform: 'darwin', arch: 4 }).resetAdHocDarwinSignature, true);
  assert.equal(fuseConfig({ platform: 'darwin', arch: 1 }).resetAdHocDarwinSignature, false);
});

test('the binary electron-builder packed is found on each platform', () => {
  const app = { appOutDir: '/b/out', productFilename: 'DP2 Studio', executableName: 'dp2-studio' };
  assert.equal(electronBinaryPath({ platform: 'darwin', ...app }), '/b/out/DP2 Studio.app');
  assert.equal(electronBinaryPath({ platform: 'win32', ...app }), '/b/out/DP2 Studio.exe');
  assert.equal(electronBinaryPath({ platform: 'linux', ...app }), '/b/out/dp2-studio');
});

test('the afterPack hook flips the fuses in the packed executable and leaves the rest intact', async () => {
  const home = tempDir();
  try {
    const appOutDir = join(home.path, 'linux-unpacked');
    mkdirSync(appOutDir);
    const binary = join(appOutDir, 'dp2-studio');
    fakeElectron(binary);
    const before = readFileSync(binary);
    await afterPack({
      electronPlatformName: 'linux',
      arch: 1,
      appOutDir,
      packager: { appInfo: { productFilename: 'DP2 Studio' }, executableName: 'dp2-studio' },
    });
    const wire = (await getCurrentFuseWire(binary)) as unknown as Record<number, number>;
    assert.equal(wire[FuseV1Options.RunAsNode], DISABLE);
    assert.equal(wire[FuseV1Options.EnableCookieEncryption], ENABLE);
    assert.equal(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable], DISABLE);
    assert.equal(wire[FuseV1Options.EnableNodeCliInspectArguments], DISABLE);
    assert.equal(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation], ENABLE);
    assert.equal(wire[FuseV1Options.OnlyLoadAppFromAsar], ENABLE);
    assert.equal(wire[FuseV1Options.LoadBrowserProcessSpecificV8Snapshot], DISABLE);
    assert.equal(wire[FuseV1Options.GrantFileProtocolExtraPrivileges], DISABLE);
    const after = readFileSync(binary);
    assert.equal(after.length, before.length);
    const wireStart = before.indexOf(SENTINEL) + SENTINEL.length + 2;
    assert.deepEqual(after.subarray(0, wireStart), before.subarray(0, wireStart));
    assert.deepEqual(after.subarray(wireStart + 8), before.subarray(wireStart + 8));
  } finally {
    home.cleanup();
  }
});

test('the hook fails the build when the executable has no fuse wire, rather than ship unhardened', async () => {
  const home = tempDir();
  try {
    writeFileSync(join(home.path, 'DP2 Studio.exe'), 'not electron');
    await assert.rejects(
      afterPack({
        electronPlatformName: 'win32',
        arch: 1,
        appOutDir: home.path,
        packager: { appInfo: { productFilename: 'DP2 Studio' }, executableName: 'DP2 Studio' },
      }),
      /sentinel/,
    );
  } finally {
    home.cleanup();
  }
});
