/**
 * Privacy-loss-distribution (PLD) accounting of the Gaussian mechanism and of
 * its Poisson-subsampled version under the add/remove relation.
 *
 * A PLD is the law of the privacy loss log(p(o)/q(o)) for o ∼ P, where (P, Q)
 * is a dominating pair of the mechanism (Zhu, Dong, Wang 2022, "Optimal
 * accounting of differential privacy via characteristic function", AISTATS,
 * Definition 7). Composition convolves PLDs (Sommer, Meiser, Mohammadi 2019,
 * "Privacy loss classes", PoPETs; Koskela, Jälkö, Honkela 2020, "Computing
 * tight differential privacy guarantees using FFT", AISTATS) and the hockey-
 * stick divergence of the result is the δ of every ε.
 *
 * Discretisation follows the pessimistic "connect the dots" construction of
 * Doroshenko, Ghazi, Kamath, Kumar, Manurangsi 2022 ("Connect the dots:
 * tighter discrete approximations of privacy loss distributions", PoPETs;
 * arXiv 2207.04380, Algorithm 1): atoms on the grid ε_i = i·h carry masses
 * chosen so that the discrete PLD has exactly the mechanism's hockey-stick
 * divergence δ(ε_i) at every grid point and, between grid points, a value on
 * the chord of the convex function e^ε ↦ δ(ε) — hence never below it, for
 * every ε ∈ ℝ (negative ε included, as composition requires). Mass beyond the
 * top of the grid goes to +∞ (pessimistic); tails trimmed after composition
 * are bounded by a Chernoff bound and also moved to +∞.
 *
 * The T-fold self-composition is one FFT of the one-step PLD, raised to the
 * power T pointwise, and one inverse FFT (the support is folded modulo the FFT
 * size, which only has to cover the Chernoff window of the result). Both
 * neighbouring directions are computed and the worse one is reported, as in
 * dp_accounting's PLD accountant.
 */
import { nextPowerOfTwo, inverseRealFft, realFft } from './fft';
import { LN2, erfc, logErfc } from './numeric';

/**
 * The version of the PLD accounting method; privacy certificates cite it. Bump
 * it whenever a change could alter any ε the PLD accountant reports.
 */
export const PLD_ACCOUNTANT_VERSION = 'dp2-pld/1.0.0';

/** Default width h of the privacy-loss grid (dp_accounting's default too). */
export const DEFAULT_DISCRETIZATION = 1e-4;

/**
 * Which ordered pair a PLD describes for the Poisson-subsampled Gaussian with
 * sampling rate q and noise multiplier z (sensitivity 1):
 * - `'remove'`: P = (1 − q)·N(0, z²) + q·N(1, z²), Q = N(0, z²);
 * - `'add'`: the reverse pair, P = N(0, z²), Q = (1 − q)·N(0, z²) + q·N(1, z²);
 * - `'symmetric'`: the pair whose privacy profile is the pointwise maximum of
 *   the two above, for every ε ∈ ℝ — the dominating pair of the symmetrised
 *   trade-off function C_q(G_{1/z}) = min{f_q, f_q⁻¹}** (Dong, Roth, Su 2022,
 *   "Gaussian differential privacy", JRSS-B, Section 4 on subsampling).
 */
export type PldDirection = 'remove' | 'add' | 'symmetric';

/** Tail mass a T-fold composition may move to +∞ (both tails together). */
const TAIL_MASS_TRUNCATION = 1e-15;
/** log of the noise mass left outside the one-step grid on each side (dp_accounting: −50). */
const LOG_NOISE_TAIL_MASS = -50;
/**
 * One-step losses below this are rounded up to it (pessimistic). They occur
 * with tiny probability (e.g. the add direction's far tail) and cannot reach
 * any ε ≥ 0 on their own, but they would widen every composed support; moving
 * them up changes composed ε by less than 1e-7 relative in our tests.
 */
const LOSS_FLOOR = -10;
/** The most points a one-step PLD may have; a wider grid is coarsened. */
const MAX_GRID_POINTS = 1 << 22;
/** The largest FFT a composition may use; a wider window is coarsened. */
const MAX_FFT_SIZE = 1 << 20;

