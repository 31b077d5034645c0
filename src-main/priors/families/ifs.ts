/**
 * Iterated-function-system fractals (FractalDB, Kataoka et al. 2020; one of
 * the families DP-RandP and Baradad et al. build on): 2 to 4 random
 * contractive affine maps w_i(p) = A_i p + b_i; the attractor is the one set
 * with A = ∪ w_i(A). The chaos game finds it: start anywhere, apply a map
 * chosen at random (probability ∝ |det A_i|, so each part is visited in
 * proportion to its area), and after a short burn-in every point lies on the
 * attractor. The points are binned into pixels and drawn by log density over
 * a plain background, each point coloured by the recent history of maps
 * (the "fractal flame" colouring), so the parts of the fractal differ in hue.
 *
 * Systems whose attractor covers almost nothing or almost everything are
 * redrawn (a few times, from the same stream, so the result stays
 * deterministic).
 */
import { SeededRng } from '../../engine/rng';
import { ColourMap, uniform } from './common';

/** One affine map x' = a·x + b·y + e, y' = c·x + d·y + f. */
export interface AffineMap {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

/** A rendered attractor: its maps in pixel coordinates and the hits per pixel. */
export interface IfsRender {
  maps: AffineMap[];
  /** size·size hit counts, row-major. */
  hits: Float32Array;
  /** size·size mean colour coordinate in [0, 1] of the hits (0 where none). */
  shade: Float32Array;
}

const BURN_IN = 20;
const ATTEMPTS = 8;

/**
 * Draws a system of k contractions from their singular values, as Anderson
 * and Farrell (2022) do for FractalDB: A_i = R(θ_i)·diag(σ1, ±σ2)·R(φ_i), with
 * the "σ-factor" Σ(σ1 + 2σ2) set in [(5 + k)/2, (6 + k)/2]. Entries drawn
 * uniformly instead mostly give near-singular maps, whose attractors are
 * thin scratches; this range gives filled, branching shapes.
 */
function drawSystem(rng: SeededRng, k: number): AffineMap[] {
  const target = uniform(rng, (5 + k) / 2, (6 + k) / 2);
  const sv = Array.from({ length: k }, () => {
    const s1 = uniform(rng, 0.5, 1);
    return [s1, s1 * uniform(rng, 0.15, 1)] as [number, number];
  });
  const raw = sv.reduce((s, [s1, s2]) => s + s1 + 2 * s2, 0);
  const gain = target / raw;
  return sv.map(([r1, r2]) => {
    // Keep every map a strict contraction whatever the rescaling asked for.
    const s1 = Math.min(0.95, r1 * gain);
    const s2 = Math.min(s1, r2 * gain) * (rng.nextFloat() < 0.5 ? -1 : 1);
    const th = uniform(rng, 0, 2 * Math.PI);
    const ph = uniform(rng, 0, 2 * Math.PI);
    const [ct, st, cp, sp] = [Math.cos(th), Math.sin(th), Math.cos(ph), Math.sin(ph)];
    // R(θ)·diag(s1, s2)·R(φ)
    return {
      a: ct * s1 * cp - st * s2 * sp,
      b: -ct * s1 * sp - st * s2 * cp,
      c: st * s1 * cp + ct * s2 * sp,
      d: -st * s1 * sp + ct * s2 * cp,
      e: uniform(rng, -1, 1),
      f: uniform(rng, -1, 1),
    };
  });
}

/**
 * Plays the chaos game for one random system and bins it at `size` pixels.
 * Exported so the tests can check self-similarity against the maps.
 */
export function drawIfs(rng: SeededRng, size: number): IfsRender {
  // About four points per pixel, and never so few that faint parts vanish.
  const points = Math.max(8000, 4 * size * size);
  let best: IfsRender | undefined;
  let bestScore = -Infinity;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const k = 2 + rng.nextInt(3);
    const maps = drawSystem(rng, k);
    const weights = maps.map((m) => Math.abs(m.a * m.d - m.b * m.c) + 0.02);
    const total = weights.reduce((s, w) => s + w, 0);
    const cum = new Float64Array(k);
    let acc = 0;
    for (let i = 0; i < k; i++) cum[i] = acc += (weights[i] as number) / total;
    const tone = maps.map(() => rng.nextFloat());
    // The chaos game draws from its own stream, so how many points a size
    // needs does not shift the draws that follow: one seed, one system, at
    // every size (unless the coverage check redraws it).
    const walk = SeededRng.fromSeed(rng.nextUint32());
    const xs = new Float64Array(points);
    const ys = new Float64Array(points);
    const cs = new Float32Array(points);
    let x = 0;
    let y = 0;
    let col = 0.5;
    for (let t = -BURN_IN; t < points; t++) {
      const u = walk.nextFloat();
      let i = 0;
      while (i < k - 1 && u > (cum[i] as number)) i++;
      const m = maps[i] as AffineMap;
      const nx = m.a * x + m.b * y + m.e;
      y = m.c * x + m.d * y + m.f;
      x = nx;
      col = (col + (tone[i] as number)) / 2;
      if (t >= 0) {
        xs[t] = x;
        ys[t] = y;
        cs[t] = col;
      }
    }
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    for (let t = 0; t < points; t++) {
      const px = xs[t] as number;
      const py = ys[t] as number;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    const extent = Math.max(maxX - minX, maxY - minY);
    if (!(extent > 1e-9)) continue; // collapsed to a point
    // Fit the attractor in the image, keeping its aspect, with a small margin.
    const inner = size * 0.9;
    const scale = inner / extent;
    const tx = (size - (maxX - minX) * scale) / 2 - minX * scale;
    const ty = (size - (maxY - minY) * scale) / 2 - minY * scale;
    const hits = new Float32Array(size * size);
    const shade = new Float32Array(size * size);
    for (let t = 0; t < points; t++) {
      const px = Math.min(size - 1, Math.max(0, Math.floor((xs[t] as number) * scale + tx)));
      const py = Math.min(size - 1, Math.max(0, Math.floor((ys[t] as number) * scale + ty)));
      const i = py * size + px;
      hits[i] = (hits[i] as number) + 1;
      shade[i] = (shade[i] as number) + (cs[t] as number);
    }
    let lit = 0;
    for (let i = 0; i < size * size; i++) {
      const h = hits[i] as number;
      if (h > 0) {
        lit++;
        shade[i] = (shade[i] as number) / h;
      }
    }
    // Same maps in pixel coordinates: T∘w∘T⁻¹ with T(p) = scale·p + t.
    const pixelMaps = maps.map((m) => ({
      a: m.a,
      b: m.b,
      c: m.c,
      d: m.d,
      e: scale * m.e + tx - (m.a * tx + m.b * ty),
      f: scale * m.f + ty - (m.c * tx + m.d * ty),
    }));
    const render = { maps: pixelMaps, hits, shade };
    const frac = lit / (size * size);
    if (frac >= 0.04 && frac <= 0.7) return render;
    // Keep the attempt closest to the accepted range in case none falls in it.
    const score = -Math.abs(Math.log(frac / 0.2));
    if (score > bestScore) {
      bestScore = score;
      best = render;
    }
  }
  if (best) return best;
  // Every attempt collapsed to a point (vanishingly rare): one lit pixel in the centre.
  const hits = new Float32Array(size * size);
  const centre = (size >> 1) * size + (size >> 1);
  hits[centre] = 1;
  return { maps: [], hits, shade: new Float32Array(size * size) };
}

/** Renders one fractal into an RGB float canvas (size·size·3, [0, 1]). */
export function renderIfs(rng: SeededRng, size: number, out: Float32Array): void {
  const { hits, shade } = drawIfs(rng, size);
  const map = new ColourMap(rng, 3 + rng.nextInt(3));
  // Dark or light ground, so the density shows as either glow or ink.
  const ground = rng.nextFloat() < 0.7 ? uniform(rng, 0, 0.15) : uniform(rng, 0.85, 1);
  let max = 0;
  for (let i = 0; i < hits.length; i++) max = Math.max(max, hits[i] as number);
  const logMax = Math.log1p(max);
  const fg = new Float32Array(3);
  for (let i = 0; i < size * size; i++) {
    const h = hits[i] as number;
    // Log density, lifted so that a single hit still shows clearly.
    const d = h > 0 ? 0.35 + 0.65 * (Math.log1p(h) / logMax) : 0;
    map.write(shade[i] as number, fg, 0);
    for (let c = 0; c < 3; c++) out[i * 3 + c] = ground * (1 - d) + (fg[c] as number) * d;
  }
}
