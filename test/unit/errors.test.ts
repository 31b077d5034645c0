import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError, toErrorPayload } from '../../src-main/contract/errors';
test('user errors keep code', () => {
  assert.deepEqual(toErrorPayload(new UserError('NOT_FOUND', 'x')), {
    code: 'NOT_FOUND',
    message: 'x',
  });
});
