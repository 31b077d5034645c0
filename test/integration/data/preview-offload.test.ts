/**
 * Where there is a helper process (the desktop app), a preview parses the
 * untrusted files there: the answer is the same, and a helper that dies
 * mid-preview costs a plain error, not the process that asked.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { dispatch } from '../../../src-main/contract/dispatch';
import { encodePng } from '../../../src-main/data/png';
import { ServiceContext } from '../../../src-main/services/context';
import { createServices } from '../../../src-main/services/create-services';
import { forkOffload, type OffloadChannel } from '../../../src-main/services/offload';

async function folder(t: TestContext, perClass: number): Promise<{ home: string; root: string }> {
  const home = await mkdtemp(join(tmpdir(), 'dp2-preview-offload-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const root = join(home, 'images');
  for (const [c, cls] of ['a', 'b'].entries()) {
    await mkdir(join(root, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const data = new Uint8Array(64).map((_, k) => (k * 7 + i * 13 + c * 101) % 256);
      await writeFile(
        join(root, cls, `${i}.png`),
        encodePng({ width: 8, height: 8, channels: 1, data }),
      );
    }
  }
  return { home, root };
}

test('a preview is answered by a helper process, with the same result', async (t) => {
  const { home, root } = await folder(t, 5);
  const helpers: OffloadChannel[] = [];
  const ctx = new ServiceContext(home, {
    offload: () => helpers[helpers.push(forkOffload()) - 1]!,
  });
  t.after(() => ctx.close());
  const local = new ServiceContext(home);
  t.after(() => local.close());
  const request = { path: root };
  const viaHelper = await dispatch(createServices(ctx), 'datasets.preview', request);
  const here = await dispatch(createServices(local), 'datasets.preview', request);
  assert.equal(helpers.length, 1, 'one helper process answered');
  assert.ok(helpers[0]?.pid !== undefined && helpers[0].pid !== process.pid);
  assert.ok(viaHelper.ok && here.ok);
  assert.deepEqual(viaHelper.value, here.value);
  assert.equal(viaHelper.ok && viaHelper.value.total, 10);
});

test('a helper that dies mid-preview gives a plain error; the asking process goes on', async (t) => {
  const { home, root } = await folder(t, 1000);
  let helper: OffloadChannel | undefined;
  const ctx = new ServiceContext(home, { offload: () => (helper = forkOffload()) });
  t.after(() => ctx.close());
  let killed = false;
  const result = await dispatch(
    createServices(ctx),
    'datasets.preview',
    { path: root },
    {
      onProgress: () => {
        // Killed from outside, as the system ends a process that exhausts memory.
        if (!killed && helper?.pid !== undefined) process.kill(helper.pid, 'SIGKILL');
        killed = true;
      },
    },
  );
  assert.ok(killed, 'the helper reported progress before it was killed');
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.code, 'INTERNAL');
  assert.match(
    !result.ok ? result.error.message : '',
    /The helper process for datasets\.preview ended unexpectedly.*Try again/,
  );
});

test('an import is parsed and written by a helper process; the asking process sees the data set', async (t) => {
  const { home, root } = await folder(t, 5);
  const helpers: OffloadChannel[] = [];
  const ctx = new ServiceContext(home, {
    offload: () => helpers[helpers.push(forkOffload()) - 1]!,
  });
  t.after(() => ctx.close());
  const services = createServices(ctx);
  const imported = await dispatch(services, 'datasets.import', { path: root, name: 'Offloaded' });
  assert.equal(helpers.length, 1, 'one helper process imported');
  assert.ok(imported.ok, JSON.stringify(imported));
  assert.equal(imported.value.dataset.trainCount + imported.value.dataset.testCount, 10);
  const shown = await dispatch(services, 'datasets.show', { name: 'Offloaded' });
  assert.ok(shown.ok && shown.value.publicId === imported.value.dataset.publicId);
});
