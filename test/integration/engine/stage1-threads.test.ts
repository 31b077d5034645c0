/**
 * Stage 1 of DP²-VAE on several threads (engine/stage1-threads.ts, issue 24):
 * its groups of blocks are shared out over worker threads, and every block's
 * encoder is the one a single thread trains (same seeds, same records, the
 * same code), written once to the store by the calling thread. Progress
 * counts every block-step once; a stop keeps the finished groups.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { selectBackend } from '../../../src-main/engine/backend';
import type { EngineImages } from '../../../src-main/engine/batches';
import { EncoderStore } from '../../../src-main/engine/encoder-store';
import { partitionRecords } from '../../../src-main/engine/partition';
import { trainStage1, type Stage1Options } from '../../../src-main/engine/stage1';
import { firstDigits, SMALL_ARCH } from '../../support/small-model';

const arch = SMALL_ARCH;
const N = 120;
const K = 5;
let data: EngineImages;
let root: string;
const partition = partitionRecords(N, K, 7);
const options: Stage1Options = {
  seed: 3,
  steps: 4,
  batchSize: 16,
  lr: 1e-3,
  clip: 1,
  groupSize: 1,
};

before(async () => {
  await selectBackend({ env: { DP2_BACKEND: 'wasm' } });
  data = firstDigits(N);
  root = await mkdtemp(join(tmpdir(), 'dp2-stage1-threads-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('two threads train every block to the encoder one thread trains, and count each step once', async () => {
  const stores: EncoderStore[] = [];
  const blockSteps: number[] = [];
  for (const threads of [1, 2]) {
    const store = await EncoderStore.open(join(root, `t${threads}`), arch, K);
    let last = 0;
    const result = await trainStage1({
      arch,
      data,
      partition,
      store,
      options,
      threads,
      onProgress: (p) => {
        assert.ok(p.blockSteps > last, 'progress only moves forward');
        last = p.blockSteps;
      },
    });
    assert.deepEqual([result.trained, result.skipped, result.aborted], [K, 0, false]);
    assert.equal(result.threads, threads, 'every thread trained a share');
    assert.deepEqual(store.missingBlocks(), []);
    stores.push(store);
    blockSteps.push(last);
  }
  assert.deepEqual(blockSteps, [K * 4, K * 4]);
  for (let k = 0; k < K; k++) {
    const [one, two] = await Promise.all(stores.map((s) => s.load(k)));
    assert.deepEqual(two?.params, one?.params, `block ${k}`);
  }
});

test('a stop on two threads keeps the finished groups; a second call trains the rest', async () => {
  const dir = join(root, 'stopped');
  const ctrl = new AbortController();
  const store = await EncoderStore.open(dir, arch, K);
  const first = await trainStage1({
    arch,
    data,
    partition,
    store,
    options,
    threads: 2,
    signal: ctrl.signal,
    onProgress: (p) => {
      if (p.blockSteps >= 2 * 4) ctrl.abort();
    },
  });
  assert.equal(first.aborted, true);
  assert.ok(first.trained >= 1 && first.trained < K, `trained ${first.trained}`);
  const reopened = await EncoderStore.open(dir, arch, K);
  assert.equal(reopened.missingBlocks().length, K - first.trained);
  const second = await trainStage1({ arch, data, partition, store: reopened, options, threads: 2 });
  assert.deepEqual([second.trained, second.aborted], [K - first.trained, false]);
  const reference = await EncoderStore.open(join(root, 't1'), arch, K);
  for (let k = 0; k < K; k++) {
    assert.deepEqual((await reopened.load(k)).params, (await reference.load(k)).params);
  }
});
