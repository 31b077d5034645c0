/** Listing and inflating zip entries without trusting their sizes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { inflateZipEntry, listZipEntries } from '../../../src-main/data/zip-entries';
import { UserError } from '../../../src-main/contract/errors';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test('entries as written by fflate: names, methods, sizes, contents', () => {
  const big = text('abc'.repeat(10_000));
  const zip = zipSync({
    'a/one.txt': [big, { level: 6 }],
    'b/two.txt': [text('two'), { level: 0 }],
  });
  const entries = listZipEntries(zip, 'x.zip');
  assert.deepEqual(
    entries.map((e) => [e.name, e.compression, e.declaredSize]),
    [
      ['a/one.txt', 8, big.length],
      ['b/two.txt', 0, 3],
    ],
  );
  const [one, two] = entries;
  assert.deepEqual(inflateZipEntry(zip, one!, { where: 'x.zip', maxBytes: 1e6 }), big);
  assert.deepEqual(inflateZipEntry(zip, two!, { where: 'x.zip', maxBytes: 1e6 }), text('two'));
});

test('an entry declaring more than the limit is refused before inflating, naming it', () => {
  const zip = zipSync({ 'big.bin': [new Uint8Array(50_000), { level: 6 }] });
  const [entry] = listZipEntries(zip, 'x.zip');
  assert.throws(
    () => inflateZipEntry(zip, entry!, { where: 'x.zip', maxBytes: 10_000 }),
    (e: unknown) =>
      e instanceof UserError &&
      e.code === 'INVALID_INPUT' &&
      /x\.zip: big\.bin declares 48\.8 KiB once unpacked, more than DP² Studio unpacks at once \(9\.8 KiB\)/.test(
        e.message,
      ),
  );
});

test('what is not a zip, or is cut off, gets a plain message', () => {
  assert.throws(
    () => listZipEntries(text('hello, not a zip at all'), 'y.zip'),
    /y\.zip is not a readable zip archive/,
  );
  const zip = zipSync({ 'a.txt': [text('a'.repeat(1000)), { level: 6 }] });
  const [entry] = listZipEntries(zip, 'z.zip');
  const cut = { ...entry!, compressedSize: zip.length };
  assert.throws(
    () => inflateZipEntry(zip, cut, { where: 'z.zip', maxBytes: 1e6 }),
    /z\.zip is not a readable zip archive \(the entry a\.txt is cut off\)/,
  );
});