// --- the standard normal and the Gaussian mechanism's privacy profile -------

/** log Φ(t) for the standard normal CDF, accurate in the lower tail. */
function logNormalCdf(t: number): number {
  // Φ(t) = ½·erfc(−t/√2).
  return logErfc(-t / Math.SQRT2) - LN2;
}

/** Φ(t), the standard normal CDF, with full relative accuracy in the lower tail. */
function normalCdf(t: number): number {
  return 0.5 * erfc(-t / Math.SQRT2);
}

/**
 * δ(ε) of the Gaussian mechanism with sensitivity 1 and noise std z, i.e. the
 * hockey-stick divergence H_{e^ε}(N(1, z²) ‖ N(0, z²)) for any real ε
 * (Balle and Wang 2018, "Improving the Gaussian mechanism for differential
 * privacy", ICML, Theorem 8): Φ(μ/2 − ε/μ) − e^ε·Φ(−μ/2 − ε/μ), μ = 1/z.
 */
export function gaussianDelta(options: { noiseMultiplier: number; epsilon: number }): number {
  const { noiseMultiplier: z, epsilon } = options;
  const mu = 1 / z;
  const a = mu / 2 - epsilon / mu;
  const b = -mu / 2 - epsilon / mu;
  let delta: number;
  if (a < 0) {
    // Both terms are lower-tail probabilities: form them in log space.
    const first = logNormalCdf(a);
    const second = epsilon + logNormalCdf(b);
    delta = second >= first ? 0 : Math.exp(first) * -Math.expm1(second - first);
  } else {
    delta = normalCdf(a) - Math.exp(epsilon + logNormalCdf(b));
  }
  return Math.min(1, Math.max(0, delta));
}

/**
 * δ(ε) = H_{e^ε}(P ‖ Q) of one step of the Poisson-subsampled Gaussian
 * mechanism (sampling rate q ∈ (0, 1], noise multiplier z, sensitivity 1) for
 * the given {@link PldDirection}, exactly, for any real ε. With δ_G the
 * Gaussian profile ({@link gaussianDelta}):
 * - remove: δ(ε) = q·δ_G(log(1 + (e^ε − 1)/q)) for ε > log(1 − q), else 1 − e^ε
 *   (Balle, Barthe, Gaboardi 2018, "Privacy amplification by subsampling",
 *   NeurIPS, Theorem 8 with the Gaussian's profile);
 * - add: δ(ε) = (1 − (1 − q)e^ε)·δ_G(−log(1 + (e^{−ε} − 1)/q)) for
 *   ε < −log(1 − q), else 0 — the same pair read in reverse, through
 *   H_{e^ε}(Q‖P) = 1 − e^ε + e^ε·H_{e^{−ε}}(P‖Q);
 * - symmetric: the larger of the two.
 */
export function poissonGaussianDelta(options: {
  sampleRate: number;
  noiseMultiplier: number;
  direction: PldDirection;
  epsilon: number;
}): number {
  const { sampleRate: q, noiseMultiplier: z, direction, epsilon } = options;
  if (direction === 'symmetric') {
    return Math.max(
      poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: 'remove', epsilon }),
      poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: 'add', epsilon }),
    );
  }
  if (direction === 'remove') {
    const ratio = Math.expm1(epsilon) / q; // (e^ε − 1)/q
    if (ratio <= -1) return -Math.expm1(epsilon);
    return Math.min(1, q * gaussianDelta({ noiseMultiplier: z, epsilon: Math.log1p(ratio) }));
  }
  const ratio = Math.expm1(-epsilon) / q; // (e^{−ε} − 1)/q
  if (ratio <= -1) return 0;
  // 1 − (1 − q)e^ε = q·e^ε·(1 + (e^{−ε} − 1)/q)
  const weight = q * Math.exp(epsilon) * (1 + ratio);
  return Math.min(
    1,
    Math.max(0, weight * gaussianDelta({ noiseMultiplier: z, epsilon: -Math.log1p(ratio) })),
  );
}

