/**
 * Parameters as plain tensors (no tf.layers), stacked over a leading group
 * axis G so that many models (the K encoders of Algorithm 1 of DP²-VAE) train
 * as one batched computation: parameter i of a group has shape
 * [G, ...parameterSpecs(arch, part)[i].shape]. A single model is G = 1.
 *
 * Initialisation is Glorot-uniform for weights and zero for biases, drawn per
 * model from its own seeded stream, so a model's initial values depend only
 * on its seed — not on which group it is trained in.
 */
import * as tf from '@tensorflow/tfjs';
import { parameterSpecs, type Architecture, type ModelPart, type ParamSpec } from './architecture';
import { SeededRng } from './rng';

/** Stream tags for initialisation (kept apart from other uses of a seed). */
const INIT_STREAM: Record<ModelPart, number> = { encoder: 0x656e63, decoder: 0x646563 };

/** G models' parameters of one part; tensor i has shape [G, ...specs[i].shape]. */
export interface ParamGroup {
  part: ModelPart;
  models: number;
  tensors: tf.Tensor[];
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of scalars per model for each parameter, in spec order. */
export function specSizes(arch: Architecture, part: ModelPart): number[] {
  return parameterSpecs(arch, part).map((s) => sizeOf(s.shape));
}

/** Fills `out` with one model's initial values for `spec`. */
function initInto(spec: ParamSpec, rng: SeededRng, out: Float32Array): void {
  if (spec.init === 'zeros') return;
  const limit = Math.sqrt(6 / (spec.fanIn + spec.fanOut));
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.nextFloat() - 1) * limit;
}

/** One model's initial parameters as a single flat vector (spec order). */
export function initFlat(arch: Architecture, part: ModelPart, seed: number): Float32Array {
  const specs = parameterSpecs(arch, part);
  const flat = new Float32Array(specs.reduce((n, s) => n + sizeOf(s.shape), 0));
  const rng = SeededRng.fromSeed(seed, INIT_STREAM[part]);
  let off = 0;
  for (const spec of specs) {
    const n = sizeOf(spec.shape);
    initInto(spec, rng, flat.subarray(off, off + n));
    off += n;
  }
  return flat;
}

/** Freshly initialised parameters for one model per seed (Glorot-uniform weights, zero biases). */
export function initParams(
  arch: Architecture,
  part: ModelPart,
  seeds: readonly number[],
): ParamGroup {
  return stackFlat(
    arch,
    part,
    seeds.map((s) => initFlat(arch, part, s)),
  );
}

/** Stacks G flat per-model vectors into a group (copies into new tensors). */
export function stackFlat(
  arch: Architecture,
  part: ModelPart,
  flats: readonly Float32Array[],
): ParamGroup {
  const specs = parameterSpecs(arch, part);
  const g = flats.length;
  const total = specs.reduce((n, s) => n + sizeOf(s.shape), 0);
  for (const f of flats) {
    if (f.length !== total) {
      throw new RangeError(
        `A ${part} of this architecture has ${total} parameters, not ${f.length}.`,
      );
    }
  }
  let off = 0;
  const tensors = specs.map((spec) => {
    const n = sizeOf(spec.shape);
    const buf = new Float32Array(g * n);
    flats.forEach((f, i) => buf.set(f.subarray(off, off + n), i * n));
    off += n;
    return tf.tensor(buf, [g, ...spec.shape], 'float32');
  });
  return { part, models: g, tensors };
}

/** Reads model `index` of a list of stacked tensors back into one flat vector (spec order). */
export function unstackFlat(
  tensors: readonly tf.Tensor[],
  models: number,
  index: number,
): Float32Array {
  const per = tensors.map((t) => t.size / models);
  const flat = new Float32Array(per.reduce((a, b) => a + b, 0));
  let off = 0;
  tensors.forEach((t, i) => {
    const n = per[i] as number;
    const data = t.dataSync() as Float32Array;
    flat.set(data.subarray(index * n, (index + 1) * n), off);
    off += n;
  });
  return flat;
}

/** All models of a list of stacked tensors as flat vectors (one read per tensor). */
export function allFlat(tensors: readonly tf.Tensor[], models: number): Float32Array[] {
  const per = tensors.map((t) => t.size / models);
  const total = per.reduce((a, b) => a + b, 0);
  const flats = Array.from({ length: models }, () => new Float32Array(total));
  let off = 0;
  tensors.forEach((t, i) => {
    const n = per[i] as number;
    const data = t.dataSync() as Float32Array;
    for (let g = 0; g < models; g++) {
      (flats[g] as Float32Array).set(data.subarray(g * n, (g + 1) * n), off);
    }
    off += n;
  });
  return flats;
}

/** Splits a flat vector into per-parameter arrays (views, spec order). */
export function splitFlat(arch: Architecture, part: ModelPart, flat: Float32Array): Float32Array[] {
  let off = 0;
  return specSizes(arch, part).map((n) => {
    const v = flat.subarray(off, off + n);
    off += n;
    return v;
  });
}

/** Disposes every tensor in the list. */
export function disposeAll(tensors: readonly tf.Tensor[] | null | undefined): void {
  if (tensors) for (const t of tensors) t.dispose();
}
