import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../../src-main/contract/errors';
import { SeededRng } from '../../../src-main/engine/rng';
import {
  generateFamily,
  PRIOR_FAMILIES,
  type GenerateFamilyOptions,
} from '../../../src-main/priors/families';
import { fft2d } from '../../../src-main/priors/families/common';
import { renderDeadLeaves } from '../../../src-main/priors/families/dead-leaves';
import { drawIfs, type AffineMap } from '../../../src-main/priors/families/ifs';
import {
  drawSpectralParams,
  renderSpectral,
  spectralField,
} from '../../../src-main/priors/families/spectral';

const base = { seed: 5, count: 3, size: 32, channels: 3 } as const;

/** One image of a batch. */
function image(x: Uint8Array, n: number, bytes: number): Uint8Array {
  return x.subarray(n * bytes, (n + 1) * bytes);
}

function std(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i] as number;
  m /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += ((x[i] as number) - m) ** 2;
  return Math.sqrt(v / x.length);
}

test('every family is deterministic from its seed, and seeds and indices differ', () => {
  for (const family of PRIOR_FAMILIES) {
    const a = generateFamily({ family, ...base });
    const b = generateFamily({ family, ...base });
    assert.deepEqual(a.x, b.x, family);
    const other = generateFamily({ family, ...base, seed: 6 });
    assert.notDeepEqual(a.x, other.x, `${family}: seeds 5 and 6 gave the same images`);
    const bytes = 32 * 32 * 3;
    assert.notDeepEqual(image(a.x, 0, bytes), image(a.x, 1, bytes), `${family}: images 0 and 1`);
    // Image i is the same whatever chunk it was made in.
    const tail = generateFamily({ family, ...base, count: 2, start: 1 });
    assert.deepEqual(tail.x, a.x.subarray(bytes), `${family}: start = 1`);
  }
});

test('every family makes 28, 32, 64 and 128 pixels (and odd sizes), grey and colour', () => {
  for (const family of PRIOR_FAMILIES) {
    for (const size of [28, 32, 64, 100, 128]) {
      for (const channels of [1, 3]) {
        const count = size === 128 ? 1 : 2;
        const out = generateFamily({ family, seed: 1, count, size, channels });
        assert.equal(out.x.length, count * size * size * channels, `${family} ${size} ${channels}`);
        assert.deepEqual(
          [out.count, out.height, out.width, out.channels, out.family],
          [count, size, size, channels, family],
        );
        // Not a blank image: some contrast in every one.
        assert.ok(std(image(out.x, 0, size * size * channels)) > 5, `${family} ${size} is flat`);
      }
    }
  }
});

test('a grey image is the luminance of the colour image with the same seed', () => {
  for (const family of PRIOR_FAMILIES) {
    const rgb = generateFamily({ family, ...base, channels: 3 });
    const grey = generateFamily({ family, ...base, channels: 1 });
    for (let i = 0; i < grey.x.length; i++) {
      const luma =
        0.299 * (rgb.x[3 * i] as number) +
        0.587 * (rgb.x[3 * i + 1] as number) +
        0.114 * (rgb.x[3 * i + 2] as number);
      assert.ok(Math.abs((grey.x[i] as number) - luma) <= 1, `${family} pixel ${i}`);
    }
  }
});

