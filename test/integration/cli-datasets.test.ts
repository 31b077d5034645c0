import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src-main/data';
import { runCliCaptured as dp2 } from '../support/run-cli';
import { tempDir } from '../support/temp';

/** A class-per-folder data set of small gray squares, plus one corrupt file. */
function makeFolder(root: string, { perClass = 12, corrupt = true } = {}): string {
  const dir = join(root, 'scans');
  for (const [c, name] of ['benign', 'malignant', 'unclear'].entries()) {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const data = new Uint8Array(16 * 16).map((_, p) => (p * (c + 1) + i * 7) % 256);
      writeFileSync(
        join(dir, name, `${i}.png`),
        encodePng({ width: 16, height: 16, channels: 1, data }),
      );
    }
  }
  if (corrupt)
    writeFileSync(join(dir, 'benign', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n garbage'));
  return dir;
}

test('import: a bad file stops the import and names the file; nothing is left behind', async () => {
  const tmp = tempDir();
  const home = join(tmp.path, 'home');
  const folder = makeFolder(tmp.path);
  const r = await dp2(['import', folder, '--name', 'Scans'], { env: { DP2_HOME: home } });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /broken\.png/);
  assert.equal(r.stdout, '');
  const list = await dp2(['datasets', 'list', '--json'], { env: { DP2_HOME: home } });
  assert.deepEqual(JSON.parse(list.stdout), []);
  const datasets = join(home, 'datasets');
  assert.ok(!existsSync(datasets) || readdirSync(datasets).length === 0, 'no half-imported arrays');
  tmp.cleanup();
});

test('import → list → cap → ledger → delete over the real store', async () => {
  const tmp = tempDir();
  const env = { DP2_HOME: join(tmp.path, 'home') };
  const folder = makeFolder(tmp.path);

  const preview = await dp2(['import', folder, '--preview', '--skip-unreadable'], { env });
  assert.equal(preview.status, 0, preview.stderr);
  assert.match(preview.stdout, /benign: 12/);
  assert.match(preview.stdout, /broken\.png/);

  const imported = await dp2(
    ['import', folder, '--name', 'Scans', '--skip-unreadable', '--test-fraction', '0.25', '--json'],
    { env },
  );
  assert.equal(imported.status, 0, imported.stderr);
  const ds = JSON.parse(imported.stdout) as {
    trainCount: number;
    testCount: number;
    classNames: string[];
  };
  assert.equal(ds.trainCount + ds.testCount, 36);
  assert.equal(ds.testCount, 9);
  assert.deepEqual(ds.classNames, ['benign', 'malignant', 'unclear']);

  const again = await dp2(['import', folder, '--name', 'scans', '--skip-unreadable'], { env });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists/);

  const cap = await dp2(['datasets', 'cap', 'Scans', '--epsilon', '5'], { env });
  assert.equal(cap.status, 0, cap.stderr);
  assert.match(cap.stdout, /cap ε = 5/);

  const ledger = await dp2(['ledger', '--dataset', 'Scans', '--json'], { env });
  assert.equal(ledger.status, 0, ledger.stderr);
  assert.deepEqual((JSON.parse(ledger.stdout) as { total: { epsilon: number } }).total.epsilon, 0);

  const show = await dp2(['datasets', 'show', 'Scans'], { env });
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /27 training \+ 9 held-out test images, 3 classes, 28×28×1/);

  const del = await dp2(['datasets', 'delete', 'Scans'], { env });
  assert.equal(del.status, 0, del.stderr);
  assert.match(del.stdout, /private data is gone/);
  assert.equal(readdirSync(join(env.DP2_HOME, 'datasets')).length, 0, 'private arrays removed');
  const after = await dp2(['ledger', '--dataset', 'Scans'], { env });
  assert.equal(after.status, 0, 'the ledger outlives the data set');
  assert.match(after.stdout, /data set deleted/);
  const missing = await dp2(['datasets', 'show', 'Scans'], { env });
  assert.equal(missing.status, 1);
  assert.ok(existsSync(join(env.DP2_HOME, 'dp2.sqlite')));
  tmp.cleanup();
});

test('an import killed half-way leaves nothing once the store opens again', async () => {
  const tmp = tempDir();
  const env = { DP2_HOME: join(tmp.path, 'home') };
  const first = await dp2(['datasets', 'list'], { env });
  assert.equal(first.status, 0, first.stderr);
  // what a kill -9 during `dp2 import` leaves behind: a staging folder of arrays
  const staging = join(env.DP2_HOME, 'datasets', '.importing-0b7f');
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'train_x.npy'), Buffer.alloc(1024));
  const again = await dp2(['datasets', 'list', '--json'], { env });
  assert.equal(again.status, 0, again.stderr);
  assert.ok(!existsSync(staging), 'the half-written arrays are removed');
  assert.deepEqual(JSON.parse(again.stdout), []);
  tmp.cleanup();
});
