import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickerOptions } from '../../../src-main/app/dialog-options';

test('the labels picker opens one file and offers CSV first; import pickers open without creating folders', () => {
  const labels = pickerOptions('labels-file');
  assert.deepEqual(labels.properties, ['openFile']);
  assert.deepEqual(labels.filters?.[0]?.extensions, ['csv', 'tsv', 'txt']);
  assert.deepEqual(pickerOptions('import-folder').properties, ['openDirectory']);
  assert.deepEqual(pickerOptions('import-file').properties, ['openFile']);
  assert.ok(pickerOptions('export-folder').properties.includes('createDirectory'));
});