test('bad arguments are refused in plain words', () => {
  const ok: GenerateFamilyOptions = {
    family: 'spectral',
    seed: 0,
    count: 1,
    size: 28,
    channels: 1,
  };
  const cases: [Partial<Record<keyof GenerateFamilyOptions, unknown>>, RegExp][] = [
    [{ size: 27 }, /28 to 128 pixels on a side, not 27/],
    [{ size: 129 }, /28 to 128 pixels on a side, not 129/],
    [{ size: 64.5 }, /not 64\.5; choose a whole number/],
    [{ size: Number.NaN }, /not NaN/],
    [{ channels: 2 }, /1 channel \(grey\) or 3 \(colour\), not 2/],
    [{ channels: 4 }, /not 4/],
    [{ count: 0 }, /Asked for 0 procedural images; one call makes 1 to 10000/],
    [{ count: 10001 }, /Asked for 10001 .*in chunks/],
    [{ count: 2.5 }, /Asked for 2\.5/],
    [
      { family: 'plasma' },
      /no procedural image family called "plasma".*dead-leaves, spectral, ifs, shader/,
    ],
    [{ seed: -1 }, /seed .* is -1; give a whole number of 0 or more/],
    [{ seed: 0.5 }, /seed .* is 0\.5/],
    [{ start: -3 }, /first image index is -3/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(
      () => generateFamily({ ...ok, ...bad } as GenerateFamilyOptions),
      (err: unknown) =>
        err instanceof UserError && err.code === 'INVALID_INPUT' && message.test(err.message),
      JSON.stringify(bad),
    );
  }
  assert.equal(generateFamily(ok).x.length, 28 * 28);
});

/** Radially averaged power spectrum of an n×n field (n a power of two), by whole radius. */
function radialPower(field: ArrayLike<number>, n: number): Float64Array {
  const re = Float64Array.from(field);
  const im = new Float64Array(n * n);
  fft2d(re, im, n, false);
  const sum = new Float64Array(n / 2);
  const cnt = new Float64Array(n / 2);
  for (let ky = 0; ky < n; ky++) {
    for (let kx = 0; kx < n; kx++) {
      const fy = ky < n / 2 ? ky : ky - n;
      const fx = kx < n / 2 ? kx : kx - n;
      const r = Math.round(Math.hypot(fx, fy));
      if (r < 1 || r >= n / 2) continue;
      sum[r] =
        (sum[r] as number) + (re[ky * n + kx] as number) ** 2 + (im[ky * n + kx] as number) ** 2;
      cnt[r] = (cnt[r] as number) + 1;
    }
  }
  return sum.map((s, r) => (r === 0 ? 0 : s / (cnt[r] as number)));
}

/** Least-squares slope of log power against log frequency, radii 2 .. n/2 − 1. */
function spectralSlope(field: ArrayLike<number>, n: number): number {
  const p = radialPower(field, n);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let r = 2; r < n / 2; r++) {
    xs.push(Math.log(r));
    ys.push(Math.log(p[r] as number));
  }
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  return sxy / sxx;
}

test('spectral noise: the radially averaged power falls as f^−α, and anisotropy orients it', () => {
  for (let seed = 0; seed < 6; seed++) {
    const rng = SeededRng.fromSeed(seed);
    const params = drawSpectralParams(rng);
    const slope = spectralSlope(spectralField(rng, 64, params), 64);
    assert.ok(
      Math.abs(slope + params.alpha) < 0.35,
      `seed ${seed}: slope ${slope.toFixed(2)} for alpha ${params.alpha.toFixed(2)}`,
    );
  }
  // Aspect 4 at angle θ: power along the rotated u axis is aspect^α below the v axis.
  const n = 64;
  const angle = 0.6;
  const field = spectralField(SeededRng.fromSeed(9), n, { alpha: 3, angle, aspect: 4 });
  const re = Float64Array.from(field);
  const im = new Float64Array(n * n);
  fft2d(re, im, n, false);
  let along = 0;
  let across = 0;
  for (let ky = 0; ky < n; ky++) {
    for (let kx = 0; kx < n; kx++) {
      const fy = ky < n / 2 ? ky : ky - n;
      const fx = kx < n / 2 ? kx : kx - n;
      const r = Math.hypot(fx, fy);
      if (r < 2 || r > 16) continue;
      const cosU = Math.abs(fx * Math.cos(angle) + fy * Math.sin(angle)) / r;
      const power = (re[ky * n + kx] as number) ** 2 + (im[ky * n + kx] as number) ** 2;
      if (cosU > 0.97) along += power;
      else if (cosU < 0.24) across += power;
    }
  }
  assert.ok(
    across > 10 * along,
    `across ${across.toExponential(2)} along ${along.toExponential(2)}`,
  );
  // The coloured images keep a falling spectrum (the colour map bends it, so only roughly).
  const grey = generateFamily({ family: 'spectral', seed: 2, count: 8, size: 64, channels: 1 });
  let mean = 0;
  for (let k = 0; k < 8; k++) mean += spectralSlope(image(grey.x, k, 64 * 64), 64) / 8;
  assert.ok(mean < -1.5, `mean slope of the grey images ${mean.toFixed(2)}`);
});

/** Share of horizontally adjacent pixel pairs of an RGB float canvas with exactly equal colours. */
function equalNeighbours(canvas: Float32Array, size: number): number {
  let eq = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const i = (y * size + x) * 3;
      if (
        canvas[i] === canvas[i + 3] &&
        canvas[i + 1] === canvas[i + 4] &&
        canvas[i + 2] === canvas[i + 5]
      )
        eq++;
    }
  }
  return eq / (size * (size - 1));
}

