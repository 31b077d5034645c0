/**
 * Hostile .npz and zip files — deflate bombs (about 1 MB that inflates to
 * 1 GiB of zeros) and .npy headers that lie about their shape — are refused
 * with a plain message naming the file, and the process reading them stays
 * within a bounded amount of memory (measured in a child process: its peak
 * resident set above its peak before the read).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { encodePng } from '../../../src-main/data/png';
import {
  bombEntry,
  deflateBomb,
  gzipBomb,
  idxHeader,
  npyEntry,
  rawZip,
  type RawEntry,
} from './bombs';

const READER = fileURLToPath(new URL('./fixtures/read-hostile.ts', import.meta.url));
/** Memory a refused file may cost the reading process, at most. */
const BOUND_MIB = 300;

function fileOf(t: TestContext, name: string, entries: RawEntry[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'dp2-hostile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, rawZip(entries));
  return path;
}

function read(
  mode: 'import' | 'eval',
  path: string,
): { code: string; message: string; peakAboveMiB: number } {
  const home = mkdtempSync(join(tmpdir(), 'dp2-hostile-home-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', READER, mode, path], {
      encoding: 'utf8',
      env: { ...process.env, DP2_HOME: home },
      timeout: 240_000,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `the reader reported nothing (status ${r.status}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(line) as { code: string; message: string; peakAboveMiB: number };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** x.npy's header says 4 images of 28×28 (3 KiB); the zip declares, and the stream holds, 1 GiB. */
const lyingHeader = (): RawEntry[] => [
  bombEntry('x.npy', [4, 28, 28], 1024, 1024 ** 3 + 128),
  npyEntry('y.npy', 'y', 4),
];

test('a deflate bomb behind an honest-looking header is stopped at the size it declares', (t) => {
  // Header and zip agree on 3 KiB; the stream inflates to 1 GiB.
  const path = fileOf(t, 'bomb.npz', [
    bombEntry('x.npy', [4, 28, 28], 1024),
    npyEntry('y.npy', 'y', 4),
  ]);
  const r = read('import', path);
  assert.equal(r.code, 'CORRUPT_DATA');
  assert.match(r.message, /bomb\.npz: x\.npy holds more data than the zip declares/);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('an .npy header that disagrees with the archive is refused before its data is inflated', (t) => {
  const path = fileOf(t, 'lying.npz', lyingHeader());
  const r = read('import', path);
  assert.equal(r.code, 'CORRUPT_DATA');
  assert.match(
    r.message,
    /lying\.npz \(array x\) declares shape \(4, 28, 28\).*but the archive says it holds 1\.0 GiB/,
  );
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('an .npy header declaring a huge shape is refused before its data is inflated', (t) => {
  // The zip declares 1 GiB (what the stream holds); the header claims 6.1 GiB.
  const path = fileOf(t, 'huge.npz', [
    bombEntry('x.npy', [100_000, 256, 256], 1024, 1024 * 1024 * 1024 + 128),
    npyEntry('y.npy', 'y', 4),
  ]);
  const r = read('import', path);
  assert.equal(r.code, 'INVALID_INPUT');
  assert.match(r.message, /huge\.npz \(array x\) declares shape \(100000, 256, 256\)/);
  assert.match(r.message, /Its data was not unpacked/);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('an archive whose directory declares more than the limit is refused before inflating', (t) => {
  const path = fileOf(t, 'declared.npz', [
    bombEntry('x.npy', [4, 28, 28], 64, 3 * 1024 ** 3),
    npyEntry('y.npy', 'y', 4),
  ]);
  const r = read('import', path);
  assert.equal(r.code, 'INVALID_INPUT');
  assert.match(r.message, /declared\.npz declares 3\.0 GiB of arrays.*Nothing of it was unpacked/);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('the same bomb in a .zip of .npy files is stopped too', (t) => {
  const path = fileOf(t, 'arrays.zip', lyingHeader());
  const r = read('import', path);
  assert.equal(r.code, 'CORRUPT_DATA');
  assert.match(r.message, /arrays\.zip \(array x\) declares shape \(4, 28, 28\)/);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('dp2 eval --synthetic stops the same bomb', (t) => {
  const path = fileOf(t, 'synthetic.npz', lyingHeader());
  const r = read('eval', path);
  assert.equal(r.code, 'FAILED');
  assert.match(r.message, /synthetic\.npz \(array x\) declares shape \(4, 28, 28\)/);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

test('image entries of a zip that inflate to 1 GiB are refused per file, unpacked no further', (t) => {
  const png = (v: number): RawEntry => {
    const data = encodePng({ width: 8, height: 8, channels: 1, data: new Uint8Array(64).fill(v) });
    return { name: '', data, method: 0, declaredSize: data.length };
  };
  const signature = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const path = fileOf(t, 'images.zip', [
    { ...png(10), name: 'a/1.png' },
    { ...png(20), name: 'a/2.png' },
    { ...png(30), name: 'b/1.png' },
    { ...png(40), name: 'b/2.png' },
    // A PNG signature, then 1 GiB of zeros; the zip declares all of it.
    {
      name: 'b/bomb.png',
      data: deflateBomb(signature, 1024),
      method: 8,
      declaredSize: 1024 ** 3 + 8,
    },
    // Zeros only: not an image, so not worth inflating past its first bytes.
    {
      name: 'b/zeros.png',
      data: deflateBomb(new Uint8Array(8), 1024),
      method: 8,
      declaredSize: 1024 ** 3 + 8,
    },
  ]);
  const r = read('import', path);
  assert.match(
    r.message,
    /images\.zip: b\/bomb\.png.*declares 1\.0 GiB, more than the largest image DP² Studio reads/s,
  );
  assert.match(r.message, /images\.zip: b\/zeros\.png.*not a PNG, JPEG, BMP or DICOM image/s);
  assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
});

for (const [label, shape, pattern] of [
  [
    'lies about its size',
    [4, 28, 28],
    /train-images-idx3-ubyte\.gz unpacks to more data than its header declares/,
  ],
  [
    'declares a huge size',
    [100_000, 256, 256],
    /train-images-idx3-ubyte\.gz declares 6\.1 GiB once unpacked, more than DP² Studio reads at once/,
  ],
] as const) {
  test(`a gzipped IDX file whose header ${label} is refused with memory bounded`, (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dp2-hostile-idx-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipBomb(idxHeader([...shape]), 1024));
    writeFileSync(
      join(dir, 'train-labels-idx1-ubyte.gz'),
      gzipSync(Buffer.concat([idxHeader([4]), Buffer.from([0, 1, 0, 1])])),
    );
    const r = read('import', dir);
    assert.match(r.message, pattern);
    assert.ok(r.peakAboveMiB < BOUND_MIB, `peak ${r.peakAboveMiB.toFixed(0)} MiB above baseline`);
  });
}
