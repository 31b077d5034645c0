/**
 * Dead leaves (Matheron 1968; the "dead leaves" families of Baradad et al.
 * 2021): opaque shapes of random colour fall on the image one after another
 * and hide what lies under them. Radii follow the scale-invariant law
 * p(r) ∝ r^−3 between a minimum and a maximum, which gives the sizes and
 * occlusion statistics of natural scenes. Each image picks one shape kind
 * (discs, squares, rotated rectangles, or a mix) and whether its leaves carry
 * a faint texture (a sinusoidal grating of random period and direction).
 *
 * Rendering goes front to back: the first leaf drawn is the top one, and a
 * pixel takes the colour of the first leaf that covers it. That stops as
 * soon as every pixel is covered, instead of painting thousands of hidden
 * leaves.
 */
import type { SeededRng } from '../../engine/rng';
import { uniform } from './common';

/** Shape kinds of one image. */
export type LeafKind = 'discs' | 'squares' | 'rectangles' | 'mixed';
const KINDS: readonly LeafKind[] = ['discs', 'squares', 'rectangles', 'mixed'];

/** Leaves after which the last uncovered pixels get the background colour. */
const MAX_LEAVES = 6000;

/** Options of {@link renderDeadLeaves}; the app draws them at random, the tests pin them. */
export interface DeadLeavesOptions {
  kind?: LeafKind;
  textured?: boolean;
}

/** Radius from p(r) ∝ r^−3 on [rmin, rmax] (inverse CDF). */
function powerLawRadius(rng: SeededRng, rmin: number, rmax: number): number {
  const a = rmin ** -2;
  const b = rmax ** -2;
  return (a - rng.nextFloat() * (a - b)) ** -0.5;
}

/**
 * Renders one dead-leaves image into an RGB float canvas (size·size·3, [0, 1]).
 * Returns the number of leaves drawn.
 */
export function renderDeadLeaves(
  rng: SeededRng,
  size: number,
  out: Float32Array,
  options: DeadLeavesOptions = {},
): number {
  const drawnKind = KINDS[rng.nextInt(KINDS.length)] as LeafKind;
  const drawnTextured = rng.nextFloat() < 0.5;
  const kind = options.kind ?? drawnKind;
  const textured = options.textured ?? drawnTextured;
  const rmin = Math.max(1, size * uniform(rng, 0.02, 0.05));
  const rmax = size * uniform(rng, 0.25, 0.6);
  const covered = new Uint8Array(size * size);
  let remaining = size * size;
  let leaves = 0;
  const margin = 0.1 * size;
  while (remaining > 0 && leaves < MAX_LEAVES) {
    leaves++;
    const r = powerLawRadius(rng, rmin, rmax);
    const cx = uniform(rng, -margin, size + margin);
    const cy = uniform(rng, -margin, size + margin);
    const shape =
      kind === 'mixed' ? (['discs', 'squares', 'rectangles'] as const)[rng.nextInt(3)] : kind;
    // Rectangles: half-sides r and r·aspect, turned by theta.
    const theta = shape === 'rectangles' ? uniform(rng, 0, Math.PI) : 0;
    const aspect = shape === 'rectangles' ? uniform(rng, 0.25, 1) : 1;
    const ct = Math.cos(theta);
    const st = Math.sin(theta);
    const red = rng.nextFloat();
    const green = rng.nextFloat();
    const blue = rng.nextFloat();
    // The grating multiplies the colour by 1 ± amp: faint, but enough that leaves are not flat.
    let amp = 0;
    let kx = 0;
    let ky = 0;
    let phase = 0;
    if (textured) {
      amp = uniform(rng, 0.04, 0.15);
      const period = uniform(rng, 4, 16);
      const dir = uniform(rng, 0, Math.PI);
      kx = (2 * Math.PI * Math.cos(dir)) / period;
      ky = (2 * Math.PI * Math.sin(dir)) / period;
      phase = uniform(rng, 0, 2 * Math.PI);
    }
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(size - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(size - 1, Math.ceil(cy + r));
    const r2 = r * r;
    const rb = r * aspect;
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - cy;
      for (let x = x0; x <= x1; x++) {
        const i = y * size + x;
        if (covered[i]) continue;
        const dx = x + 0.5 - cx;
        let inside: boolean;
        if (shape === 'discs') inside = dx * dx + dy * dy <= r2;
        else if (shape === 'squares') inside = Math.abs(dx) <= r && Math.abs(dy) <= r;
        else inside = Math.abs(dx * ct + dy * st) <= r && Math.abs(-dx * st + dy * ct) <= rb;
        if (!inside) continue;
        covered[i] = 1;
        remaining--;
        const m = amp === 0 ? 1 : 1 + amp * Math.sin(kx * x + ky * y + phase);
        out[i * 3] = Math.min(1, red * m);
        out[i * 3 + 1] = Math.min(1, green * m);
        out[i * 3 + 2] = Math.min(1, blue * m);
      }
    }
  }
  if (remaining > 0) {
    // Rare: leaves ran out before the last specks were hit; they show the ground.
    const g = rng.nextFloat();
    for (let i = 0; i < size * size; i++) {
      if (covered[i]) continue;
      out[i * 3] = g;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = g;
    }
  }
  return leaves;
}
