import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkFeatureBytes } from '../../src-main/cli/commands/features';
import { loadBundledMnist, readNpz, writeNpz } from '../../src-main/data';
import { encodeNpy, type NpyArray } from '../../src-main/data/npy';
import { selectBackend } from '../../src-main/engine/backend';
import { disposeNet, featureCount } from '../../src-main/priors/network/feature-net';
import {
  DEFAULT_PRIOR,
  PRIOR_STATEMENT,
  writePrior,
  type PriorManifest,
} from '../../src-main/priors/prior-file';
import {
  DEFAULT_PRETRAIN,
  pretrainPrior,
  trainingRecord,
} from '../../src-main/priors/pretrain/pretrain';
import { runCliCaptured as dp2 } from '../support/run-cli';
import { tempDir } from '../support/temp';

const tmp = tempDir('dp2-features-');
const priorDir = join(tmp.path, 'prior');
const SPEC = { widths: [4, 4, 8], stemStride: 1 as const };
let manifest: PriorManifest;
let greyNpz: string;
let colourNpz: string;

/** A tiny prior (two steps of pre-training) in a temporary folder: fast, and real. */
async function makeTinyPrior(): Promise<PriorManifest> {
  const options = {
    ...DEFAULT_PRETRAIN,
    spec: SPEC,
    families: ['spectral', 'shader'] as const,
    seed: 1,
    imagesPerFamily: 32,
    steps: 2,
    batchSize: 8,
    warmupSteps: 1,
  };
  const result = await pretrainPrior({ ...options, families: [...options.families] });
  mkdirSync(priorDir, { recursive: true });
  const written = await writePrior(
    priorDir,
    DEFAULT_PRIOR,
    result.net,
    trainingRecord(options, result, 'test'),
  );
  disposeNet(result.net);
  return written;
}

before(async () => {
  await selectBackend();
  manifest = await makeTinyPrior();
  // 20 real MNIST digits, grey 28×28, with their labels and class names.
  const { train } = loadBundledMnist();
  const n = 20;
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) y[i] = BigInt(train.y[i] ?? 0);
  greyNpz = join(tmp.path, 'digits.npz');
  writeFileSync(
    greyNpz,
    writeNpz({
      x: { data: train.x.slice(0, n * 784), shape: [n, 28, 28] },
      y: { data: y },
      classes: { data: Array.from({ length: 10 }, (_, i) => String(i)) },
    }),
  );
  // 6 + 2 colour 32×32 images as floats in 0–1 under MedMNIST names, no labels.
  const colour = new Float32Array(6 * 32 * 32 * 3).map((_, i) => ((i * 37) % 256) / 255);
  colourNpz = join(tmp.path, 'colour.npz');
  writeFileSync(
    colourNpz,
    writeNpz({
      train_images: { data: colour, shape: [6, 32, 32, 3] },
      test_images: { data: colour.slice(0, 2 * 32 * 32 * 3), shape: [2, 32, 32, 3] },
    }),
  );
});

after(() => tmp.cleanup());

const env = (): Record<string, string> => ({ DP2_PRIORS_DIR: priorDir });

function readFeatures(path: string): ReturnType<typeof readNpz> {
  return readNpz(readFileSync(path), path);
}

