/**
 * A `randp` checkpoint: the DP-SGD stepper's whole state (dp-linear.ts
 * DpLinearState: the step t, weights, momentum, the moving average) and the
 * privacy settings it was taken under, so that a resumed run continues the
 * same trajectory and a checkpoint of another run is refused. Layout: a
 * 4-byte little-endian length, a JSON header, then the float32 arrays in
 * the header's order. The features are not in it: they are computed again
 * from the images and the prior (deterministic), and never reach the disk.
 */
import { UserError } from '../../contract/errors';
import type { DpLinearState } from './dp-linear';

/** The settings a checkpoint must share with the run that resumes it. */
export interface RandpCheckpointSettings {
  sigma: number;
  sampleRate: number;
  clip: number;
  steps: number;
  lr: number;
  momentum: number;
  emaDecay: number;
  dims: number;
  classes: number;
}

const FORMAT = 'dp2-randp-checkpoint';
const ARRAYS = ['weights', 'm1', 'm2', 'averaged'] as const;

/** The checkpoint's bytes. */
export function serializeRandpCheckpoint(
  state: DpLinearState,
  settings: RandpCheckpointSettings,
  meta: Record<string, unknown> = {},
): Uint8Array {
  const arrays = ARRAYS.map((name) => [name, state[name]] as const);
  const header = new TextEncoder().encode(
    JSON.stringify({
      format: FORMAT,
      version: 1,
      t: state.t,
      settings,
      meta,
      arrays: arrays.map(([name, a]) => ({ name, length: a ? a.length : null })),
    }),
  );
  const floats = arrays.reduce((n, [, a]) => n + (a ? a.length : 0), 0);
  // The floats start at a multiple of 4 bytes.
  const start = 4 + header.length + ((4 - ((4 + header.length) % 4)) % 4);
  const out = new Uint8Array(start + floats * 4);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  const view = new Float32Array(out.buffer, start, floats);
  let offset = 0;
  for (const [, a] of arrays) {
    if (!a) continue;
    view.set(a, offset);
    offset += a.length;
  }
  return out;
}

function corrupt(): UserError {
  return new UserError(
    'CORRUPT_DATA',
    'This checkpoint of a private classifier is damaged or of another version; it cannot be resumed.',
  );
}

/** The state and settings of a checkpoint's bytes. */
export function deserializeRandpCheckpoint(bytes: Uint8Array): {
  state: DpLinearState;
  settings: RandpCheckpointSettings;
} {
  if (bytes.byteLength < 4) throw corrupt();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(0, true);
  if (4 + length > bytes.byteLength) throw corrupt();
  let header: {
    format?: unknown;
    version?: unknown;
    t?: unknown;
    settings?: RandpCheckpointSettings;
    arrays?: { name: string; length: number | null }[];
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as typeof header;
  } catch {
    throw corrupt();
  }
  if (
    header.format !== FORMAT ||
    header.version !== 1 ||
    typeof header.t !== 'number' ||
    !header.settings ||
    !Array.isArray(header.arrays)
  ) {
    throw corrupt();
  }
  const start = 4 + length + ((4 - ((4 + length) % 4)) % 4);
  const copy = bytes.slice(start);
  const floats = new Float32Array(copy.buffer, 0, Math.floor(copy.byteLength / 4));
  const found: Record<string, Float32Array | null> = {};
  let offset = 0;
  for (const { name, length: n } of header.arrays) {
    if (n === null) {
      found[name] = null;
      continue;
    }
    if (offset + n > floats.length) throw corrupt();
    found[name] = floats.slice(offset, offset + n);
    offset += n;
  }
  const { weights, m1 } = found;
  if (!weights || !m1 || offset !== floats.length) throw corrupt();
  return {
    state: {
      t: header.t,
      weights,
      m1,
      m2: found.m2 ?? null,
      averaged: found.averaged ?? null,
    },
    settings: header.settings,
  };
}
