/**
 * Shader-like patterns: a random sum of 3 to 6 waves over a domain warped by
 * a few more, coloured with a cosine palette (c(t) = a + b·cos(2π(k·t + d))
 * per channel), as in procedural shaders. A wave is either planar
 * (stripes: sin(k·p + φ)) or polar around a random centre (rings and
 * spirals: sin(m·θ + k·r + φ), m whole so the angle wraps without a seam).
 * Frequencies are a few cycles per image at most, so the images are smooth
 * fields with large-scale structure, the opposite of the dead leaves' edges.
 */
import type { SeededRng } from '../../engine/rng';
import { standardise, toUnit, uniform } from './common';

interface Wave {
  polar: boolean;
  /** Planar: frequency vector (radians per image width). Polar: centre. */
  kx: number;
  ky: number;
  /** Polar: angular multiplicity and radial frequency. */
  m: number;
  kr: number;
  phase: number;
  amp: number;
}

function drawWave(rng: SeededRng, maxCycles: number): Wave {
  const polar = rng.nextFloat() < 0.3;
  const cycles = uniform(rng, 0.5, maxCycles);
  const dir = uniform(rng, 0, 2 * Math.PI);
  return {
    polar,
    kx: polar ? uniform(rng, 0.2, 0.8) : 2 * Math.PI * cycles * Math.cos(dir),
    ky: polar ? uniform(rng, 0.2, 0.8) : 2 * Math.PI * cycles * Math.sin(dir),
    m: polar ? rng.nextInt(5) - 2 : 0,
    kr: 2 * Math.PI * cycles,
    phase: uniform(rng, 0, 2 * Math.PI),
    amp: uniform(rng, 0.3, 1),
  };
}

function wave(w: Wave, x: number, y: number): number {
  if (!w.polar) return w.amp * Math.sin(w.kx * x + w.ky * y + w.phase);
  const dx = x - w.kx;
  const dy = y - w.ky;
  return w.amp * Math.sin(w.m * Math.atan2(dy, dx) + w.kr * Math.hypot(dx, dy) + w.phase);
}

interface Palette {
  a: number[];
  b: number[];
  k: number[];
  d: number[];
}

function drawPalette(rng: SeededRng): Palette {
  return {
    a: [0, 1, 2].map(() => uniform(rng, 0.3, 0.7)),
    b: [0, 1, 2].map(() => uniform(rng, 0.2, 0.5)),
    k: [0, 1, 2].map(() => uniform(rng, 0.3, 1.5)),
    d: [0, 1, 2].map(() => rng.nextFloat()),
  };
}

function paletteChannel(p: Palette, c: number, t: number): number {
  const v =
    (p.a[c] as number) +
    (p.b[c] as number) * Math.cos(2 * Math.PI * ((p.k[c] as number) * t + (p.d[c] as number)));
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Luminance range of a palette over t in [0, 1]. */
function lumaSpan(p: Palette): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let s = 0; s <= 16; s++) {
    const t = s / 16;
    const l =
      0.299 * paletteChannel(p, 0, t) +
      0.587 * paletteChannel(p, 1, t) +
      0.114 * paletteChannel(p, 2, t);
    lo = Math.min(lo, l);
    hi = Math.max(hi, l);
  }
  return hi - lo;
}

/** Renders one shader-like pattern into an RGB float canvas (size·size·3, [0, 1]). */
export function renderShader(rng: SeededRng, size: number, out: Float32Array): void {
  const waves = Array.from({ length: 3 + rng.nextInt(4) }, () => drawWave(rng, 4));
  const warpsX = Array.from({ length: rng.nextInt(3) }, () => drawWave(rng, 2));
  const warpsY = warpsX.map(() => drawWave(rng, 2));
  const warpGain = uniform(rng, 0, 0.12);
  const field = new Float64Array(size * size);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Unit-square coordinates, so a pattern looks the same at every size.
      let x = (px + 0.5) / size;
      let y = (py + 0.5) / size;
      let wx = 0;
      let wy = 0;
      for (let j = 0; j < warpsX.length; j++) {
        wx += wave(warpsX[j] as Wave, x, y);
        wy += wave(warpsY[j] as Wave, x, y);
      }
      x += warpGain * wx;
      y += warpGain * wy;
      let v = 0;
      for (const w of waves) v += wave(w, x, y);
      field[py * size + px] = v;
    }
  }
  standardise(field);
  // A cosine palette whose channels swing out of step can be nearly flat in
  // luminance (and so in grey); redraw until it spans some.
  let palette = drawPalette(rng);
  for (let attempt = 0; attempt < 20 && lumaSpan(palette) < 0.3; attempt++) {
    palette = drawPalette(rng);
  }
  for (let i = 0; i < size * size; i++) {
    const t = toUnit(field[i] as number);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = paletteChannel(palette, c, t);
  }
}
