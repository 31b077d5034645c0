/**
 * Nothing computed from the private images without noise leaves the machine
 * (docs/privacy.md). A small two-class data set with distinctive counts is
 * imported, trained with DP-SGD and released through
 * every way out (`dp2 train --out`, `dp2 generate`, `dp2 export` with the
 * PNG folder); every byte of every file written is scanned for the data
 * set's fingerprints (hex, raw SHA-256, the short form older screens showed),
 * its sizes (train, test, per class) and per-class mean pixel values. A
 * certificate written by an older version (with `dataset_fingerprint`) is
 * re-issued without it by `dp2 export`, which says so once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDatasetFiles, writeNpz } from '../../../src-main/data';
import { closeStore, getDataset, listArtifacts, openStore } from '../../../src-main/store';
import { runCliCaptured as dp2 } from '../../support/run-cli';
import { tempDir } from '../../support/temp';

/**
 * Counts no public number of the release shares (model widths, steps, the
 * class count): per class, training and held-out images, as the source's own
 * split so that every count is known.
 */
const CLASSES = { normal: { train: 53, test: 17 }, effusion: { train: 41, test: 13 } } as const;

/** A Keras-layout `.npz` (x_train, y_train, x_test, y_test, classes) of two classes. */
function makeNpz(root: string): string {
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  const part = (which: 'train' | 'test') => {
    const n = Object.values(CLASSES).reduce((k, c) => k + c[which], 0);
    const x = new Uint8Array(n * 784);
    const y = new BigInt64Array(n);
    let i = 0;
    Object.values(CLASSES).forEach((c, label) => {
      for (let j = 0; j < c[which]; j++, i++) {
        y[i] = BigInt(label);
        const bright = label === 0 ? 60 : 170;
        for (let p = 0; p < 784; p++)
          x[i * 784 + p] = Math.min(255, bright + Math.floor(rand() * 80));
      }
    });
    return { x: { data: x, shape: [n, 28, 28] }, y: { data: y } };
  };
  const train = part('train');
  const held = part('test');
  const file = join(root, 'ward.npz');
  writeFileSync(
    file,
    writeNpz({
      x_train: train.x,
      y_train: train.y,
      x_test: held.x,
      y_test: held.y,
      classes: { data: Object.keys(CLASSES) },
    }),
  );
  return file;
}

function filesUnder(path: string): string[] {
  if (statSync(path).isDirectory())
    return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
  return [path];
}

function float32Bytes(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b;
}
function float64Bytes(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b;
}

/** Every number in a JSON value, and every digit run in its strings (time stamps and random ids aside). */
function numbersIn(value: unknown, out: number[] = []): number[] {
  if (typeof value === 'number') out.push(value);
  else if (typeof value === 'string') {
    // A time stamp's digits are the clock's, not the data's.
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return out;
    // Nor are a random identifier's (the data set's id, made at import).
    if (/^[0-9a-f]{32}$/.test(value)) return out;
    for (const m of value.match(/\d+/g) ?? []) out.push(Number(m));
  } else if (Array.isArray(value)) for (const v of value) numbersIn(v, out);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value)) numbersIn(v, out);
  return out;
}

