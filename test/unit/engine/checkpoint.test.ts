import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { defaultArchitecture, parameterSpecs } from '../../../src-main/engine/architecture';
import {
  deserializeCheckpoint,
  serializeCheckpoint,
  writeCheckpointAtomic,
  type Stage2Checkpoint,
} from '../../../src-main/engine/checkpoint';
import { SeededRng } from '../../../src-main/engine/rng';
import { resolveStage2Options } from '../../../src-main/engine/stage2';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp2-ckpt-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(): Stage2Checkpoint {
  const arch = defaultArchitecture();
  const rng = SeededRng.fromSeed(3);
  const arrays = (): Float32Array[] =>
    parameterSpecs(arch, 'decoder').map((s) => {
      const a = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
      rng.fillNormal(a);
      return a;
    });
  const decoder = arrays();
  // Awkward values must survive bit for bit.
  decoder[0]!.set([-0, Number.NaN, Number.POSITIVE_INFINITY, 1.4e-45, -3.4028234e38], 0);
  return {
    kind: 'dp2vae-stage2',
    architecture: arch,
    options: resolveStage2Options({
      sigma: 1.2,
      clip: 1,
      batchSize: 64,
      lr: 1e-3,
      steps: 3000,
      blocks: 100,
      seed: 9,
      targetEpsilon: 10,
    }),
    partition: { count: 60000, blocks: 100, seed: 7, fingerprint: 'ab'.repeat(32) },
    step: 1234,
    samplerRng: SeededRng.fromSeed(77).state(),
    decoder,
    decoderOptimizer: { kind: 'adam', t: 1234, m: arrays(), v: arrays() },
    encoderVersions: Uint32Array.from({ length: 100 }, (_, i) => i % 3),
    meta: { run: 'r1', note: 'ε → δ' },
  };
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

test('checkpoint round trip is bit-exact and re-serialises to the same bytes', () => {
  const cp = sample();
  const bytes = serializeCheckpoint(cp);
  const back = deserializeCheckpoint(bytes);
  assert.equal(back.step, cp.step);
  assert.deepEqual(back.samplerRng, cp.samplerRng);
  assert.deepEqual(back.options, cp.options);
  assert.deepEqual(back.architecture, cp.architecture);
  assert.deepEqual(back.partition, cp.partition);
  assert.deepEqual(back.meta, cp.meta);
  assert.deepEqual(back.encoderVersions, cp.encoderVersions);
  assert.equal(back.decoderOptimizer.t, 1234);
  for (const [x, y] of [
    [back.decoder, cp.decoder],
    [back.decoderOptimizer.m, cp.decoderOptimizer.m],
    [back.decoderOptimizer.v, cp.decoderOptimizer.v],
  ] as const) {
    assert.equal(x.length, y.length);
    x.forEach((a, i) => assert.deepEqual(bits(a), bits(y[i]!)));
  }
  assert.deepEqual(serializeCheckpoint(back), bytes);
  // A resumed generator continues the same stream.
  const r1 = SeededRng.fromState(cp.samplerRng);
  const r2 = SeededRng.fromState(back.samplerRng);
  for (let i = 0; i < 10; i++) assert.equal(r1.nextUint32(), r2.nextUint32());
});

test('a damaged, truncated or foreign file is refused as CORRUPT_DATA', () => {
  const bytes = serializeCheckpoint(sample());
  const flipped = Uint8Array.from(bytes);
  flipped[flipped.length >> 1]! ^= 1;
  const isCorrupt = (e: unknown): boolean => e instanceof UserError && e.code === 'CORRUPT_DATA';
  assert.throws(() => deserializeCheckpoint(flipped), isCorrupt);
  assert.throws(() => deserializeCheckpoint(bytes.subarray(0, bytes.length - 100)), isCorrupt);
  assert.throws(
    () => deserializeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint at all')),
    isCorrupt,
  );
});

test('writeCheckpointAtomic replaces the file and leaves no temporary file', async () => {
  const path = join(dir, 'run.ckpt');
  await writeFile(path, 'old');
  const bytes = serializeCheckpoint(sample());
  await writeCheckpointAtomic(path, bytes);
  assert.deepEqual(new Uint8Array(await readFile(path)), bytes);
  assert.deepEqual(await readdir(dir), ['run.ckpt']);
});