/** The privacy loss log(P/Q)(x) of the remove pair at output x (increasing in x). */
function removeLoss(q: number, z: number, x: number): number {
  const exponent = (2 * x - 1) / (2 * z * z);
  if (q === 1) return exponent;
  // log(1 − q + q·e^u), computed without overflow.
  const a = Math.log1p(-q);
  const b = Math.log(q) + exponent;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** t with Φ(−t) = ½·e^{LOG_NOISE_TAIL_MASS}: the noise quantile the grid reaches. */
const NOISE_TAIL_QUANTILE = (() => {
  const target = LOG_NOISE_TAIL_MASS - LN2;
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (logNormalCdf(-mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
})();

// --- the discrete PLD ----------------------------------------------------------

/**
 * A discrete privacy loss distribution: mass `probs[i]` at loss
 * (`lowerIndex` + i)·`discretization`, plus `infinityMass` at +∞. Immutable.
 */
export class DiscretePld {
  /** The grid width h. */
  readonly discretization: number;
  /** The grid index of `probs[0]`. */
  readonly lowerIndex: number;
  /** Masses on consecutive grid points (never negative). */
  readonly probs: Float64Array;
  /** Mass at +∞ (privacy loss unbounded; counted in every δ). */
  readonly infinityMass: number;

  constructor(options: {
    discretization: number;
    lowerIndex: number;
    probs: Float64Array;
    infinityMass: number;
  }) {
    this.discretization = options.discretization;
    this.lowerIndex = options.lowerIndex;
    this.probs = options.probs;
    this.infinityMass = Math.min(1, Math.max(0, options.infinityMass));
    Object.freeze(this);
  }

  /** The PLD of a mechanism that reveals nothing: all mass at loss 0. */
  static identity(discretization: number = DEFAULT_DISCRETIZATION): DiscretePld {
    return new DiscretePld({
      discretization,
      lowerIndex: 0,
      probs: Float64Array.of(1),
      infinityMass: 0,
    });
  }

  /**
   * δ(ε) = ∞-mass + Σ_{ℓ_i > ε} p_i·(1 − e^{ε − ℓ_i}): the hockey-stick
   * divergence of this PLD, i.e. the smallest δ with (ε, δ)-DP (ZDW 2022;
   * Sommer et al. 2019, Lemma 5).
   */
  deltaForEpsilon(epsilon: number): number {
    const h = this.discretization;
    const { probs } = this;
    let delta = 0;
    // Only atoms strictly above ε count; walk down from the top.
    for (let i = probs.length - 1; i >= 0; i--) {
      const loss = (this.lowerIndex + i) * h;
      if (loss <= epsilon) break;
      delta += (probs[i] as number) * -Math.expm1(epsilon - loss);
    }
    return Math.min(1, delta + this.infinityMass);
  }

  /**
   * The smallest ε ≥ 0 with δ(ε) ≤ `delta` for this PLD (+Infinity when even
   * the mass at +∞ exceeds δ). Exact for the discrete PLD: on each interval
   * between atoms δ(ε) = A − e^ε·B, solved in closed form.
   */
  epsilonForDelta(delta: number): number {
    if (this.infinityMass > delta) return Infinity;
    const h = this.discretization;
    const { probs } = this;
    const decay = Math.exp(-h);
    // upper = ∞-mass + Σ_{j ≥ i} p_j and scaled = Σ_{j ≥ i} p_j·e^{−(ℓ_j − ℓ_i)}; on the
    // interval [ℓ_{i−1}, ℓ_i] (unbounded below for i = 0) δ(ε) = upper − e^{ε − ℓ_i}·scaled.
    // Walking down keeps δ(ℓ_i) ≤ target, so the first interval whose left end
    // exceeds the target holds the answer.
    let upper = this.infinityMass;
    let scaled = 0;
    for (let i = probs.length - 1; i >= 0; i--) {
      upper += probs[i] as number;
      scaled = scaled * decay + (probs[i] as number);
      const atLeftEnd = i === 0 ? upper : upper - decay * scaled;
      if (atLeftEnd > delta) {
        const loss = (this.lowerIndex + i) * h;
        return Math.max(0, loss + Math.log((upper - delta) / scaled));
      }
    }
    return 0;
  }

  /**
   * The PLD of `count` independent runs of this one (count ≥ 0): the count-fold
   * convolution, by one FFT, a pointwise power and one inverse FFT. Only the
   * Chernoff window holding all but {@link TAIL_MASS_TRUNCATION} of the mass
   * is kept; the support is folded modulo the FFT size, which moves the
   * lower tail up (pessimistic) and the upper tail down, so the upper tail's
   * bound is added at +∞. If the window needs an FFT larger than 2^20 points,
   * the grid width is doubled ({@link DiscretePld.coarsened}, pessimistic)
   * until it fits. Spectra and moment generating functions are
   * cached per PLD, so repeated counts (calibration, curves) are cheap.
   */
  selfCompose(count: number): DiscretePld {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`selfCompose needs a whole number of runs, got ${count}`);
    }
    if (count === 0) return DiscretePld.identity(this.discretization);
    if (count === 1) return this;
    let composer = composerOf(this);
    for (;;) {
      const composed = composer.compose(count);
      if (composed) return composed;
      composer = composerOf(composer.pld.coarsened());
    }
  }

  /**
   * This PLD on a grid twice as wide, by connect-the-dots applied atom by
   * atom: an atom of mass p at loss ℓ between coarse points ℓ − h and ℓ + h
   * is split into p/(1 + e^{−h}) at ℓ + h and the rest at ℓ − h, which keeps
   * its δ exact at both points, its P- and Q-masses, and its δ(ε) above the
   * original for every ε (the chord of a convex function lies above it). The
   * result equals building the PLD on the coarse grid directly.
   */
  coarsened(): DiscretePld {
    const h = this.discretization;
    const first = this.lowerIndex;
    const lowerIndex = Math.floor(first / 2);
    const last = Math.ceil((first + this.probs.length - 1) / 2);
    const probs = new Float64Array(last - lowerIndex + 1);
    const up = 1 / (1 + Math.exp(-h));
    for (let i = 0; i < this.probs.length; i++) {
      const p = this.probs[i] as number;
      const index = first + i;
      if (index % 2 === 0) {
        const j = index / 2 - lowerIndex;
        probs[j] = (probs[j] as number) + p;
      } else {
        const j = (index - 1) / 2 - lowerIndex;
        probs[j + 1] = (probs[j + 1] as number) + p * up;
        probs[j] = (probs[j] as number) + p * (1 - up);
      }
    }
    return new DiscretePld({
      discretization: 2 * h,
      lowerIndex,
      probs,
      infinityMass: this.infinityMass,
    });
  }

  /**
   * The PLD of running this mechanism and then `other` (same grid width): the
   * convolution of the two, by FFT (both coarsened first if the result would
   * need an FFT of more than 2^20 points). Tails holding at most half of
   * {@link TAIL_MASS_TRUNCATION} each are trimmed: the lower one onto the
   * lowest kept atom (rounding up), the upper one to +∞.
   */
  compose(other: DiscretePld): DiscretePld {
    if (other.discretization !== this.discretization) {
      throw new RangeError('PLDs on different grids cannot be composed');
    }
    if (nextPowerOfTwo(this.probs.length + other.probs.length - 1) > MAX_FFT_SIZE) {
      // Too wide for one FFT: both on a grid twice as wide (pessimistic), then retry.
      return this.coarsened().compose(other.coarsened());
    }
    const a = this.probs;
    const b = other.probs;
    const length = a.length + b.length - 1;
    let full: Float64Array;
    if (Math.min(a.length, b.length) <= 64) {
      full = new Float64Array(length);
      for (let i = 0; i < a.length; i++) {
        const ai = a[i] as number;
        if (ai === 0) continue;
        for (let j = 0; j < b.length; j++)
          full[i + j] = (full[i + j] as number) + ai * (b[j] as number);
      }
    } else {
      const n = Math.max(2, nextPowerOfTwo(length));
      const fa = realFft(a, n);
      const fb = realFft(b, n);
      for (let k = 0; k < fa.re.length; k++) {
        const ar = fa.re[k] as number;
        const ai = fa.im[k] as number;
        const br = fb.re[k] as number;
        const bi = fb.im[k] as number;
        fa.re[k] = ar * br - ai * bi;
        fa.im[k] = ar * bi + ai * br;
      }
      full = inverseRealFft(fa).subarray(0, length);
    }
    let lo = 0;
    let below = 0;
    const half = TAIL_MASS_TRUNCATION / 2;
    while (lo < length - 1 && below + Math.max(0, full[lo] as number) <= half) {
      below += Math.max(0, full[lo] as number);
      lo++;
    }
    let hi = length - 1;
    let above = 0;
    while (hi > lo && above + Math.max(0, full[hi] as number) <= half) {
      above += Math.max(0, full[hi] as number);
      hi--;
    }
    const out = new Float64Array(hi - lo + 1);
    for (let i = lo; i <= hi; i++) out[i - lo] = Math.max(0, full[i] as number);
    out[0] = (out[0] as number) + below;
    const infinityMass =
      this.infinityMass + other.infinityMass - this.infinityMass * other.infinityMass + above;
    return new DiscretePld({
      discretization: this.discretization,
      lowerIndex: this.lowerIndex + other.lowerIndex + lo,
      probs: out,
      infinityMass,
    });
  }
}

/**
 * log Σ_i p_i·e^{λi}, shifted by the largest exponent so nothing overflows. The
 * exponentials are formed by repeated multiplication, restarted from an exact
 * exp every 256 terms to keep the rounding error negligible.
 */
function logMomentGenerating(probs: Float64Array, lambda: number): number {
  const m = probs.length;
  const shift = lambda > 0 ? lambda * (m - 1) : 0;
  const ratio = Math.exp(lambda);
  let sum = 0;
  for (let start = 0; start < m; start += 256) {
    let term = Math.exp(lambda * start - shift);
    const end = Math.min(m, start + 256);
    for (let i = start; i < end; i++) {
      sum += (probs[i] as number) * term;
      term *= ratio;
    }
  }
  return sum > 0 ? Math.log(sum) + shift : -Infinity;
}

/** The polar form of a PLD's half spectrum at one FFT size. */
interface PolarSpectrum {
  readonly n: number;
  /** log |X_k| (−Infinity where X_k = 0). */
  readonly logMagnitude: Float64Array;
  /** arg X_k. */
  readonly angle: Float64Array;
}

/**
 * Everything the self-composition of one PLD reuses across counts: the log
 * moment generating function on a fixed geometric grid of λ (for the Chernoff
 * window) and the polar spectra at the FFT sizes used so far.
 */
class Composer {
  readonly pld: DiscretePld;
  private readonly lambdas: number[] = [];
  private readonly logMgfs: number[] = [];
  private readonly spectra = new Map<number, PolarSpectrum>();

  constructor(pld: DiscretePld) {
    this.pld = pld;
    const m = pld.probs.length;
    // |λ| from 1e-9 to 16/m·… spaced by √2; both signs. The bound at the best
    // grid λ is within a few per cent of the optimal Chernoff bound.
    const top = Math.max(16 / Math.max(m - 1, 1), 1e-3);
    for (let magnitude = 1e-9; magnitude <= top * 1.0001; magnitude *= Math.SQRT2) {
      for (const lambda of [magnitude, -magnitude]) {
        const value = logMomentGenerating(pld.probs, lambda);
        if (Number.isFinite(value)) {
          this.lambdas.push(lambda);
          this.logMgfs.push(value);
        }
      }
    }
  }

  /**
   * Indices [lower, upper] (relative to count·lowerIndex) outside which the
   * count-fold convolution has at most `tail` mass: P(S ≥ u) ≤ M(λ)^count·e^{−λu}
   * for λ > 0 and its mirror for λ < 0, each tail getting tail/2.
   */
  window(count: number, tail: number): { lower: number; upper: number } {
    const top = (this.pld.probs.length - 1) * count;
    const logTwoOverTail = Math.log(2 / tail);
    let lower = 0;
    let upper = top;
    for (let k = 0; k < this.lambdas.length; k++) {
      const lambda = this.lambdas[k] as number;
      const bound = (count * (this.logMgfs[k] as number) + logTwoOverTail) / lambda;
      if (!Number.isFinite(bound)) continue;
      if (lambda > 0) upper = Math.min(upper, Math.ceil(bound));
      else lower = Math.max(lower, Math.floor(bound));
    }
    lower = Math.max(0, Math.min(lower, top));
    upper = Math.max(lower, Math.min(upper, top));
    return { lower, upper };
  }

  private spectrum(n: number): PolarSpectrum {
    const hit = this.spectra.get(n);
    if (hit) return hit;
    const { probs } = this.pld;
    // Fold the support modulo n: the circular convolution of folded inputs is
    // the folded linear convolution.
    const folded = new Float64Array(n);
    for (let i = 0, r = 0; i < probs.length; i++, r = r + 1 === n ? 0 : r + 1) {
      folded[r] = (folded[r] as number) + (probs[i] as number);
    }
    const { re, im } = realFft(folded, n);
    const logMagnitude = new Float64Array(re.length);
    const angle = new Float64Array(re.length);
    for (let k = 0; k < re.length; k++) {
      const x = re[k] as number;
      const y = im[k] as number;
      logMagnitude[k] = 0.5 * Math.log(x * x + y * y);
      angle[k] = Math.atan2(y, x);
    }
    const polar = { n, logMagnitude, angle };
    if (this.spectra.size >= 3) {
      const oldest = this.spectra.keys().next().value;
      if (oldest !== undefined) this.spectra.delete(oldest);
    }
    this.spectra.set(n, polar);
    return polar;
  }

  /** The count-fold PLD, or undefined when its window needs too large an FFT. */
  compose(count: number): DiscretePld | undefined {
    const { lower, upper } = this.window(count, TAIL_MASS_TRUNCATION);
    const n = Math.max(2, nextPowerOfTwo(upper - lower + 1));
    if (n > MAX_FFT_SIZE) return undefined;
    // Keep one whole period: mass from below the window then lands above where it
    // belongs (rounded up, pessimistic) instead of being dropped.
    const width = n;
    const { logMagnitude, angle } = this.spectrum(n);
    const half = logMagnitude.length;
    const re = new Float64Array(half);
    const im = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const logPower = count * (logMagnitude[k] as number);
      // |X_k|^count below e^−700 no longer contributes anything representable.
      if (!(logPower > -700)) continue;
      const magnitude = Math.exp(logPower);
      const phase = count * (angle[k] as number);
      re[k] = magnitude * Math.cos(phase);
      im[k] = magnitude * Math.sin(phase);
    }
    const circular = inverseRealFft({ n, re, im });
    const out = new Float64Array(width);
    let r = lower % n;
    for (let j = 0; j < width; j++) {
      const value = circular[r] as number;
      out[j] = value > 0 ? value : 0;
      r = r + 1 === n ? 0 : r + 1;
    }
    const pld = this.pld;
    return new DiscretePld({
      discretization: pld.discretization,
      lowerIndex: pld.lowerIndex * count + lower,
      probs: out,
      infinityMass: -Math.expm1(count * Math.log1p(-pld.infinityMass)) + TAIL_MASS_TRUNCATION / 2,
    });
  }
}

