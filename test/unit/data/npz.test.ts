import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { encodeNpy, parseNpy } from '../../../src-main/data/npy';
import { readNpz, writeNpz } from '../../../src-main/data/npz';
import { tempDir } from './helpers';

const PYTHON = '/usr/bin/python3';

/** True when Debian's python3 has numpy (checked once). */
const hasNumpy = ((): boolean => {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function python(code: string): string {
  return execFileSync(PYTHON, ['-c', code], { encoding: 'utf8' });
}

test('npy round-trips every supported dtype', () => {
  const arrays = [
    Uint8Array.from([0, 1, 255]),
    Int8Array.from([-128, 0, 127]),
    Uint16Array.from([0, 65535, 3]),
    Int16Array.from([-5, 5, 0]),
    Uint32Array.from([1, 2, 4294967295]),
    Int32Array.from([-1, 0, 1]),
    Float32Array.from([0.5, -1, 3]),
    Float64Array.from([Math.PI, -0, 1e300]),
    BigInt64Array.from([-1n, 0n, 9007199254740993n]),
  ];
  for (const data of arrays) {
    const back = parseNpy(encodeNpy({ data, shape: [3] }), 'a.npy');
    assert.deepEqual(back.data, data);
    assert.deepEqual(back.shape, [3]);
  }
  const s = parseNpy(encodeNpy({ data: ['normal', 'pneumonia', 'é😀'] }), 'c.npy');
  assert.equal(s.dtype, '<U9');
  assert.deepEqual(s.data, ['normal', 'pneumonia', 'é😀']);
});

test('npy header is 64-byte aligned and readable in parts', () => {
  const bytes = encodeNpy({ data: new Uint8Array(24), shape: [2, 3, 4] });
  assert.equal((bytes.length - 24) % 64, 0);
  assert.deepEqual(parseNpy(bytes, 'x.npy').shape, [2, 3, 4]);
});

test('truncated npy, pickles and structured arrays are refused in plain words', () => {
  const bytes = encodeNpy({ data: new Float32Array(10), shape: [10] });
  assert.throws(
    () => parseNpy(bytes.subarray(0, bytes.length - 4), 'cut.npy'),
    (e: unknown) =>
      e instanceof UserError && e.code === 'CORRUPT_DATA' && e.message.includes('cut.npy'),
  );
  const rawNpy = (header: string, body: number[]): Uint8Array =>
    Uint8Array.from([
      0x93,
      ...Buffer.from(`NUMPY\x01\x00`, 'latin1'),
      header.length & 255,
      header.length >> 8,
      ...Buffer.from(header, 'latin1'),
      ...body,
    ]);
  const pickled = rawNpy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", [0x80, 0x02]);
  assert.throws(
    () => parseNpy(pickled, 'obj.npy'),
    (e: unknown) =>
      e instanceof UserError && e.code === 'UNSUPPORTED' && e.message.includes('obj.npy'),
  );
  const structured = rawNpy(
    "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
    [0, 0, 0, 0],
  );
  assert.throws(
    () => parseNpy(structured, 's.npy'),
    (e: unknown) => e instanceof UserError && e.code === 'UNSUPPORTED',
  );
});

test('npz round-trips in TypeScript (x uint8, y int64, classes unicode)', () => {
  const x = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 10);
  const y = BigInt64Array.from([0n, 1n]);
  const bytes = writeNpz({
    x: { data: x, shape: [2, 3, 3] },
    y: { data: y },
    classes: { data: ['cat', 'dog'] },
  });
  const back = readNpz(bytes, 'syn.npz');
  assert.deepEqual(back.x?.shape, [2, 3, 3]);
  assert.deepEqual(back.x?.data, x);
  assert.deepEqual(back.y?.data, y);
  assert.equal(back.y?.dtype, '<i8');
  assert.deepEqual(back.classes?.data, ['cat', 'dog']);
  assert.throws(
    () => readNpz(bytes.subarray(0, 40), 'cut.npz'),
    (e: unknown) => e instanceof UserError && e.code === 'CORRUPT_DATA',
  );
});

test("numpy loads our npz, and we read numpy's (stored, compressed, Fortran, big-endian)", async (t) => {
  if (!hasNumpy) {
    // numpy is absent on this machine: the TypeScript round-trip above is the check.
    t.diagnostic('numpy not found at /usr/bin/python3; only the TypeScript round-trip was checked');
    return;
  }
  const dir = await tempDir(t);
  const ours = join(dir, 'ours.npz');
  const x = Uint8Array.from({ length: 4 * 2 * 2 * 3 }, (_, i) => i % 256);
  await writeFile(
    ours,
    writeNpz({
      x: { data: x, shape: [4, 2, 2, 3] },
      y: { data: BigInt64Array.from([3n, 1n, 0n, 2n]) },
      classes: { data: ['a', 'bb', 'ccc', 'dddd'] },
    }),
  );
  const out = python(
    `import numpy as np, json; d=np.load(${JSON.stringify(ours)}); ` +
      `print(json.dumps({'x': [d['x'].dtype.str, list(d['x'].shape), int(d['x'].sum())], 'y': [d['y'].dtype.str, d['y'].tolist()], 'c': [d['classes'].dtype.str, d['classes'].tolist()]}))`,
  );
  assert.deepEqual(JSON.parse(out), {
    x: ['|u1', [4, 2, 2, 3], x.reduce((a, b) => a + b, 0)],
    y: ['<i8', [3, 1, 0, 2]],
    c: ['<U4', ['a', 'bb', 'ccc', 'dddd']],
  });

  const theirs = join(dir, 'theirs.npz');
  python(
    `import numpy as np; a=np.arange(24, dtype=np.float32).reshape(2,3,4); ` +
      `np.savez_compressed(${JSON.stringify(theirs)}, f=np.asfortranarray(a), b=np.arange(3, dtype='>i4'), u=np.array(['x','yz']), bo=np.array([True, False]))`,
  );
  const got = readNpz(await readFile(theirs), 'theirs.npz');
  assert.deepEqual(
    [...(got.f?.data as Float32Array)],
    Array.from({ length: 24 }, (_, i) => i),
  );
  assert.deepEqual(got.f?.shape, [2, 3, 4]);
  assert.deepEqual([...(got.b?.data as Int32Array)], [0, 1, 2]);
  assert.deepEqual(got.u?.data, ['x', 'yz']);
  assert.deepEqual([...(got.bo?.data as Uint8Array)], [1, 0]);
});
