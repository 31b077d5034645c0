/**
 * Term-wise DP-SGD (Takahashi et al., arXiv 2006.11204; docs/privacy.md
 * "Term-wise DP-SGD"): each step releases two noisy sums computed on the SAME
 * Poisson sample, G₁ + N(0, σ₁²Δ₁²I) (the per-record term) and
 * G₂ + N(0, σ₂²Δ₂²I) (the batch-coupled term). Scaling each block by its
 * noise std makes the pair one Gaussian mechanism with unit noise on the
 * concatenated vector, whose change when one record is added or removed has
 * norm at most √(1/σ₁² + 1/σ₂²); so the pair is the Poisson-subsampled
 * Gaussian of noise multiplier σ = (σ₁⁻² + σ₂⁻²)^(−1/2) — the accountant's
 * 'dpsgd' mechanism at that σ, nothing new to account.
 */

/** The noise multiplier of the pair: (Σ σ_t⁻²)^(−1/2). */
export function effectiveSigma(sigmas: readonly number[]): number {
  let s = 0;
  for (const x of sigmas) {
    if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`A term's σ must be > 0; got ${x}.`);
    s += 1 / (x * x);
  }
  if (s === 0) throw new RangeError('There is no randomised term.');
  return 1 / Math.sqrt(s);
}

/**
 * Splits a pair's noise multiplier σ between two terms of sensitivities Δ₁, Δ₂
 * so that the summed update's noise variance σ₁²Δ₁² + σ₂²Δ₂² is the least for
 * that σ: σ_t = σ·√((Δ₁ + Δ₂)/Δ_t), giving (Δ₁ + Δ₂)²σ², as if one sum of
 * sensitivity Δ₁ + Δ₂ were noised. A term with Δ = 0 gets no noise (σ_t = ∞)
 * and the other gets σ.
 */
export function splitSigma(
  sigma: number,
  d1: number,
  d2: number,
): { sigma1: number; sigma2: number } {
  if (!(sigma > 0) || !(d1 > 0) || !(d2 >= 0)) throw new RangeError('Bad term-wise noise split.');
  if (d2 === 0) return { sigma1: sigma, sigma2: Infinity };
  const t = d1 + d2;
  return { sigma1: sigma * Math.sqrt(t / d1), sigma2: sigma * Math.sqrt(t / d2) };
}

/**
 * The add/remove sensitivity of the naive variant (per-record clipping of a
 * coupled loss at C, batches above `batchCap` records dropped to a
 * noise-only step): adding one record adds its own clipped gradient (≤ C) and
 * can turn each of the others' clipped gradients around (≤ 2C each), so
 * (2·batchCap + 1)·C — linear in the batch.
 */
export function naiveSensitivity(batchCap: number, clip: number): number {
  return (2 * batchCap + 1) * clip;
}

/** The batch cap of the naive variant: q·N + 8√(q·N) + 8 (an overflow has probability below 1e-12). */
export function naiveBatchCap(expectedBatch: number): number {
  return Math.ceil(expectedBatch + 8 * Math.sqrt(expectedBatch) + 8);
}

/** Each randomised term's clip, sensitivity and noise multiplier (what a certificate states). */
export interface TermNoise {
  term: 'per-record' | 'divergence' | 'whole-loss';
  clip: number;
  sensitivity: number;
  sigma: number;
}

/**
 * The terms a plan randomises and their noise: 'termwise' splits σ between
 * G₁ (Δ₁ = C₁) and G₂ (Δ₂ = 2C₂) (privacy/termwise.ts splitSigma); 'naive'
 * has one term of sensitivity (2·cap + 1)·C; 'kl' only the per-record term.
 */
export function termNoises(o: {
  sigma: number;
  clip: number;
  divergence: 'kl' | 'mmd-imq' | 'mmd-rbf';
  divergenceClip: number;
  mode: 'termwise' | 'naive';
  batchCap: number;
}): TermNoise[] {
  if (o.divergence === 'kl')
    return [{ term: 'per-record', clip: o.clip, sensitivity: o.clip, sigma: o.sigma }];
  if (o.mode === 'naive') {
    return [
      {
        term: 'whole-loss',
        clip: o.clip,
        sensitivity: naiveSensitivity(o.batchCap, o.clip),
        sigma: o.sigma,
      },
    ];
  }
  const d2 = 2 * o.divergenceClip;
  const { sigma1, sigma2 } = splitSigma(o.sigma, o.clip, d2);
  return [
    { term: 'per-record', clip: o.clip, sensitivity: o.clip, sigma: sigma1 },
    { term: 'divergence', clip: o.divergenceClip, sensitivity: d2, sigma: sigma2 },
  ];
}

/** The pair's σ recomputed from its terms (equals the plan's σ: privacy/termwise.ts). */
export function termsSigma(terms: readonly TermNoise[]): number {
  return effectiveSigma(terms.map((t) => t.sigma));
}