const composers = new WeakMap<DiscretePld, Composer>();

function composerOf(pld: DiscretePld): Composer {
  let composer = composers.get(pld);
  if (!composer) {
    composer = new Composer(pld);
    composers.set(pld, composer);
  }
  return composer;
}

/**
 * The pessimistic connect-the-dots PLD (Doroshenko et al. 2022, Algorithm 1,
 * equal gaps) of a mechanism with hockey-stick profile `deltaAt`, on the grid
 * i·h for i = lowerIndex … upperIndex. With δ_i = δ(ε_i) and g_i =
 * (δ_{i−1} − δ_i)/(1 − e^{−h}), the masses are p_i = g_i − e^{−h}·g_{i+1}
 * (g beyond the top is 0), the lowest atom takes what is left of 1, and δ at
 * the top grid point goes to +∞. Negative masses from round-off become 0
 * (which can only raise δ).
 *
 * For ε ≤ 0, δ(ε) = 1 − e^ε + e^ε·H_{e^{−ε}}(Q‖P), and 1 − e^ε (affine in
 * e^ε) contributes no mass to any atom; when `reverseAt` (the reverse pair's
 * profile, H_{e^ε}(Q‖P)) is given, the masses there are formed from the small
 * remainder e^ε·H_{e^{−ε}}(Q‖P) alone, which avoids differencing numbers close
 * to 1 (whose round-off would otherwise add ~1e-12 of spurious mass per atom).
 */
