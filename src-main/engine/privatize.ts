/**
 * The Gaussian mechanism of Algorithm 2 of DP²-VAE (Jiang et al., arXiv
 * 2208.03409), applied to the batch-mean decoder gradient ḡ (all decoder
 * parameters as one vector):
 *
 *   g̃ = ḡ · min(1, C/‖ḡ‖₂) + N(0, σ²C²I)
 *
 * Computed on the CPU in float64 from a float32 copy of the gradient, so the
 * bound on the norm does not depend on a float32 reduction order of a
 * backend: the clipped vector has norm ≤ C (a 1e-6 safety margin covers the
 * final rounding to float32). The noise comes from the injected source, which
 * in training is `SecureGaussian` (node:crypto).
 */

/** Anything that fills an array with N(0, std²) draws (in training: SecureGaussian). */
export interface NoiseSource {
  fill(out: Float32Array, std: number): Float32Array;
}

/** L2 norm of a vector, accumulated in float64. */
export function l2Norm(vec: Float32Array): number {
  let s = 0;
  for (let i = 0; i < vec.length; i++) {
    const x = vec[i] as number;
    s += x * x;
  }
  return Math.sqrt(s);
}

/** Scales `vec` in place to norm ≤ clip; returns the norm before clipping and the factor used. */
export function clipInPlace(vec: Float32Array, clip: number): { norm: number; scale: number } {
  if (!(clip > 0) || !Number.isFinite(clip)) {
    throw new RangeError(`The clipping norm must be a positive number, not ${clip}.`);
  }
  const norm = l2Norm(vec);
  if (!Number.isFinite(norm)) {
    throw new RangeError('The gradient contains a non-finite value; training has diverged.');
  }
  const scale = norm > clip ? (clip / norm) * (1 - 1e-6) : 1;
  if (scale !== 1) for (let i = 0; i < vec.length; i++) vec[i] = (vec[i] as number) * scale;
  return { norm, scale };
}

/**
 * Clips `vec` (the batch-mean gradient) to norm `clip` and adds N(0, (noiseMultiplier·clip)²)
 * to every coordinate, in place. `noiseMultiplier` is the paper's σ. Returns the
 * norm before clipping. `scratch` (same length) avoids an allocation per step.
 */
export function privatizeInPlace(
  vec: Float32Array,
  clip: number,
  noiseMultiplier: number,
  noise: NoiseSource,
  scratch: Float32Array = new Float32Array(vec.length),
): { norm: number } {
  if (!(noiseMultiplier >= 0) || !Number.isFinite(noiseMultiplier)) {
    throw new RangeError(`The noise multiplier must be finite and ≥ 0, not ${noiseMultiplier}.`);
  }
  if (scratch.length !== vec.length)
    throw new RangeError('Scratch length differs from the gradient.');
  const { norm } = clipInPlace(vec, clip);
  noise.fill(scratch, noiseMultiplier * clip);
  for (let i = 0; i < vec.length; i++) vec[i] = (vec[i] as number) + (scratch[i] as number);
  return { norm };
}
