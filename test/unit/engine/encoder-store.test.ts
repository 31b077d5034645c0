import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { defaultArchitecture, parameterCount } from '../../../src-main/engine/architecture';
import { EncoderStore, type EncoderState } from '../../../src-main/engine/encoder-store';

const arch = defaultArchitecture();
const P = parameterCount(arch, 'encoder');
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dp2-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const filled = (v: number): Float32Array => new Float32Array(P).fill(v);
const state = (v: number, t: number): EncoderState => ({
  params: filled(v),
  m: filled(v + 0.5),
  v: filled(v + 0.25),
  t,
});

test('stage-1 encoders persist and reload exactly', async () => {
  const dir = join(root, 'a');
  const s = await EncoderStore.open(dir, arch, 3);
  assert.deepEqual(s.missingBlocks(), [0, 1, 2]);
  await s.writeTrained(1, filled(1.5));
  const again = await EncoderStore.open(dir, arch, 3);
  assert.deepEqual(again.missingBlocks(), [0, 2]);
  const e = await again.load(1);
  assert.deepEqual(e.params, filled(1.5));
  assert.equal(e.m, null);
  assert.equal(e.t, 0);
  await assert.rejects(again.load(0), UserError);
});

test('files named by a checkpoint survive later updates; restore returns to them exactly', async () => {
  const dir = join(root, 'b');
  const s = await EncoderStore.open(dir, arch, 2, { cacheBytes: 1 }); // no caching: every save hits disk
  await s.writeTrained(0, filled(0));
  await s.writeTrained(1, filled(10));
  await s.restore(new Uint32Array(2));
  await s.save(0, state(1, 1));
  const snap1 = await s.prepareSnapshot();
  await s.commitSnapshot(snap1);
  // Updates after the checkpoint...
  await s.save(0, state(2, 2));
  await s.save(1, state(11, 1));
  await s.save(0, state(3, 3));
  assert.deepEqual((await s.load(0)).params, filled(3));
  // ...are thrown away when resuming from it (e.g. after kill -9).
  const resumed = await EncoderStore.open(dir, arch, 2);
  await resumed.restore(snap1);
  const e0 = await resumed.load(0);
  assert.deepEqual([e0.params[0], e0.m?.[0], e0.v?.[0], e0.t], [1, 1.5, 1.25, 1]);
  assert.deepEqual((await resumed.load(1)).params, filled(10));
  assert.equal((await readdir(dir)).length, 2, 'only the files of the checkpoint remain');
});

test('a committed newer checkpoint releases the older files', async () => {
  const dir = join(root, 'c');
  const s = await EncoderStore.open(dir, arch, 1);
  await s.writeTrained(0, filled(0));
  await s.restore(new Uint32Array(1));
  await s.save(0, state(1, 1));
  const a = await s.prepareSnapshot();
  await s.commitSnapshot(a);
  await s.save(0, state(2, 2));
  const b = await s.prepareSnapshot();
  assert.notDeepEqual(a, b);
  await s.commitSnapshot(b);
  assert.deepEqual(await readdir(dir), [`enc-000000.v${b[0]}.bin`]);
  await assert.rejects(
    s.restore(a),
    (e: unknown) => e instanceof UserError && e.code === 'CORRUPT_DATA',
  );
});