test(
  'every released file is free of fingerprints, counts and class means of the private data',
  { timeout: 400_000 },
  async () => {
    const tmp = tempDir();
    const home = join(tmp.path, 'home');
    const env = { DP2_HOME: home };
    const imported = await dp2(['import', makeNpz(tmp.path), '--name', 'ward'], { env });
    assert.equal(imported.status, 0, imported.stderr);

    const release = join(tmp.path, 'release');
    const trained = await dp2(
      [
        'train',
        '--dataset',
        'ward',
        '--method',
        'dpsgd',
        '--epsilon',
        '5',
        '--batch',
        '24',
        '--steps',
        '12',
        '--seed',
        '3',
        '--out',
        release,
        '--json',
      ],
      { env },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const runId = (JSON.parse(trained.stdout) as { runId: number }).runId;
    const generated = join(tmp.path, 'generated', 'samples.npz');
    const gen = await dp2(
      ['generate', '--run', String(runId), '--per-class', '5', '--out', generated],
      { env },
    );
    assert.equal(gen.status, 0, gen.stderr);
    const exportDir = join(tmp.path, 'export');
    const exported = await dp2(
      ['export', '--run', String(runId), '--out', exportDir, '--samples-png', '--per-class', '6'],
      { env },
    );
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(exported.stderr, '', 'a current certificate needs no re-issue notice');
    const shown = await dp2(['datasets', 'show', 'ward', '--json'], { env });
    const json = await dp2(['datasets', 'list', '--json'], { env });

    // What must not leave: computed from the private images without noise.
    const store = openStore({ path: join(home, 'dp2.sqlite'), home });
    const ds = getDataset(store, 'ward');
    const certPath = listArtifacts(store, { runId, kind: 'certificate' })[0]!.path;
    closeStore(store);
    const { train, test: held, header } = await readDatasetFiles(ds.filesDir);
    const fingerprints = [header.fingerprint, header.train.fingerprint, header.test.fingerprint];
    assert.equal(ds.fingerprint, header.fingerprint);
    const perClass = header.classes.map((_, c) => {
      let n = 0;
      let sum = 0;
      for (let i = 0; i < train.count; i++) {
        if (train.y[i] !== c) continue;
        n++;
        for (let p = 0; p < 784; p++) sum += train.x[i * 784 + p] as number;
      }
      return { n, mean: sum / (n * 784), meanUnit: sum / (n * 784 * 255) };
    });
    const counts = [
      train.count,
      held.count,
      train.count + held.count,
      ...perClass.map((c) => c.n),
      ...Object.values(CLASSES).flatMap((c) => [c.train, c.test]),
    ];
    assert.deepEqual(
      perClass.map((c) => c.n),
      [53, 41],
    );
    const needles: { what: string; bytes: Buffer }[] = [
      ...fingerprints.flatMap((f) => [
        { what: `fingerprint ${f}`, bytes: Buffer.from(f, 'utf8') },
        { what: `fingerprint ${f} (upper case)`, bytes: Buffer.from(f.toUpperCase(), 'utf8') },
        { what: `fingerprint ${f} (short form)`, bytes: Buffer.from(f.slice(0, 12), 'utf8') },
        { what: `fingerprint ${f} (raw bytes)`, bytes: Buffer.from(f, 'hex') },
        {
          what: `fingerprint ${f} (base64)`,
          bytes: Buffer.from(Buffer.from(f, 'hex').toString('base64').slice(0, 24), 'utf8'),
        },
      ]),
      ...perClass.flatMap((c, i) => [
        { what: `class ${i} mean (float32)`, bytes: float32Bytes(c.mean) },
        { what: `class ${i} mean (float64)`, bytes: float64Bytes(c.mean) },
        { what: `class ${i} mean in [0,1] (float32)`, bytes: float32Bytes(c.meanUnit) },
        { what: `class ${i} mean in [0,1] (float64)`, bytes: float64Bytes(c.meanUnit) },
      ]),
    ];
    // The data set's SHA-256 over its raw arrays, too, in case a writer hashed them itself.
    const rawHash = createHash('sha256').update(train.x).digest('hex');
    needles.push({ what: 'sha256 of the train pixels', bytes: Buffer.from(rawHash, 'utf8') });

    const files = [release, join(tmp.path, 'generated'), exportDir].flatMap(filesUnder);
    assert.ok(files.length >= 8, files.join('\n'));
    assert.ok(
      files.some((f) => f.endsWith('.png') && f.includes(join('export', 'png'))),
      files.join('\n'),
    );
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const n of needles)
        assert.ok(!bytes.includes(n.bytes), `${file} contains the ${n.what}`);
      if (file.endsWith('.json')) {
        const found = numbersIn(JSON.parse(bytes.toString('utf8')));
        for (const c of counts)
          assert.ok(!found.includes(c), `${file} states ${c}, a count of the private data`);
      }
    }
    const cert = JSON.parse(readFileSync(join(exportDir, 'certificate.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(cert.dataset_id, ds.publicId);
    assert.match(String(cert.dataset_id), /^[0-9a-f]{32}$/);
    assert.ok(
      (cert.public as string[]).some((p) => /number of training images N/.test(p)),
      'N is stated as treated public',
    );
    // The command line's JSON about the data set names it the same way, never by its hash.
    for (const out of [shown.stdout, json.stdout]) {
      for (const f of fingerprints) assert.ok(!out.includes(f), 'no fingerprint in --json');
      assert.ok(out.includes(ds.publicId));
    }

    // A certificate made by an older version: re-issued by export, said once.
    const old = { ...cert, dataset_fingerprint: ds.fingerprint } as Record<string, unknown>;
    delete old.dataset_id;
    delete old.public;
    writeFileSync(certPath, JSON.stringify(old));
    const again = join(tmp.path, 'export-again');
    const re = await dp2(['export', '--run', String(runId), '--out', again], { env });
    assert.equal(re.status, 0, re.stderr);
    assert.match(re.stderr, /re-issued without it/);
    const reissued = readFileSync(join(again, 'certificate.json'), 'utf8');
    for (const f of fingerprints) assert.ok(!reissued.includes(f), 'the re-issued certificate');
    const parsed = JSON.parse(reissued) as Record<string, unknown>;
    assert.equal(parsed.dataset_id, ds.publicId);
    assert.equal(parsed.epsilon, cert.epsilon, 'the same guarantee, recomputed');
    assert.equal(parsed.created, cert.created);
    assert.ok(!readFileSync(certPath, 'utf8').includes(ds.fingerprint), 'fixed in place');
    const third = await dp2(['export', '--run', String(runId), '--out', join(tmp.path, 'e3')], {
      env,
    });
    assert.equal(third.status, 0, third.stderr);
    assert.equal(third.stderr, '', 'said once');
    tmp.cleanup();
  },
);