test('features of grey 28×28 digits: N × D float32, labels and read-out copied', async () => {
  const out = join(tmp.path, 'digits-features.npz');
  const r = await dp2(['features', '--in', greyNpz, '--out', out], { env: env() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /20 images × 108 features/);
  assert.match(r.stderr, /weights verified/);
  const f = readFeatures(out);
  const dims = featureCount(SPEC, { layers: ['stage1', 'stage2'], grid: 3 });
  assert.equal(dims, 108);
  assert.deepEqual(f.features?.shape, [20, dims]);
  assert.equal(f.features?.dtype, '<f4');
  const values = f.features?.data as Float32Array;
  assert.ok(values.every(Number.isFinite));
  assert.ok(new Set(values).size > 100, 'features vary between images');
  assert.deepEqual(f.y?.data, readFeatures(greyNpz).y?.data);
  assert.equal((f.classes?.data as string[]).length, 10);
  assert.deepEqual(f.layers?.data, ['stage1', 'stage2']);
  assert.deepEqual([...(f.grid?.data as Int32Array)], [3]);
  assert.deepEqual(f.prior_sha256?.data, [manifest.weights.sha256]);

  // Deterministic: the same input gives the same bytes again.
  const again = join(tmp.path, 'digits-features-2.npz');
  const r2 = await dp2(['features', '--in', greyNpz, '--out', again], { env: env() });
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(readFeatures(again).features?.data, values);

  // One layer: fewer dimensions, the same numbers as that layer's columns of the full read-out.
  const one = join(tmp.path, 'digits-stage2.npz');
  const r3 = await dp2(['features', '--in', greyNpz, '--out', one, '--layer', 'stage2'], {
    env: env(),
  });
  assert.equal(r3.status, 0, r3.stderr);
  const s2 = readFeatures(one).features;
  assert.deepEqual(s2?.shape, [20, 72]);
  const s2v = s2?.data as Float32Array;
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 72; j++) {
      const full = values[i * 108 + 36 + j] as number;
      assert.ok(Math.abs((s2v[i * 72 + j] as number) - full) <= 1e-5 * (1 + Math.abs(full)));
    }
  }

  // A global average (--grid 1): one number per channel.
  const g1 = join(tmp.path, 'digits-grid1.npz');
  const r4 = await dp2(['features', '--in', greyNpz, '--out', g1, '--grid', '1'], { env: env() });
  assert.equal(r4.status, 0, r4.stderr);
  assert.deepEqual(readFeatures(g1).features?.shape, [20, 12]);
});