function connectTheDots(
  deltaAt: (epsilon: number) => number,
  lowerIndex: number,
  upperIndex: number,
  h: number,
  reverseAt?: (epsilon: number) => number,
): DiscretePld {
  const count = upperIndex - lowerIndex + 1;
  const deltas = new Float64Array(count);
  // rest[i] = δ_i − (1 − e^{ε_i}) where ε_i ≤ 0 and reverseAt is known, NaN elsewhere.
  const rest = new Float64Array(count).fill(Number.NaN);
  let previous = 1;
  for (let i = 0; i < count; i++) {
    const epsilon = (lowerIndex + i) * h;
    if (reverseAt && epsilon <= 0) {
      const remainder = Math.max(0, Math.exp(epsilon) * reverseAt(-epsilon));
      rest[i] = remainder;
      deltas[i] = Math.min(1, -Math.expm1(epsilon) + remainder);
      previous = deltas[i] as number;
      continue;
    }
    // δ is non-increasing in ε; clip round-off that would break it.
    const value = Math.min(previous, Math.max(0, deltaAt(epsilon)));
    deltas[i] = value;
    previous = value;
  }
  const probs = new Float64Array(count);
  if (count === 1) {
    probs[0] = 1 - (deltas[0] as number);
    return new DiscretePld({
      discretization: h,
      lowerIndex,
      probs,
      infinityMass: deltas[0] as number,
    });
  }
  const decay = Math.exp(-h);
  const scale = 1 / -Math.expm1(-h); // 1/(1 − e^{−h})
  // g_i, and for ε_i ≤ 0 also its part without the affine term (γ_i = e^{ε_i}).
  const g = (i: number): number => {
    const r0 = rest[i - 1] as number;
    const r1 = rest[i] as number;
    if (!Number.isNaN(r0) && !Number.isNaN(r1)) {
      return Math.exp((lowerIndex + i) * h) + (r0 - r1) * scale;
    }
    return ((deltas[i - 1] as number) - (deltas[i] as number)) * scale;
  };
  const gRest = (i: number): number => ((rest[i - 1] as number) - (rest[i] as number)) * scale;
  const affineBoth = (i: number): boolean =>
    i + 1 < count &&
    !Number.isNaN(rest[i - 1] as number) &&
    !Number.isNaN(rest[i] as number) &&
    !Number.isNaN(rest[i + 1] as number);
  for (let i = count - 1; i >= 1; i--) {
    const value = affineBoth(i)
      ? gRest(i) - decay * gRest(i + 1)
      : g(i) - decay * (i + 1 < count ? g(i + 1) : 0);
    probs[i] = Math.max(0, value);
  }
  // The lowest atom takes what is left of 1 (compensated sum: up to 4·2^20 terms).
  let sum = deltas[count - 1] as number;
  let compensation = 0;
  for (let i = 1; i < count; i++) {
    const y = (probs[i] as number) - compensation;
    const t = sum + y;
    compensation = t - sum - y;
    sum = t;
  }
  probs[0] = Math.max(0, 1 - sum);
  return new DiscretePld({
    discretization: h,
    lowerIndex,
    probs,
    infinityMass: deltas[count - 1] as number,
  });
}

