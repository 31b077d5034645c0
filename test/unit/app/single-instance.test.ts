import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secondInstanceSteps } from '../../../src-main/app/single-instance';

test('a second start brings the running window to the front', () => {
  assert.deepEqual(secondInstanceSteps({ minimized: false, visible: true }), ['focus']);
  assert.deepEqual(secondInstanceSteps({ minimized: true, visible: true }), ['restore', 'focus']);
  assert.deepEqual(secondInstanceSteps({ minimized: false, visible: false }), ['show', 'focus']);
  assert.deepEqual(secondInstanceSteps({ minimized: true, visible: false }), [
    'restore',
    'show',
    'focus',
  ]);
});

test('a second start while no window is open (macOS) opens one', () => {
  assert.deepEqual(secondInstanceSteps(null), ['create-window']);
});
