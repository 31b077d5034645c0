import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeDigitFolder } from '../support/digits';
import { runCliCaptured as dp2 } from '../support/run-cli';
import { tempDir } from '../support/temp';

test('dp2 classify trains the private classifier and writes its folder and certificate; it refuses another method', async () => {
  const tmp = tempDir();
  const images = join(tmp.path, 'digits');
  writeDigitFolder(images, 12);
  const env = { DP2_HOME: join(tmp.path, 'home') };
  const imported = await dp2(['import', images, '--name', 'digits'], { env });
  assert.equal(imported.status, 0, imported.stderr);
  const out = join(tmp.path, 'out');
  const trained = await dp2(
    ['classify', '--dataset', 'digits', '--epsilon', '4', '--steps', '6', '--out', out, '--json'],
    { env },
  );
  assert.equal(trained.status, 0, trained.stderr);
  const runId = (JSON.parse(trained.stdout) as { runId: number }).runId;
  assert.deepEqual(readdirSync(out).sort(), ['certificate.json', 'classifier']);
  const shown = await dp2(['runs', 'show', String(runId), '--json'], { env });
  assert.equal((JSON.parse(shown.stdout) as { method: string }).method, 'randp');
  const refused = await dp2(
    ['classify', '--dataset', 'digits', '--epsilon', '4', '--method', 'dpsgd'],
    {
      env,
    },
  );
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /always trains the private classifier/);
  tmp.cleanup();
});
