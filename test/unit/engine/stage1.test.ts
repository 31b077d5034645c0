import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadBundledMnist } from '../../../src-main/data/mnist';
import { defaultArchitecture } from '../../../src-main/engine/architecture';
import { selectBackend } from '../../../src-main/engine/backend';
import type { EngineImages } from '../../../src-main/engine/batches';
import { EncoderStore } from '../../../src-main/engine/encoder-store';
import { initFlat } from '../../../src-main/engine/params';
import { partitionRecords } from '../../../src-main/engine/partition';
import { stage1Seeds, trainStage1, type Stage1Options } from '../../../src-main/engine/stage1';

const arch = defaultArchitecture();
// 91 records in 3 blocks (31, 30, 30) with B = 64: every block is one whole
// batch and the two smaller blocks are padded (masked rows).
const N = 91;
const K = 3;
let data: EngineImages;
let root: string;
const partition = partitionRecords(N, K, 5);
const options: Stage1Options = { seed: 11, steps: 3, batchSize: 64, lr: 1e-3, clip: 1 };

before(async () => {
  await selectBackend();
  const m = loadBundledMnist().train;
  data = { x: m.x.subarray(0, N * 784), y: m.y.subarray(0, N), count: N, height: 28, width: 28 };
  root = await mkdtemp(join(tmpdir(), 'dp2-stage1-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function run(groupSize: number, name: string, signal?: AbortSignal): Promise<EncoderStore> {
  const store = await EncoderStore.open(join(root, name), arch, K);
  await trainStage1({ arch, data, partition, store, options: { ...options, groupSize }, signal });
  return store;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d =
      Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1e-3, Math.abs(a[i] as number));
    if (d > worst) worst = d;
  }
  return worst;
}

test('G blocks trained as one batched computation = each block trained alone (same seeds)', async () => {
  const together = await run(3, 'g3');
  const pairs = await run(2, 'g2');
  const alone = await run(1, 'g1');
  for (let k = 0; k < K; k++) {
    const a = (await alone.load(k)).params;
    const init = initFlat(arch, 'encoder', stage1Seeds(options.seed, k).encoder);
    assert.ok(maxRelDiff(a, init) > 1e-4, 'the encoder was trained');
    assert.ok(maxRelDiff((await together.load(k)).params, a) < 1e-5, `block ${k}, G = 3`);
    assert.ok(maxRelDiff((await pairs.load(k)).params, a) < 1e-5, `block ${k}, G = 2`);
  }
  assert.equal(tf.memory().numTensors, 0, 'no tensor is leaked');
});

test('a stopped stage 1 keeps finished groups and resumes with the missing blocks only', async () => {
  const dir = 'resumed';
  const ctrl = new AbortController();
  const store = await EncoderStore.open(join(root, dir), arch, K);
  const first = await trainStage1({
    arch,
    data,
    partition,
    store,
    options: { ...options, groupSize: 2 },
    signal: ctrl.signal,
    onProgress: (p) => {
      if (p.group === 1) ctrl.abort();
    },
  });
  assert.equal(first.aborted, true);
  assert.equal(first.trained, 2);
  const reopened = await EncoderStore.open(join(root, dir), arch, K);
  assert.deepEqual(reopened.missingBlocks(), [2]);
  const second = await trainStage1({
    arch,
    data,
    partition,
    store: reopened,
    options: { ...options, groupSize: 2 },
  });
  assert.deepEqual([second.trained, second.skipped, second.aborted], [1, 2, false]);
  const reference = await EncoderStore.open(join(root, 'g1'), arch, K);
  for (let k = 0; k < K; k++) {
    assert.ok(maxRelDiff((await reopened.load(k)).params, (await reference.load(k)).params) < 1e-5);
  }
});