/**
 * The range of privacy losses the one-step grid must cover: the loss at the
 * two noise quantiles that leave ½·e^{−50} of each Gaussian component outside
 * (dp_accounting's truncation), floored at {@link LOSS_FLOOR}. Mass above the
 * top goes to +∞; mass below the bottom is rounded up onto the lowest atom.
 */
function lossRange(q: number, z: number, direction: PldDirection): { lo: number; hi: number } {
  const t = NOISE_TAIL_QUANTILE;
  const xLow = -t * z;
  const xHigh = 1 + t * z;
  const removeLo = removeLoss(q, z, xLow);
  const removeHi = removeLoss(q, z, xHigh);
  let range: { lo: number; hi: number };
  switch (direction) {
    case 'remove':
      range = { lo: removeLo, hi: removeHi };
      break;
    case 'add':
      range = { lo: -removeHi, hi: -removeLo };
      break;
    case 'symmetric':
      range = { lo: Math.min(removeLo, -removeHi), hi: Math.max(removeHi, -removeLo) };
      break;
  }
  return { lo: Math.min(Math.max(range.lo, LOSS_FLOOR), range.hi), hi: range.hi };
}

/**
 * The pessimistic connect-the-dots PLD (Doroshenko et al. 2022, Algorithm 1)
 * of any mechanism given by its privacy profile: `deltaAt(ε)` must return the
 * exact hockey-stick divergence H_{e^ε}(P‖Q) of a dominating pair, for every
 * real ε (non-increasing in ε, convex in e^ε). The grid runs from
 * ⌊lossLower/h⌋ to ⌈lossUpper/h⌉; δ at the top grid point goes to +∞ and all
 * mass below the bottom is rounded up onto it, so the PLD's δ(ε) is never below
 * `deltaAt(ε)` for any ε.
 */
