/**
 * The prepared-size limit at the largest offered size (issue #22): a set too
 * large for memory at 128×128 colour is refused before anything is read, in
 * plain words that say how much it needs, how many images fit and what to do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { checkPreparedSize } from '../../../src-main/data/collector';

test('a 128×128 colour set beyond the prepared-size limit gets a plain message; grey or fewer images fit', () => {
  assert.throws(
    () => checkPreparedSize(50_000, { size: 128, channels: 3 }, 'The folder “scans”'),
    (err: unknown) => {
      assert.ok(err instanceof UserError && err.code === 'INVALID_INPUT');
      assert.match(err.message, /The folder “scans” holds 50000 images/);
      assert.match(err.message, /128×128×3 they need 2\.3 GiB/);
      assert.match(err.message, /at most 43,690 images fit/);
      assert.match(err.message, /Choose a smaller image size or grayscale/);
      return true;
    },
  );
  checkPreparedSize(43_690, { size: 128, channels: 3 }, 'x');
  checkPreparedSize(50_000, { size: 128, channels: 1 }, 'x');
  checkPreparedSize(500_000, { size: 64, channels: 1 }, 'x');
});
