import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { convertChannels, pixelsToUint8, preprocessImage } from '../../../src-main/data/preprocess';
import { gray, rgb } from './helpers';

test('shrinking averages areas: 4×4 → 2×2 gives block means', () => {
  const img = gray(4, 4, (x, y) => (x < 2 ? (y < 2 ? 0 : 100) : y < 2 ? 200 : 40));
  assert.deepEqual([...preprocessImage(img, { size: 2, channels: 1 })], [0, 200, 100, 40]);
  // 3 → 2: each output covers 1.5 source pixels
  const row = gray(3, 3, (x) => [0, 90, 180][x] ?? 0);
  const out = preprocessImage(row, { size: 2, channels: 1 });
  assert.deepEqual([...out], [30, 150, 30, 150]);
});

test('enlarging is bilinear and keeps a constant image constant', () => {
  const flat = gray(5, 5, () => 77);
  assert.ok(preprocessImage(flat, { size: 28, channels: 1 }).every((v) => v === 77));
  const ramp = gray(2, 2, (x) => (x === 0 ? 0 : 100));
  assert.deepEqual(
    [...preprocessImage(ramp, { size: 4, channels: 1 })],
    [0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100],
  );
});

test('non-square images: shorter side resized, centre cropped', () => {
  // 6 wide × 2 high, columns 0..5; centre square is columns 2..3
  const wide = gray(6, 2, (x) => x * 10);
  assert.deepEqual([...preprocessImage(wide, { size: 2, channels: 1 })], [20, 30, 20, 30]);
  const tall = gray(2, 6, (_, y) => y * 10);
  assert.deepEqual([...preprocessImage(tall, { size: 1, channels: 1 })], [25]);
  // 56×28 → 28: no resampling, exact centre crop
  const big = gray(56, 28, (x, y) => (x + y) & 255);
  const out = preprocessImage(big, { size: 28, channels: 1 });
  assert.equal(out[0], 14);
  assert.equal(out[27 * 28 + 27], 14 + 27 + 27);
});

test('channels: RGB → gray by luma, gray → RGB by repetition', () => {
  const c = rgb(2, 1, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 255]));
  assert.deepEqual([...convertChannels(c, 1).data], [76, 29]);
  const g = gray(2, 1, (x) => x * 9);
  assert.deepEqual([...convertChannels(g, 3).data], [0, 0, 0, 9, 9, 9]);
  // 2×1 → 1×1: the centre square of a 2-wide image starts at column 0.
  assert.deepEqual([...preprocessImage(g, { size: 1, channels: 3 })], [0, 0, 0]);
  assert.deepEqual([...preprocessImage(c, { size: 1, channels: 3 })], [255, 0, 0]);
  const c2 = rgb(2, 2, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 255]));
  assert.deepEqual([...preprocessImage(c2, { size: 1, channels: 3 })], [128, 0, 128]);
  assert.deepEqual([...preprocessImage(c2, { size: 1, channels: 1 })], [53]);
});

test('pixel values: floats in [0, 1] scaled, 0–255 floats rounded, 12-bit scaled', () => {
  const unit = pixelsToUint8(Float32Array.from([0, 0.5, 1]), 'x');
  assert.deepEqual([...unit.data], [0, 128, 255]);
  assert.equal(unit.scaling.kind, 'unit-float');
  const binary = pixelsToUint8(Float64Array.from([0, 1, 1]), 'x');
  assert.deepEqual([...binary.data], [0, 255, 255]);
  const wide = pixelsToUint8(Float64Array.from([0, 12.4, 255]), 'x');
  assert.deepEqual([...wide.data], [0, 12, 255]);
  assert.equal(wide.scaling.kind, 'rounded-float');
  const twelve = pixelsToUint8(Uint16Array.from([0, 4095, 2048]), 'x');
  assert.deepEqual(twelve.scaling, { kind: 'bits', bits: 12 });
  assert.deepEqual([...twelve.data], [0, 255, 128]);
  const ints = pixelsToUint8(BigInt64Array.from([0n, 7n, 255n]), 'x');
  assert.deepEqual([...ints.data], [0, 7, 255]);
});

test('pixel values: NaN and out-of-range values are errors naming the array', () => {
  for (const bad of [
    Float32Array.from([0, NaN]),
    Float64Array.from([0, 300]),
    Float32Array.from([-0.5, 1]),
    Int32Array.from([70000]),
  ]) {
    assert.throws(
      () => pixelsToUint8(bad, 'scan.npz: x'),
      (e: unknown) =>
        e instanceof UserError && e.code === 'INVALID_INPUT' && e.message.includes('scan.npz: x'),
    );
  }
});

test('shrinking by a power of two (512 → 64, a CT slice) gives the rounded block means, grey and colour, centre-cropped', () => {
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) & 255;
  for (const channels of [1, 3] as const) {
    const width = 512 + 64;
    const height = 512;
    const img = {
      width,
      height,
      channels,
      data: new Uint8Array(width * height * channels).map(() => rand()),
    };
    for (const size of [64, 128, 256]) {
      const out = preprocessImage(img, { size, channels });
      const k = 512 / size;
      for (const [ox, oy, ch] of [
        [0, 0, 0],
        [size - 1, 3, channels - 1],
        [size >> 1, size - 1, 0],
      ] as const) {
        let sum = 0;
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++)
            sum += img.data[((oy * k + dy) * width + 32 + ox * k + dx) * channels + ch]!;
        assert.equal(out[(oy * size + ox) * channels + ch], Math.round(sum / (k * k)));
      }
    }
  }
});
