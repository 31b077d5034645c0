import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abandonedEntries, readDatasetsEntry } from '../../../src-main/services/import-staging';
import type { DatasetsEntry } from '../../../src-main/services/import-staging';

const A = '0b3c6a55-7d0e-4f6c-9a43-1f2e3d4c5b6a';
const B = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';

test('names of the datasets folder: folders, staging folders and claims; nothing else', () => {
  assert.deepEqual(readDatasetsEntry(A), { name: A, kind: 'folder', id: A });
  assert.deepEqual(readDatasetsEntry(`.importing-${A}`), {
    name: `.importing-${A}`,
    kind: 'staging',
    id: A,
  });
  const claim = `.importing-${A}.owner_4242_c0ffee_0123456789abcdef`;
  assert.deepEqual(readDatasetsEntry(claim), {
    name: claim,
    kind: 'claim',
    id: A,
    owner: '4242:c0ffee:0123456789abcdef',
  });
  const garbled = `.importing-${A}.owner_nobody`;
  assert.deepEqual(readDatasetsEntry(garbled), {
    name: garbled,
    kind: 'claim',
    id: A,
    owner: null,
  });
  // An earlier version's staging folder (any id) is still a staging folder.
  assert.deepEqual(readDatasetsEntry('.importing-0b7f'), {
    name: '.importing-0b7f',
    kind: 'staging',
    id: '0b7f',
  });
  for (const other of [
    'Chest X-rays',
    A.toUpperCase(),
    `${A}.zip`,
    '.importing-',
    '.importing-.owner_1_c',
  ]) {
    assert.equal(readDatasetsEntry(other), undefined, other);
  }
});

test('only imports that are not live and folders no row owns are removed, claims last', () => {
  const names = [
    A,
    `.importing-${A}.owner_1_c_m`,
    B,
    `.importing-${B}`,
    `.importing-${B}.owner_2_c_m`,
  ];
  const entries = names.map((n) => readDatasetsEntry(n) as DatasetsEntry);
  const none = new Set<string>();
  assert.deepEqual(abandonedEntries({ entries, live: none, owned: none }), [
    A,
    B,
    `.importing-${B}`,
    `.importing-${A}.owner_1_c_m`,
    `.importing-${B}.owner_2_c_m`,
  ]);
  // A recorded (its claim's owner died before removing it), B still importing.
  assert.deepEqual(abandonedEntries({ entries, live: new Set([B]), owned: new Set([A]) }), [
    `.importing-${A}.owner_1_c_m`,
  ]);
});
