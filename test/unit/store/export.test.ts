import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import { createRun, exportRun, recordCheckpoint, registerArtifact } from '../../../src-main/store';
import type { ExportInclude, Store } from '../../../src-main/store';
import { seed, tempHome, tempStore, writeFile } from './helpers';

function setUp(t: TestContext) {
  const { store } = tempStore(t);
  const { dataset, run } = seed(store);
  const h = store.home;
  const rel = join(h, 'runs', String(run.id), 'release');
  writeFile(join(rel, 'decoder', 'model.json'), '{"layers":3}');
  writeFile(join(rel, 'decoder', 'weights.bin'), Buffer.alloc(3 << 20, 7)); // spans several copy chunks
  const decoder = registerArtifact(store, {
    kind: 'decoder',
    runId: run.id,
    path: join(rel, 'decoder'),
  });
  const cert = registerArtifact(store, {
    kind: 'certificate',
    runId: run.id,
    path: writeFile(join(rel, 'certificate.json'), '{"epsilon":3}'),
  });
  const npz = registerArtifact(store, {
    kind: 'samples',
    runId: run.id,
    path: writeFile(join(rel, 'samples.npz'), 'NPZ'),
  });
  writeFile(join(rel, 'samples', 'normal', '000001.png'), 'png-1');
  writeFile(join(rel, 'samples', 'pneumonia', '000001.png'), 'png-2');
  const pngs = registerArtifact(store, {
    kind: 'samples',
    runId: run.id,
    path: join(rel, 'samples'),
  });
  const priv = join(h, 'runs', String(run.id), 'private');
  const encoders = registerArtifact(store, {
    kind: 'encoders',
    runId: run.id,
    path: writeFile(join(priv, 'encoders.bin'), 'ENC'),
  });
  const ckpt = writeFile(join(priv, 'ckpt-10.bin'), 'CKPT');
  recordCheckpoint(store, { runId: run.id, stage: 'stage2', step: 10, path: ckpt, bytes: 4 });
  const out = join(tempHome(t), 'export', 'release-1');
  return { store, dataset, run, rel, decoder, cert, npz, pngs, encoders, ckpt, out };
}

/** Nothing half-written: neither the folder nor a temporary sibling. */
function assertAbsent(out: string) {
  assert.ok(!existsSync(out), 'no export folder');
  const parent = dirname(out);
  const left = existsSync(parent)
    ? readdirSync(parent).filter((n) => n.startsWith(`${basename(out)}.partial-`))
    : [];
  assert.deepEqual(left, [], 'no temporary folder left');
}

async function refused(
  store: Store,
  runId: number,
  out: string,
  include: unknown,
  code = 'PRIVATE_ARTIFACT',
) {
  await assert.rejects(
    exportRun({ store, runId, outDir: out, include: include as ExportInclude }),
    (err: unknown) => err instanceof UserError && err.code === code,
    JSON.stringify(include),
  );
  assertAbsent(out);
}

test('an export holds exactly the chosen releasable artifacts, copied as they are', async (t) => {
  const s = setUp(t);
  const result = await exportRun({
    store: s.store,
    runId: s.run.id,
    outDir: s.out,
    include: { decoder: true, certificate: true, samplesNpz: true },
  });
  assert.deepEqual(readdirSync(s.out).sort(), ['certificate.json', 'decoder', 'samples.npz']);
  assert.deepEqual(
    readFileSync(join(s.out, 'decoder', 'weights.bin')),
    readFileSync(join(s.rel, 'decoder', 'weights.bin')),
  );
  assert.equal(readFileSync(join(s.out, 'certificate.json'), 'utf8'), '{"epsilon":3}');
  assert.deepEqual(
    result.files.map((f) => f.name),
    ['decoder', 'certificate.json', 'samples.npz'],
  );
  assertAbsent(`${s.out}-never`);
  assert.deepEqual(readdirSync(dirname(s.out)), ['release-1']);
});

test('with no include, every releasable artifact goes; an empty existing folder is fine', async (t) => {
  const s = setUp(t);
  mkdirSync(s.out, { recursive: true });
  await exportRun({ store: s.store, runId: s.run.id, outDir: s.out });
  assert.deepEqual(readdirSync(s.out).sort(), [
    'certificate.json',
    'decoder',
    'samples',
    'samples.npz',
  ]);
  assert.equal(readFileSync(join(s.out, 'samples', 'pneumonia', '000001.png'), 'utf8'), 'png-2');
  assert.ok(!existsSync(join(s.out, 'encoders.bin')));
});

test('a non-empty export folder is refused and left alone', async (t) => {
  const s = setUp(t);
  writeFile(join(s.out, 'notes.txt'), 'mine');
  await assert.rejects(
    exportRun({ store: s.store, runId: s.run.id, outDir: s.out }),
    (e) => e instanceof UserError && e.code === 'ALREADY_EXISTS',
  );
  assert.deepEqual(readdirSync(s.out), ['notes.txt']);
  await assert.rejects(
    exportRun({ store: s.store, runId: s.run.id, outDir: join(s.out, 'notes.txt') }),
    (e) => e instanceof UserError && e.code === 'ALREADY_EXISTS',
  );
});

test('a missing artifact file leaves no export and no temporary folder', async (t) => {
  const s = setUp(t);
  execFileSync('rm', ['-r', join(s.rel, 'samples.npz')]);
  await refused(s.store, s.run.id, s.out, { decoder: true, samplesNpz: true }, 'NOT_FOUND');
});

