/**
 * How many threads a DP-SGD step uses (engine/dpsgd-threads.ts) and how a
 * run's backend is shown with them (jobs/protocol.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { evenRange } from '../../../src-main/engine/dpsgd-threads';
import {
  THREAD_WORK_BYTES,
  trainThreadCount,
  usefulThreads,
} from '../../../src-main/engine/train-threads';
import { backendLabel } from '../../../src-main/jobs/protocol';

test('one thread per core on the portable backends, at most 8; the native ones keep one', () => {
  assert.equal(trainThreadCount({ backend: 'wasm', env: {}, cores: 2 }), 2);
  assert.equal(trainThreadCount({ backend: 'cpu', env: {}, cores: 1 }), 1);
  assert.equal(trainThreadCount({ backend: 'wasm', env: {}, cores: 32 }), 8);
  // libtensorflow already uses every core inside each operation.
  assert.equal(trainThreadCount({ backend: 'tensorflow', env: {}, cores: 16 }), 1);
  assert.equal(
    trainThreadCount({ backend: 'tensorflow-gpu', env: { DP2_TRAIN_THREADS: '4' }, cores: 16 }),
    1,
  );
});

test('DP2_TRAIN_THREADS sets it, and a bad value is refused in plain words', () => {
  assert.equal(trainThreadCount({ backend: 'wasm', env: { DP2_TRAIN_THREADS: '3' }, cores: 2 }), 3);
  assert.equal(trainThreadCount({ backend: 'wasm', env: { DP2_TRAIN_THREADS: '1' }, cores: 8 }), 1);
  for (const bad of ['0', '2.5', 'two', '65']) {
    assert.throws(
      () => trainThreadCount({ backend: 'wasm', env: { DP2_TRAIN_THREADS: bad }, cores: 2 }),
      (err: unknown) =>
        err instanceof UserError &&
        err.message.includes('DP2_TRAIN_THREADS') &&
        err.message.includes('1 to 64'),
    );
  }
});

test('even ranges cover every item once, in order', () => {
  for (const [n, parts] of [
    [10, 3],
    [2, 4],
    [475_424, 2],
  ] as const) {
    let next = 0;
    for (let i = 0; i < parts; i++) {
      const r = evenRange(n, parts, i);
      assert.equal(r.from, next);
      assert.ok(r.to - r.from <= Math.ceil(n / parts));
      next = r.to;
    }
    assert.equal(next, n);
  }
});

test("a run's backend shows its threads when there are several", () => {
  assert.equal(backendLabel({ name: 'wasm', threads: 2 }), 'wasm, 2 threads');
  assert.equal(backendLabel({ name: 'wasm', threads: 1 }), 'wasm');
  assert.equal(backendLabel({ name: 'tensorflow' }), 'tensorflow');
});

test('a further thread only where each gets enough of a step to outweigh its fixed costs', () => {
  const small = 39_137; // bytes per record of the presets' small model (engine/memory.ts)
  const conv64 = 5_902_674; // the 64-px conv model
  assert.equal(usefulThreads({ wanted: 2, records: 32, bytesPerRecord: small }), 1);
  assert.equal(usefulThreads({ wanted: 2, records: 128, bytesPerRecord: small }), 1);
  assert.equal(usefulThreads({ wanted: 2, records: 1024, bytesPerRecord: small }), 2);
  assert.equal(usefulThreads({ wanted: 2, records: 8, bytesPerRecord: conv64 }), 2);
  assert.equal(usefulThreads({ wanted: 8, records: 1024, bytesPerRecord: small }), 7);
  assert.equal(usefulThreads({ wanted: 1, records: 1e6, bytesPerRecord: conv64 }), 1);
  assert.equal(usefulThreads({ wanted: 4, records: 0, bytesPerRecord: conv64 }), 1);
  assert.equal(THREAD_WORK_BYTES, 5 * 2 ** 20);
});