export function pldFromProfile(options: {
  deltaAt: (epsilon: number) => number;
  /** The reverse pair's profile H_{e^ε}(Q‖P), if known: sharper masses for ε ≤ 0. */
  reverseDeltaAt?: (epsilon: number) => number;
  lossLower: number;
  lossUpper: number;
  discretization?: number;
}): DiscretePld {
  let h = options.discretization ?? DEFAULT_DISCRETIZATION;
  const { lossLower: lo, lossUpper: hi } = options;
  if (!(hi >= lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    throw new RangeError(`pldFromProfile needs a finite loss range, got [${lo}, ${hi}]`);
  }
  while ((hi - lo) / h + 2 > MAX_GRID_POINTS) h *= 2;
  const lowerIndex = Math.floor(lo / h);
  return connectTheDots(
    options.deltaAt,
    lowerIndex,
    Math.max(lowerIndex, Math.ceil(hi / h)),
    h,
    options.reverseDeltaAt,
  );
}

/**
 * The pessimistic discrete PLD (Doroshenko et al. 2022, connect the dots) of
 * one step of the Poisson-subsampled Gaussian mechanism — sampling rate q ∈
 * (0, 1], noise multiplier z > 0, sensitivity 1 — for one
 * {@link PldDirection}, on a grid of width `discretization` (default
 * {@link DEFAULT_DISCRETIZATION}). q = 1 is the plain Gaussian mechanism. A
 * grid that would need more than 4·2^20 points is widened (the result stays a
 * valid upper bound, only less tight).
 */
export function poissonGaussianPld(options: {
  sampleRate: number;
  noiseMultiplier: number;
  direction: PldDirection;
  discretization?: number;
}): DiscretePld {
  const { sampleRate: q, noiseMultiplier: z, direction } = options;
  let h = options.discretization ?? DEFAULT_DISCRETIZATION;
  const { lo, hi } = lossRange(q, z, direction);
  while ((hi - lo) / h + 2 > MAX_GRID_POINTS) h *= 2;
  const lowerIndex = Math.floor(lo / h);
  const upperIndex = Math.max(lowerIndex, Math.ceil(hi / h));
  const reverse: PldDirection =
    direction === 'remove' ? 'add' : direction === 'add' ? 'remove' : 'symmetric';
  return connectTheDots(
    (epsilon) => poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction, epsilon }),
    lowerIndex,
    upperIndex,
    h,
    (epsilon) =>
      poissonGaussianDelta({ sampleRate: q, noiseMultiplier: z, direction: reverse, epsilon }),
  );
}
