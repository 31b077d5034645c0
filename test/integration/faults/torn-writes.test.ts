/**
 * I/O errors and torn writes, the way SQLite tests itself: every write,
 * flush and rename of a checkpoint or an export goes through the seam in
 * src-main/io/whole-file.ts; for every N the N-th step fails (cleanly, or
 * after writing half its bytes), and the outcome must be whole or absent:
 * the previous state untouched or the new one complete, never a partial file
 * that a later resume or export would read, and no temporary file left over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import { defaultArchitecture, parameterCount } from '../../../src-main/engine/architecture';
import { EncoderStore, type EncoderState } from '../../../src-main/engine/encoder-store';
import {
  packContainer,
  unpackContainer,
  writeCheckpointAtomic,
} from '../../../src-main/engine/checkpoint';
import {
  injectWriteFaults,
  type FaultAnswer,
  type WriteStep,
} from '../../../src-main/io/whole-file';
import {
  closeStore,
  createRun,
  exportRun,
  insertDataset,
  openStore,
  registerArtifact,
} from '../../../src-main/store';
import { tempDir } from '../../support/temp';

/** A real checkpoint container whose arrays are `seed`-dependent (about 600 KB). */
function checkpointBytes(seed: number): Uint8Array {
  const a = new Float32Array(150_000).map((_, i) => Math.sin(i * seed));
  const b = Uint32Array.from({ length: 100 }, (_, i) => i * seed);
  return packContainer({ kind: 'test', step: seed }, [
    ['a', a],
    ['b', b],
  ]);
}

/** Runs `action` with the `n`-th step (1-based) answered `answer`; returns the error and the steps seen. */
async function withFault(
  n: number,
  answer: FaultAnswer,
  action: () => Promise<unknown>,
): Promise<{ error: unknown; steps: WriteStep[] }> {
  const steps: WriteStep[] = [];
  const remove = injectWriteFaults((step) => {
    steps.push(step);
    return steps.length === n ? answer : 'ok';
  });
  try {
    await action();
    return { error: undefined, steps };
  } catch (error) {
    return { error, steps };
  } finally {
    remove();
  }
}

/** Every fault to try at step `step`: a clean failure, a full disk, and for writes a torn one. */
function answersFor(step: WriteStep): FaultAnswer[] {
  return step === 'write' ? ['fail', { code: 'ENOSPC' }, 'torn'] : ['fail', { code: 'ENOSPC' }];
}

function assertPlain(error: unknown, context: string): void {
  assert.ok(error instanceof UserError, `${context}: ${String(error)} is not a plain message`);
  assert.doesNotMatch(error.message, /EIO|ENOSPC|injected/, context);
}

test('a checkpoint write failing at any step leaves the old checkpoint or the new one, whole', async (t) => {
  const tmp = tempDir('dp2-torn-ckpt-');
  t.after(tmp.cleanup);
  const dir = join(tmp.path, 'checkpoints');
  mkdirSync(dir);
  const oldBytes = checkpointBytes(1);
  const newBytes = checkpointBytes(2);
  const same = join(dir, 'stage2-000000010.ckpt');
  const next = join(dir, 'stage2-000000020.ckpt');

  // A clean write, to learn the steps (N runs over all of them).
  const clean = await withFault(0, 'ok', () => writeCheckpointAtomic(next, newBytes));
  assert.equal(clean.error, undefined);
  const total = clean.steps.length;
  assert.ok(total >= 3, `steps seen: ${clean.steps.join(', ')}`);

  let trials = 0;
  for (let n = 1; n <= total; n++) {
    for (const answer of answersFor(clean.steps[n - 1]!)) {
      for (const target of [same, next]) {
        for (const f of readdirSync(dir)) rmSync(join(dir, f));
        writeFileSync(same, oldBytes);
        const what = `step ${n} (${clean.steps[n - 1]}) answered ${JSON.stringify(answer)}, writing ${target === same ? 'over the old file' : 'a new file'}`;
        const { error } = await withFault(n, answer, () => writeCheckpointAtomic(target, newBytes));
        trials++;
        assert.ok(error !== undefined, `${what}: the fault was not reported`);
        assertPlain(error, what);
        // No temporary file or other leftover beside the checkpoints.
        const files = readdirSync(dir).sort();
        const allowed =
          target === same
            ? [[basename(same)]]
            : [[basename(same)], [basename(same), basename(next)]];
        assert.ok(
          allowed.some((a) => a.join() === files.join()),
          `${what}: the folder holds ${files.join(', ')}`,
        );
        // The previous checkpoint still reads; the new one is absent or whole.
        const onDisk = readFileSync(same);
        if (target === same) {
          assert.ok(
            onDisk.equals(oldBytes) || onDisk.equals(newBytes),
            `${what}: the checkpoint is neither the old nor the new one`,
          );
        } else {
          assert.ok(onDisk.equals(oldBytes), `${what}: the previous checkpoint changed`);
          if (existsSync(next))
            assert.ok(readFileSync(next).equals(newBytes), `${what}: a partial new checkpoint`);
        }
        for (const f of files) unpackContainer(readFileSync(join(dir, f)));
      }
    }
  }
  // With the faults gone, the same write succeeds.
  await writeCheckpointAtomic(same, newBytes);
  assert.ok(readFileSync(same).equals(newBytes));
  t.diagnostic(`${total} steps per checkpoint write, ${trials} faulty writes, all whole or absent`);
});

