import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UserError } from '../../../src-main/contract/errors';
import {
  ARTIFACT_KINDS,
  RELEASABLE_KINDS,
  getArtifact,
  listArtifacts,
  recordCheckpoint,
  registerArtifact,
} from '../../../src-main/store';
import { seed, tempStore } from './helpers';

const code = (c: string) => (err: unknown) => err instanceof UserError && err.code === c;

test('the kind decides the default visibility; a private kind can never be releasable', (t) => {
  const { store } = tempStore(t);
  const { run } = seed(store);
  for (const kind of ARTIFACT_KINDS) {
    const a = registerArtifact(store, { kind, runId: run.id, path: `runs/${run.id}/${kind}` });
    const releasable = (RELEASABLE_KINDS as readonly string[]).includes(kind);
    assert.equal(a.visibility, releasable ? 'releasable' : 'private', kind);
    if (!releasable) {
      assert.throws(
        () =>
          registerArtifact(store, {
            kind,
            runId: run.id,
            path: `runs/${run.id}/${kind}-2`,
            visibility: 'releasable',
          }),
        code('PRIVATE_ARTIFACT'),
        kind,
      );
    }
  }
  // A releasable kind may be kept private by choice.
  const kept = registerArtifact(store, {
    kind: 'samples',
    runId: run.id,
    path: 'runs/x/draft.npz',
    visibility: 'private',
  });
  assert.equal(kept.visibility, 'private');
  assert.equal(
    listArtifacts(store, { runId: run.id, visibility: 'releasable' }).length,
    RELEASABLE_KINDS.length,
  );
});

test('the schema itself refuses releasable private kinds and private-to-releasable changes', (t) => {
  const { store } = tempStore(t);
  const { run, dataset } = seed(store);
  const insert = store.db.prepare(
    `INSERT INTO artifacts (dataset_id, run_id, kind, visibility, path, created_at) VALUES (?, ?, ?, ?, ?, 'now')`,
  );
  assert.throws(
    () => insert.run(dataset.id, run.id, 'encoders', 'releasable', 'enc'),
    /CHECK constraint/,
  );
  assert.throws(
    () => insert.run(dataset.id, null, 'decoder', 'releasable', 'dec'),
    /CHECK constraint/,
  );
  const draft = registerArtifact(store, {
    kind: 'decoder',
    runId: run.id,
    path: 'runs/draft-decoder',
    visibility: 'private',
  });
  assert.throws(
    () =>
      store.db.prepare(`UPDATE artifacts SET visibility = 'releasable' WHERE id = ?`).run(draft.id),
    /never become releasable/,
  );
  assert.equal(getArtifact(store, draft.id).visibility, 'private');
});

test('releasable files may not overlap private data, nor private files releasable ones', (t) => {
  const { store } = tempStore(t);
  const { run, dataset } = seed(store);
  recordCheckpoint(store, {
    runId: run.id,
    stage: 'stage2',
    step: 10,
    path: 'runs/1/ckpt',
    bytes: 1,
  });
  registerArtifact(store, { kind: 'encoders', runId: run.id, path: 'runs/1/encoders' });
  for (const path of [
    dataset.filesDir,
    join(dataset.filesDir, 'train.bin'),
    join(store.home, 'datasets'),
    'runs/1/ckpt/decoder',
    'runs/1/encoders',
    'runs/1',
  ]) {
    assert.throws(
      () => registerArtifact(store, { kind: 'decoder', runId: run.id, path }),
      code('PRIVATE_ARTIFACT'),
      path,
    );
  }
  const decoder = registerArtifact(store, {
    kind: 'decoder',
    runId: run.id,
    path: 'runs/1/release/decoder',
  });
  assert.throws(
    () =>
      registerArtifact(store, {
        kind: 'thumbnails',
        datasetId: dataset.id,
        path: 'runs/1/release',
      }),
    /separate folders/,
  );
  assert.throws(
    () => registerArtifact(store, { kind: 'certificate', runId: run.id, path: decoder.path }),
    code('ALREADY_EXISTS'),
  );
  assert.throws(
    () => registerArtifact(store, { kind: 'decoder', path: 'x/y' }),
    code('INVALID_INPUT'),
  );
  assert.throws(
    () => registerArtifact(store, { kind: 'decoder', runId: run.id, path: '/tmp/elsewhere' }),
    code('INVALID_INPUT'),
  );
  assert.throws(
    () =>
      registerArtifact(store, {
        kind: 'weights' as 'decoder',
        runId: run.id,
        path: 'runs/1/release/w',
      }),
    code('INVALID_INPUT'),
  );
});