test('dead leaves: large flat regions, and leaves hidden under others', () => {
  const size = 64;
  for (let seed = 0; seed < 6; seed++) {
    const canvas = new Float32Array(size * size * 3);
    const leaves = renderDeadLeaves(SeededRng.fromSeed(seed), size, canvas, { textured: false });
    const colours = new Set<string>();
    for (let i = 0; i < size * size; i++) {
      colours.add(`${canvas[3 * i]},${canvas[3 * i + 1]},${canvas[3 * i + 2]}`);
    }
    assert.ok(equalNeighbours(canvas, size) > 0.6, `seed ${seed}: not piecewise constant`);
    assert.ok(colours.size >= 5, `seed ${seed}: only ${colours.size} leaves show`);
    // Fewer leaves show than fell: the rest are wholly covered (occlusion).
    assert.ok(
      colours.size < leaves / 1.5,
      `seed ${seed}: ${colours.size} of ${leaves} leaves show`,
    );
    // The same check tells spectral noise apart: it has no flat regions.
    const noise = new Float32Array(size * size * 3);
    renderSpectral(SeededRng.fromSeed(seed), size, noise);
    assert.ok(equalNeighbours(noise, size) < 0.6, `seed ${seed}: spectral noise looks flat`);
  }
  // Textured leaves are not flat inside: many more colours than leaves showing.
  const canvas = new Float32Array(size * size * 3);
  renderDeadLeaves(SeededRng.fromSeed(1), size, canvas, { kind: 'discs', textured: true });
  assert.ok(equalNeighbours(canvas, size) < 0.3, 'texture missing');
});

/** Share of (lit pixel, map) pairs whose image under the map lands within a pixel of a lit pixel. */
function selfSimilarity(hits: Float32Array, maps: AffineMap[], size: number): number {
  let ok = 0;
  let total = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!hits[y * size + x]) continue;
      for (const m of maps) {
        const px = Math.floor(m.a * (x + 0.5) + m.b * (y + 0.5) + m.e);
        const py = Math.floor(m.c * (x + 0.5) + m.d * (y + 0.5) + m.f);
        total++;
        search: for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const X = px + dx;
            const Y = py + dy;
            if (X >= 0 && Y >= 0 && X < size && Y < size && hits[Y * size + X]) {
              ok++;
              break search;
            }
          }
        }
      }
    }
  }
  return ok / total;
}

test('IFS fractals: the point set is mapped into itself by its own maps, not by others', () => {
  const size = 64;
  for (let seed = 0; seed < 5; seed++) {
    const own = drawIfs(SeededRng.fromSeed(seed), size);
    const other = drawIfs(SeededRng.fromSeed(seed + 50), size);
    const lit = [...own.hits].filter((h) => h > 0).sort((a, b) => a - b);
    // Sparse: a minority of pixels lit. Dense: hits pile up on some of them
    // (points scattered at random would give p90/p10 ≈ 1.5).
    const share = lit.length / (size * size);
    assert.ok(share >= 0.04 && share <= 0.7, `seed ${seed}: ${lit.length} pixels lit`);
    const p10 = lit[Math.floor(lit.length * 0.1)] as number;
    const p90 = lit[Math.floor(lit.length * 0.9)] as number;
    assert.ok(p90 >= 5 * p10, `seed ${seed}: density is even (p10 ${p10}, p90 ${p90})`);
    assert.ok(selfSimilarity(own.hits, own.maps, size) > 0.95, `seed ${seed}: not self-similar`);
    assert.ok(selfSimilarity(own.hits, other.maps, size) < 0.8, `seed ${seed}: any maps fit`);
  }
});

test('shader patterns: smooth, and the same picture at every size', () => {
  const big = generateFamily({ family: 'shader', seed: 3, count: 6, size: 128, channels: 1 });
  const small = generateFamily({ family: 'shader', seed: 3, count: 6, size: 64, channels: 1 });
  const other = generateFamily({ family: 'shader', seed: 4, count: 6, size: 64, channels: 1 });
  let same = 0;
  let differ = 0;
  const steps: number[] = [];
  for (let n = 0; n < 6; n++) {
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const o = n * 128 * 128 + 2 * y * 128 + 2 * x;
        const avg =
          ((big.x[o] as number) +
            (big.x[o + 1] as number) +
            (big.x[o + 128] as number) +
            (big.x[o + 129] as number)) /
          4;
        same += Math.abs(avg - (small.x[n * 4096 + y * 64 + x] as number));
        differ += Math.abs(avg - (other.x[n * 4096 + y * 64 + x] as number));
      }
    }
    for (let i = n * 16384; i < (n + 1) * 16384; i++) {
      if (i % 128 !== 127) steps.push(Math.abs((big.x[i] as number) - (big.x[i + 1] as number)));
    }
  }
  same /= 6 * 4096;
  differ /= 6 * 4096;
  assert.ok(same < 3, `128 px halved differs from 64 px by ${same.toFixed(2)} levels`);
  assert.ok(differ > 20, `another seed differs by only ${differ.toFixed(2)} levels`);
  steps.sort((a, b) => a - b);
  const p99 = steps[Math.floor(steps.length * 0.99)] as number;
  assert.ok(p99 <= 40, `99th percentile of neighbour steps ${p99} levels: not smooth`);
});
