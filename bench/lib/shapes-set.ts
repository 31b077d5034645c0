/**
 * A made labelled image set for benches (no download, no licence): four
 * classes of outlined shapes (disc, square, triangle, cross) of random size,
 * position, rotation and colour over a smooth random background with pixel
 * noise, 32×32 colour. A test of features that should not depend on
 * position, colour or background.
 */
import { SeededRng } from '../../src-main/engine/rng';

export const SHAPE_CLASSES = ['disc', 'square', 'triangle', 'cross'] as const;

export interface ShapeSet {
  x: Uint8Array;
  y: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Distance from point (px, py) to segment (ax, ay)–(bx, by). */
function segment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

/** Distance from (px, py) to the outline of shape `k` of radius r, centred at 0, rotated by 0. */
function outline(k: number, px: number, py: number, r: number): number {
  if (k === 0) return Math.abs(Math.hypot(px, py) - r);
  const corners =
    k === 1
      ? [
          [-r, -r],
          [r, -r],
          [r, r],
          [-r, r],
        ]
      : k === 2
        ? [0, 1, 2].map((i) => [
            r * Math.cos((2 * Math.PI * i) / 3 - Math.PI / 2),
            r * Math.sin((2 * Math.PI * i) / 3 - Math.PI / 2),
          ])
        : null;
  if (corners) {
    let d = Infinity;
    for (let i = 0; i < corners.length; i++) {
      const a = corners[i] as number[];
      const b = corners[(i + 1) % corners.length] as number[];
      d = Math.min(
        d,
        segment(px, py, a[0] as number, a[1] as number, b[0] as number, b[1] as number),
      );
    }
    return d;
  }
  return Math.min(segment(px, py, -r, 0, r, 0), segment(px, py, 0, -r, 0, r));
}

/** `count` images of the shapes set from `seed`, classes balanced in turn. */
export function makeShapeSet(count: number, seed: number, size = 32): ShapeSet {
  const rng = SeededRng.fromSeed(seed, 0x73686170);
  const x = new Uint8Array(count * size * size * 3);
  const y = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const k = n % SHAPE_CLASSES.length;
    y[n] = k;
    const bg = [0, 1, 2].map(() => rng.nextFloat());
    const grad = [0, 1, 2].map(() => (rng.nextFloat() - 0.5) * 0.6);
    const angle = rng.nextFloat() * 2 * Math.PI;
    const fg = [0, 1, 2].map(() => rng.nextFloat());
    // Keep the shape visible: push its colour away from the background's.
    for (let c = 0; c < 3; c++)
      if (Math.abs((fg[c] as number) - (bg[c] as number)) < 0.3) fg[c] = 1 - (bg[c] as number);
    const r = size * (0.15 + 0.2 * rng.nextFloat());
    const cx = r + (size - 2 * r) * rng.nextFloat();
    const cy = r + (size - 2 * r) * rng.nextFloat();
    const rot = rng.nextFloat() * 2 * Math.PI;
    const width = 1 + rng.nextFloat();
    for (let py = 0; py < size; py++) {
      for (let px = 0; px < size; px++) {
        const dx = px + 0.5 - cx;
        const dy = py + 0.5 - cy;
        const u = Math.cos(rot) * dx + Math.sin(rot) * dy;
        const v = -Math.sin(rot) * dx + Math.cos(rot) * dy;
        const ink = Math.max(0, Math.min(1, width - outline(k, u, v, r) + 0.5));
        const ramp = (Math.cos(angle) * px + Math.sin(angle) * py) / size;
        for (let c = 0; c < 3; c++) {
          const b = (bg[c] as number) + (grad[c] as number) * ramp;
          const value = ink * (fg[c] as number) + (1 - ink) * b + (rng.nextFloat() - 0.5) * 0.15;
          x[((n * size + py) * size + px) * 3 + c] = Math.round(
            255 * Math.max(0, Math.min(1, value)),
          );
        }
      }
    }
  }
  return { x, y, count, height: size, width: size, channels: 3 };
}