test('an export failing at any write, flush or rename leaves no export folder and no partial one', async (t) => {
  const tmp = tempDir('dp2-torn-export-');
  t.after(tmp.cleanup);
  const home = join(tmp.path, 'home');
  mkdirSync(home);
  const store = openStore({ path: join(home, 'dp2.sqlite'), home });
  t.after(() => closeStore(store));
  const ds = insertDataset(store, {
    name: 'Torn',
    fingerprint: 'sha256:torn',
    format: 'npz',
    preprocessing: {},
    splitSeed: 1,
    trainCount: 10,
    testCount: 2,
    classNames: ['a'],
    filesDir: 'datasets/torn',
  });
  const run = createRun(store, {
    datasetId: ds.id,
    method: 'dp2vae',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  // Releasable files of several sizes: the 2.5 MB weights take three 1 MiB writes.
  const runDir = join(home, 'runs', String(run.id));
  const files: [string, Uint8Array][] = [
    ['decoder/model.json', new TextEncoder().encode('{"layers":[]}')],
    ['decoder/weights.bin', randomBytes(2_500_000)],
    ['certificate.json', new TextEncoder().encode('{"epsilon":1}')],
    ['samples/samples.npz', randomBytes(300_000)],
  ];
  for (const [name, bytes] of files) {
    mkdirSync(join(runDir, name, '..'), { recursive: true });
    writeFileSync(join(runDir, name), bytes);
  }
  const register = (kind: 'decoder' | 'certificate' | 'samples', rel: string) =>
    registerArtifact(store, {
      kind,
      runId: run.id,
      datasetId: ds.id,
      path: join(runDir, rel),
      visibility: 'releasable',
    });
  register('decoder', 'decoder');
  register('certificate', 'certificate.json');
  register('samples', 'samples/samples.npz');

  const outParent = join(tmp.path, 'release');
  mkdirSync(outParent);
  const outDir = join(outParent, 'export');
  const exportOnce = () => exportRun({ store, runId: run.id, outDir });

  const clean = await withFault(0, 'ok', exportOnce);
  assert.equal(clean.error, undefined);
  const total = clean.steps.length;
  // 4 files: at least one write and one flush each, then the rename.
  assert.ok(total >= 9, `steps seen: ${clean.steps.join(', ')}`);
  rmSync(outDir, { recursive: true });

  let trials = 0;
  for (let n = 1; n <= total; n++) {
    for (const answer of answersFor(clean.steps[n - 1]!)) {
      const what = `step ${n} of ${total} (${clean.steps[n - 1]}) answered ${JSON.stringify(answer)}`;
      const { error } = await withFault(n, answer, exportOnce);
      trials++;
      assert.ok(error !== undefined, `${what}: the fault was not reported`);
      assertPlain(error, what);
      assert.match((error as Error).message, /Nothing was exported/, what);
      assert.deepEqual(
        readdirSync(outParent),
        [],
        `${what}: left ${readdirSync(outParent).join(', ')}`,
      );
    }
  }
  // With the faults gone, the same export succeeds and every file is whole.
  await exportOnce();
  for (const [name, bytes] of files) {
    const exported = join(outDir, name.replace(/^samples\//, ''));
    assert.ok(readFileSync(exported).equals(bytes), `${name} differs after the export`);
  }
  // The unfinished folder of an export killed mid-way (its process is gone) is removed
  // by the next export to the same folder; one of a live process is left alone.
  const again = join(outParent, 'again');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const abandoned = `${again}.partial-${dead}-0badf00d`;
  const busy = `${again}.partial-${process.ppid}-0badf00d`;
  for (const p of [abandoned, busy]) {
    mkdirSync(p);
    writeFileSync(join(p, 'certificate.json'), '{');
  }
  await exportRun({ store, runId: run.id, outDir: again });
  assert.ok(!existsSync(abandoned), 'the abandoned partial export is still there');
  assert.ok(existsSync(busy), "a live process's partial export was removed");
  t.diagnostic(`${total} steps per export, ${trials} faulty exports, none left a folder behind`);
});

/** Encoder k's state number `s` of a small model (parameters, Adam moments, step). */
function encoderState(k: number, s: number, count: number): EncoderState {
  const fill = (salt: number) =>
    new Float32Array(count).map((_, i) => Math.cos(i + 97 * k + salt * s));
  return { params: fill(1), m: fill(2), v: fill(3).map(Math.abs), t: s };
}

test('a stage-2 checkpoint (encoder snapshot, then checkpoint file) failing at any step resumes from the previous one', async (t) => {
  const tmp = tempDir('dp2-torn-encoders-');
  t.after(tmp.cleanup);
  const arch = { ...defaultArchitecture(10), encoderHidden: [32], latent: 4 };
  const K = 3;
  const count = parameterCount(arch, 'encoder');

  /** The worker's sequence: snapshot the encoders, write the checkpoint naming them, commit. */
  const checkpoint = async (store: EncoderStore, path: string): Promise<Uint32Array> => {
    const versions = await store.prepareSnapshot();
    await writeCheckpointAtomic(
      path,
      packContainer({ kind: 'test' }, [['encoderVersions', versions]]),
    );
    return versions;
  };
  /** A run at its checkpoint A (states 1), then updated to states 2; returns A's path. */
  const setUp = async (dir: string): Promise<{ store: EncoderStore; a: string; b: string }> => {
    const store = await EncoderStore.open(join(dir, 'encoders'), arch, K);
    for (let k = 0; k < K; k++) await store.writeTrained(k, encoderState(k, 0, count).params);
    await store.syncDirectory();
    for (let k = 0; k < K; k++) await store.save(k, encoderState(k, 1, count));
    const a = join(dir, 'stage2-000000010.ckpt');
    await store.commitSnapshot(await checkpoint(store, a));
    for (let k = 0; k < K; k++) await store.save(k, encoderState(k, 2, count));
    return { store, a, b: join(dir, 'stage2-000000020.ckpt') };
  };

  const cleanDir = join(tmp.path, 'clean');
  const clean = await (async () => {
    const { store, b } = await setUp(cleanDir);
    return withFault(0, 'ok', () => checkpoint(store, b));
  })();
  assert.equal(clean.error, undefined);
  const total = clean.steps.length;
  // Per encoder: a write and a rename (flush), then a flush to disk; then the checkpoint file.
  assert.ok(total >= 3 * K + 3, `steps seen: ${clean.steps.join(', ')}`);

  let trials = 0;
  for (let n = 1; n <= total; n++) {
    for (const answer of answersFor(clean.steps[n - 1]!)) {
      const dir = join(tmp.path, `trial-${trials}`);
      const { store, a, b } = await setUp(dir);
      const what = `step ${n} of ${total} (${clean.steps[n - 1]}) answered ${JSON.stringify(answer)}`;
      const { error } = await withFault(n, answer, () => checkpoint(store, b));
      trials++;
      assert.ok(error !== undefined, `${what}: the fault was not reported`);
      assertPlain(error, what);
      assert.ok(!existsSync(b), `${what}: the failed checkpoint exists`);
      // Resume as the worker does: open the encoders and restore checkpoint A's versions.
      const { array } = unpackContainer(readFileSync(a));
      const resumed = await EncoderStore.open(join(dir, 'encoders'), arch, K);
      await resumed.restore(array<Uint32Array>('encoderVersions'));
      for (let k = 0; k < K; k++) {
        const got = await resumed.load(k);
        const want = encoderState(k, 1, count);
        assert.equal(got.t, 1, `${what}: encoder ${k} is not at checkpoint A`);
        assert.deepEqual([got.params, got.m, got.v], [want.params, want.m, want.v], what);
      }
      assert.deepEqual(
        readdirSync(join(dir, 'encoders')).filter((f) => !/^enc-\d{6}\.v\d+\.bin$/.test(f)),
        [],
        `${what}: temporary files left among the encoders`,
      );
      rmSync(dir, { recursive: true });
    }
  }
  t.diagnostic(
    `${total} steps per stage-2 checkpoint (K = ${K}), ${trials} faulty checkpoints, each resumed from the previous one`,
  );
});
