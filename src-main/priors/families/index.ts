/**
 * Procedural image families for the random-process prior (issue #18): images
 * with no real content, made from a seed alone, for pre-training a feature
 * network without spending privacy or downloading anything (Baradad et al.,
 * NeurIPS 2021; Tang et al., DP-RandP, NeurIPS 2023).
 *
 * `generateFamily` is the one entry: image `start + i` of a family and seed
 * is drawn from its own generator stream (seed, family, index), so it is the
 * same whatever `count` or `start` the call asked for, and large sets can be
 * made in chunks. Grey images are the luminance (ITU-R BT.601) of the colour
 * image with the same seed and index.
 */
import { UserError } from '../../contract/errors';
import { SeededRng } from '../../engine/rng';
import { renderDeadLeaves } from './dead-leaves';
import { renderIfs } from './ifs';
import { renderShader } from './shader';
import { renderSpectral } from './spectral';

/** The procedural families, by name. */
export const PRIOR_FAMILIES = ['dead-leaves', 'spectral', 'ifs', 'shader'] as const;
export type PriorFamily = (typeof PRIOR_FAMILIES)[number];

/** Smallest and largest image side, pixels. */
export const PRIOR_SIZE_MIN = 28;
export const PRIOR_SIZE_MAX = 128;
/** Most images one call makes (128×128×3 bytes each: about 490 MB at this bound). */
export const PRIOR_COUNT_MAX = 10000;

type Render = (rng: SeededRng, size: number, out: Float32Array) => void;

/**
 * Each family's renderer and stream number. The numbers are fixed, not list
 * positions, so adding a family never changes another family's images.
 */
const FAMILIES: Record<PriorFamily, { stream: number; render: Render }> = {
  'dead-leaves': { stream: 1, render: (rng, size, out) => void renderDeadLeaves(rng, size, out) },
  spectral: { stream: 2, render: renderSpectral },
  ifs: { stream: 3, render: renderIfs },
  shader: { stream: 4, render: renderShader },
};

/** What {@link generateFamily} makes. */
export interface GenerateFamilyOptions {
  family: PriorFamily;
  /** Any non-negative whole number; the same seed gives the same images. */
  seed: number;
  /** How many images, 1 to {@link PRIOR_COUNT_MAX}. */
  count: number;
  /** Side of the square images, {@link PRIOR_SIZE_MIN} to {@link PRIOR_SIZE_MAX} pixels. */
  size: number;
  /** 1 (grey) or 3 (colour). */
  channels: number;
  /** Index of the first image (default 0), to make a large set in chunks. */
  start?: number;
}

/** Procedural images: N·H·W·C bytes, row-major NHWC, like the app's other image sets. */
export interface PriorImages {
  x: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  family: PriorFamily;
  seed: number;
  start: number;
}

function isWhole(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function checkOptions(o: GenerateFamilyOptions): void {
  if (!(PRIOR_FAMILIES as readonly unknown[]).includes(o.family)) {
    throw new UserError(
      'INVALID_INPUT',
      `There is no procedural image family called "${String(o.family)}". ` +
        `Choose one of: ${PRIOR_FAMILIES.join(', ')}.`,
    );
  }
  if (!isWhole(o.seed) || o.seed < 0) {
    throw new UserError(
      'INVALID_INPUT',
      `The seed of the procedural images is ${String(o.seed)}; give a whole number of 0 or more.`,
    );
  }
  if (!isWhole(o.size) || o.size < PRIOR_SIZE_MIN || o.size > PRIOR_SIZE_MAX) {
    throw new UserError(
      'INVALID_INPUT',
      `Procedural images can be ${PRIOR_SIZE_MIN} to ${PRIOR_SIZE_MAX} pixels on a side, ` +
        `not ${String(o.size)}; choose a whole number in that range.`,
    );
  }
  if (o.channels !== 1 && o.channels !== 3) {
    throw new UserError(
      'INVALID_INPUT',
      `Procedural images have 1 channel (grey) or 3 (colour), not ${String(o.channels)}.`,
    );
  }
  if (!isWhole(o.count) || o.count < 1 || o.count > PRIOR_COUNT_MAX) {
    throw new UserError(
      'INVALID_INPUT',
      `Asked for ${String(o.count)} procedural images; one call makes 1 to ${PRIOR_COUNT_MAX}. ` +
        'For more, make them in chunks with increasing "start".',
    );
  }
  const start = o.start ?? 0;
  if (!isWhole(start) || start < 0 || !Number.isSafeInteger(start + o.count)) {
    throw new UserError(
      'INVALID_INPUT',
      `The first image index is ${String(o.start)}; give a whole number of 0 or more.`,
    );
  }
}

/**
 * Makes `count` images of one procedural family, deterministically from
 * `seed` (and `start`). Throws a {@link UserError} in plain words for an
 * unknown family, a size outside 28..128, channels other than 1 or 3, or a
 * count outside 1..10 000.
 */
export function generateFamily(options: GenerateFamilyOptions): PriorImages {
  checkOptions(options);
  const { family, seed, count, size, channels } = options;
  const start = options.start ?? 0;
  const { stream, render } = FAMILIES[family];
  const pixels = size * size;
  const x = new Uint8Array(count * pixels * channels);
  const canvas = new Float32Array(pixels * 3);
  for (let n = 0; n < count; n++) {
    const rng = SeededRng.fromSeed(seed, stream, start + n);
    render(rng, size, canvas);
    const base = n * pixels * channels;
    if (channels === 3) {
      for (let i = 0; i < pixels * 3; i++) x[base + i] = toByte(canvas[i] as number);
    } else {
      for (let i = 0; i < pixels; i++) {
        const j = i * 3;
        const luma =
          0.299 * (canvas[j] as number) +
          0.587 * (canvas[j + 1] as number) +
          0.114 * (canvas[j + 2] as number);
        x[base + i] = toByte(luma);
      }
    }
  }
  return { x, count, height: size, width: size, channels, family, seed, start };
}

function toByte(v: number): number {
  const b = Math.round(v * 255);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}
