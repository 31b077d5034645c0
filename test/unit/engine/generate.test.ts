import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { defaultArchitecture } from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import { generateImages, grid } from '../../../src-main/engine/generate';
import { initFlat, splitFlat } from '../../../src-main/engine/params';

const arch = defaultArchitecture();
const decoder = splitFlat(arch, 'decoder', initFlat(arch, 'decoder', 5));

before(async () => {
  await selectBackend();
});

test('generation is deterministic per seed and differs across seeds', () => {
  const a = generateImages(arch, decoder, { perClass: 3, seed: 1 });
  const b = generateImages(arch, decoder, { perClass: 3, seed: 1, chunk: 7 });
  const c = generateImages(arch, decoder, { perClass: 3, seed: 2 });
  assert.equal(a.count, 30);
  assert.equal(a.x.length, 30 * 784);
  assert.deepEqual(a.x, b.x, 'same seed, same images (whatever the chunking)');
  assert.notDeepEqual(a.x, c.x);
  assert.deepEqual(
    Array.from(a.y),
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9],
  );
  assert.deepEqual([a.height, a.width, a.channels], [28, 28, 1]);
  assert.ok(a.x.some((v) => v > 0) && a.x.some((v) => v < 255));
});

test('a subset of classes can be generated', () => {
  const g = generateImages(arch, decoder, { perClass: 2, seed: 1, classes: [7, 3] });
  assert.deepEqual(Array.from(g.y), [7, 7, 3, 3]);
  assert.throws(() => generateImages(arch, decoder, { perClass: 2, seed: 1, classes: [10] }));
  assert.throws(() => generateImages(arch, decoder, { perClass: 0, seed: 1 }));
});

test('grid puts image i at row ⌊i/cols⌋, column i mod cols', () => {
  const h = 2;
  const w = 3;
  const count = 5;
  const x = new Uint8Array(count * h * w);
  for (let i = 0; i < count; i++) x.fill(i + 1, i * h * w, (i + 1) * h * w);
  const g = grid({ x, y: new Uint8Array(count), count, height: h, width: w, channels: 1 }, 2, 3);
  assert.deepEqual([g.height, g.width, g.channels], [4, 9, 1]);
  const at = (r: number, c: number): number => g.data[r * g.width + c] as number;
  assert.deepEqual(
    [at(0, 0), at(0, 3), at(1, 8), at(2, 0), at(3, 5), at(3, 6)],
    [1, 2, 3, 4, 5, 0],
  );
  const tenRows = grid(generateImages(arch, decoder, { perClass: 4, seed: 3 }));
  assert.deepEqual([tenRows.height, tenRows.width], [280, 112]);
});