test('features of colour 32×32 floats under MedMNIST names, and of a .npy', async () => {
  const out = join(tmp.path, 'colour-features.npz');
  const r = await dp2(['features', '--in', colourNpz, '--out', out], { env: env() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /scaled to 0–255/, 'the importers’ warning is printed');
  assert.match(r.stderr, /the images are "train_images"; "test_images" is not used/);
  const f = readFeatures(out);
  assert.deepEqual(f.features?.shape, [6, 108]);
  assert.equal(f.y, undefined);

  const test = join(tmp.path, 'colour-test.npz');
  const rt = await dp2(['features', '--in', colourNpz, '--out', test, '--array', 'test_images'], {
    env: env(),
  });
  assert.equal(rt.status, 0, rt.stderr);
  assert.deepEqual(readFeatures(test).features?.shape, [2, 108]);

  const npy = join(tmp.path, 'digits.npy');
  writeFileSync(npy, encodeNpy(readFeatures(greyNpz).x as NpyArray));
  const fromNpy = join(tmp.path, 'npy-features.npz');
  const rn = await dp2(['features', '--in', npy, '--out', fromNpy], { env: env() });
  assert.equal(rn.status, 0, rn.stderr);
  assert.deepEqual(readFeatures(fromNpy).features?.shape, [20, 108]);
});

test('bad input: a plain error, exit 1, no output file', async () => {
  const text = join(tmp.path, 'notes.npz');
  writeFileSync(text, 'these are not images\n');
  const strings = join(tmp.path, 'strings.npz');
  writeFileSync(strings, writeNpz({ x: { data: ['a', 'b', 'c'] } }));
  const flat = join(tmp.path, 'flat.npz');
  writeFileSync(flat, writeNpz({ v: { data: new Float32Array(10) } }));
  const cases: [string, RegExp][] = [
    [text, /notes\.npz holds no images: it is not a NumPy \.npz or \.npy file/],
    [strings, /strings\.npz holds no images: .*holds text/],
    [flat, /flat\.npz holds no images: its arrays are v/],
    [join(tmp.path, 'absent.npz'), /There is no file .*absent\.npz/],
  ];
  for (const [input, message] of cases) {
    const out = join(tmp.path, 'never.npz');
    const r = await dp2(['features', '--in', input, '--out', out], { env: env() });
    assert.equal(r.status, 1, `${input}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /unexpected error/);
    assert.equal(existsSync(out), false);
  }
  // A grid finer than the deepest layer's maps (7×7 for 28 px) is bad usage.
  const r = await dp2(
    ['features', '--in', greyNpz, '--out', join(tmp.path, 'never.npz'), '--grid', '8'],
    { env: env() },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--grid 8 is finer than layer stage2's 7×7/);
});

test('altered weights: features and priors show refuse with the reinstall message', async () => {
  const altered = join(tmp.path, 'altered');
  mkdirSync(altered);
  for (const file of [manifest.weights.file, `${DEFAULT_PRIOR}.manifest.json`])
    copyFileSync(join(priorDir, file), join(altered, file));
  const weights = join(altered, manifest.weights.file);
  const bytes = readFileSync(weights);
  bytes[100] = (bytes[100] as number) ^ 0x01;
  writeFileSync(weights, bytes);
  const out = join(tmp.path, 'altered-features.npz');
  const r = await dp2(['features', '--in', greyNpz, '--out', out], {
    env: { DP2_PRIORS_DIR: altered },
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /do not match the SHA-256/);
  assert.match(r.stderr, /Reinstall DP² Studio/);
  assert.equal(existsSync(out), false);
  const show = await dp2(['priors', 'show'], { env: { DP2_PRIORS_DIR: altered } });
  assert.equal(show.status, 1);
  assert.match(show.stderr, /Reinstall DP² Studio/);
});

test('priors show: the statement, the network, the sha256, verified', async () => {
  const r = await dp2(['priors', 'show'], { env: env() });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(PRIOR_STATEMENT));
  assert.ok(r.stdout.includes(`sha256:         ${manifest.weights.sha256}`));
  assert.match(r.stdout, /the weights on disk match it/);
  assert.ok(r.stdout.includes(`widths 4, 4, 8 (stem stride 1), 1,288 parameters`));
  assert.equal(manifest.parameters, 1288);
  assert.match(r.stdout, /families: +spectral, shader/);
  assert.match(r.stdout, /loss: +first .*last/);
  const json = await dp2(['priors', 'show', '--json'], { env: env() });
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), manifest);

  const empty = join(tmp.path, 'no-prior');
  mkdirSync(empty);
  const missing = await dp2(['priors', 'show'], { env: { DP2_PRIORS_DIR: empty } });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /is missing: there is no .*manifest\.json\. Reinstall DP² Studio/);
  assert.equal(missing.stdout, '');
});

test('the output size is bounded before anything is computed', () => {
  const readout = { layers: ['stage1', 'stage2'], grid: 2 };
  assert.doesNotThrow(() => checkFeatureBytes(10, 48, readout, 10 * 48 * 4));
  assert.throws(
    () => checkFeatureBytes(10, 48, readout, 10 * 48 * 4 - 1),
    /would take 1\.9 KiB, more than DP² Studio writes at once .*one layer \(--layer stage1\), a coarser grid \(--grid 1\)/,
  );
});

test('dp2 features runs with the network blocked: nothing is fetched', () => {
  const preload = pathToFileURL(resolve(import.meta.dirname, '../fixtures/block-network.mjs')).href;
  const bin = resolve(import.meta.dirname, '../../bin/dp2.js');
  const run = (args: string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, ['--import', preload, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DP2_PRIORS_DIR: priorDir },
      timeout: 120_000,
    });
  // The block works: a TCP connection and a fetch from inside the process fail and are reported.
  const probe = run([
    '--input-type=module',
    '-e',
    'import net from "node:net"; try { net.connect(9, "127.0.0.1"); } catch {} await fetch("http://127.0.0.1:9/");',
  ]);
  assert.notEqual(probe.status, 0);
  assert.match(probe.stderr, /NETWORK ACCESS ATTEMPTED: net\.connect/);
  assert.match(probe.stderr, /NETWORK ACCESS ATTEMPTED: fetch/);

  const out = join(tmp.path, 'offline-features.npz');
  const r = run([bin, 'features', '--in', greyNpz, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /NETWORK ACCESS ATTEMPTED/);
  assert.deepEqual(readFeatures(out).features?.shape, [20, 108]);
});