test('a failure half-way through the copy leaves no export and no temporary folder', async (t) => {
  const s = setUp(t);
  // A FIFO inside the PNG folder: found only while copying, after the decoder was copied.
  execFileSync('mkfifo', [join(s.rel, 'samples', 'pneumonia', 'zzz.png')]);
  await refused(s.store, s.run.id, s.out, { decoder: true, samplesPng: true }, 'INVALID_INPUT');
  // A file vanishing while copying is the same.
  writeFileSync(join(s.rel, 'samples', 'pneumonia', 'zzz.png.keep'), '');
});

test('private artifacts are refused however they are asked for', async (t) => {
  const s = setUp(t);
  const { store, run, out } = s;
  for (const include of [
    { encoders: true },
    { stage1Model: true },
    { checkpoints: true },
    { datasetArrays: true },
    { reconstructions: true },
    { thumbnails: true },
    { metrics: true },
    { decoder: true, encoders: false },
  ]) {
    await refused(store, run.id, out, include);
  }
  await refused(store, run.id, out, { artifactIds: [s.encoders.id] });
  await refused(store, run.id, out, { decoder: true, artifactIds: [s.encoders.id] });
  const draft = registerArtifact(store, {
    kind: 'samples',
    runId: run.id,
    path: writeFile(join(store.home, 'drafts', 'd.npz'), 'D'),
    visibility: 'private',
  });
  await refused(store, run.id, out, { artifactIds: [draft.id] });
  await refused(store, run.id, out, { unknownThing: true }, 'INVALID_INPUT');
  await refused(store, run.id, out, {}, 'INVALID_INPUT');
  await refused(store, run.id, out, { decoder: 'yes' }, 'INVALID_INPUT');
  // Another run's release is not this run's.
  const other = createRun(store, {
    datasetId: s.dataset.id,
    method: 'dpsgd',
    hyperparameters: {},
    architecture: {},
    delta: 1e-5,
  });
  await refused(store, other.id, out, { artifactIds: [s.decoder.id] }, 'INVALID_INPUT');
  await refused(store, other.id, out, { decoder: true }, 'NOT_FOUND');
});

test('rows that bypass registration and point at private data are refused at export', async (t) => {
  const s = setUp(t);
  const { store, run, out } = s;
  const sneak = (kind: string, path: string) =>
    Number(
      store.db
        .prepare(
          `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, created_at) VALUES (?, ?, ?, 'releasable', ?, 'now')`,
        )
        .run(s.dataset.id, run.id, kind, path).lastInsertRowid,
    );
  const arrays = sneak('samples', 'datasets/Chest_X_rays/train.bin');
  await refused(store, run.id, out, { artifactIds: [arrays] });
  await refused(store, run.id, out, { samplesPng: true });
  store.db.prepare('DELETE FROM artifacts WHERE id = ?').run(arrays);

  const whole = sneak('decoder', 'datasets');
  await refused(store, run.id, out, { artifactIds: [whole] });
  store.db.prepare('DELETE FROM artifacts WHERE id = ?').run(whole);

  const ckpt = sneak('grid', `runs/${run.id}/private/ckpt-10.bin`);
  await refused(store, run.id, out, { grids: true });
  store.db.prepare('DELETE FROM artifacts WHERE id = ?').run(ckpt);

  const escape = sneak('grid', '../../etc/passwd');
  await assert.rejects(
    exportRun({ store, runId: run.id, outDir: out, include: { grids: true } }),
    UserError,
  );
  assertAbsent(out);
  store.db.prepare('DELETE FROM artifacts WHERE id = ?').run(escape);

  // After the clean-up the same run exports fine.
  await exportRun({ store, runId: run.id, outDir: out, include: { certificate: true } });
});

test('symbolic links and hard links never carry private files out', async (t) => {
  const s = setUp(t);
  const { store, run, out, rel } = s;
  const arrays = join(s.dataset.filesDir, 'train.bin');

  // A link inside a releasable folder pointing at a private file.
  const link = join(rel, 'samples', 'normal', '000002.png');
  symlinkSync(arrays, link);
  await refused(store, run.id, out, { samplesPng: true });
  execFileSync('rm', [link]);
  // A link to a harmless file is refused too: links are never followed.
  symlinkSync(join(rel, 'certificate.json'), link);
  await refused(store, run.id, out, { samplesPng: true });
  execFileSync('rm', [link]);

  // The artifact path itself is a link.
  const linked = join(store.home, 'runs', 'linked.npz');
  symlinkSync(arrays, linked);
  const a = registerArtifact(store, { kind: 'samples', runId: run.id, path: linked });
  await refused(store, run.id, out, { artifactIds: [a.id] });

  // A folder on the way is a link to the private folder.
  symlinkSync(join(store.home, 'runs', String(run.id), 'private'), join(store.home, 'alias'));
  const b = registerArtifact(store, {
    kind: 'decoder',
    runId: run.id,
    path: join(store.home, 'alias', 'encoders.bin'),
  });
  await refused(store, run.id, out, { artifactIds: [b.id] });

  // A hard link to the data set arrays inside a releasable folder.
  linkSync(arrays, join(rel, 'samples', 'normal', '000003.png'));
  await refused(store, run.id, out, { samplesPng: true });
  execFileSync('rm', [join(rel, 'samples', 'normal', '000003.png')]);

  await exportRun({ store, runId: run.id, outDir: out, include: { samplesPng: true } });
  assert.deepEqual(readdirSync(join(out, 'samples', 'normal')), ['000001.png']);
});

test('the export folder may not be inside data the store keeps', async (t) => {
  const s = setUp(t);
  await refused(
    s.store,
    s.run.id,
    join(s.dataset.filesDir, 'out'),
    { decoder: true },
    'INVALID_INPUT',
  );
  await refused(
    s.store,
    s.run.id,
    join(s.rel, 'decoder', 'out'),
    { decoder: true },
    'INVALID_INPUT',
  );
  await refused(s.store, 999, s.out, { decoder: true }, 'NOT_FOUND');
});
