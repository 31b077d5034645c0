import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import {
  blockRecords,
  largestBlock,
  partitionFingerprint,
  partitionRecords,
} from '../../../src-main/engine/partition';

test('blocks are disjoint, cover every record once, and differ in size by at most one', () => {
  for (const [n, k] of [
    [10, 3],
    [1000, 7],
    [60000, 2500],
    [5, 5],
    [1, 1],
  ] as const) {
    const p = partitionRecords(n, k, 42);
    const seen = new Uint8Array(n);
    const sizes: number[] = [];
    for (let b = 0; b < k; b++) {
      const recs = blockRecords(p, b);
      sizes.push(recs.length);
      for (const r of recs) {
        assert.ok(r < n);
        assert.equal(seen[r], 0, `record ${r} appears twice`);
        seen[r] = 1;
      }
    }
    assert.ok(
      seen.every((s) => s === 1),
      'every record is in a block',
    );
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    assert.equal(Math.max(...sizes), largestBlock(p));
  }
});

test('the permutation depends only on (N, K, seed)', () => {
  const a = partitionRecords(500, 9, 123);
  const b = partitionRecords(500, 9, 123);
  const c = partitionRecords(500, 9, 124);
  assert.deepEqual(a.order, b.order);
  assert.equal(partitionFingerprint(a), partitionFingerprint(b));
  assert.notDeepEqual(a.order, c.order);
  assert.notEqual(partitionFingerprint(a), partitionFingerprint(c));
});

test('the permutation is not the identity and mixes records across blocks', () => {
  const p = partitionRecords(1000, 10, 1);
  // In block 0 of an unshuffled split all records would be < 100.
  const low = Array.from(blockRecords(p, 0)).filter((r) => r < 100).length;
  assert.ok(low < 40, `block 0 has ${low} of the first 100 records`);
});

test('invalid sizes are refused in plain words', () => {
  assert.throws(() => partitionRecords(10, 11, 1), UserError);
  assert.throws(() => partitionRecords(10, 0, 1), UserError);
  assert.throws(() => partitionRecords(0, 1, 1), UserError);
  assert.throws(() => partitionRecords(10, 2.5, 1), UserError);
});
