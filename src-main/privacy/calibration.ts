/**
 * Calibration: the noise a run needs for a target (ε, δ), and the number of
 * steps a budget allows, under either accountant (RDP by default, or PLD).
 * Both search on the accountant's own ε (monotone in σ and in the step count)
 * and re-check the answer with a fresh accountant, so they never return a
 * setting that overshoots.
 */
import { UserError } from '../contract/errors';
import { epsilonFromRdp } from './conversion';
import {
  accountantFor,
  epsilonOf,
  pldAccountantFor,
  stepEvent,
  validateAccountant,
  validateMechanismSpec,
  type AccountingOptions,
  type MechanismSpec,
  type MechanismSpecWithoutSigma,
  type MechanismSpecWithoutSteps,
} from './mechanisms';
import { DEFAULT_DISCRETIZATION } from './pld';
import { rdpOfEvent } from './rdp';
import { DEFAULT_ORDERS } from './orders';
import { invalid, requireDelta, requireInteger } from './validate';

/** Calibration never proposes less noise than this (σ below it gives no meaningful privacy). */
export const SIGMA_MIN = 0.1;
/** Targets that would need more noise than this are reported as unreachable. */
export const SIGMA_MAX = 1e4;
/** Relative width at which the σ bisection stops (well below the 1e-4 promised). */
const SIGMA_RELATIVE_TOLERANCE = 1e-5;
/** Default cap of {@link maxSteps}. */
export const DEFAULT_STEP_LIMIT = 10_000_000;

function requireTargetEpsilon(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid('epsilon', value, 'a finite number greater than 0 (for example 3)');
  }
  return value;
}

function withSigma(spec: MechanismSpecWithoutSigma, sigma: number): MechanismSpec {
  return { ...spec, sigma } as MechanismSpec;
}

function whatToChange(spec: { mechanism: string }, fewerSteps = true): string {
  const steps = fewerSteps ? ', train for fewer steps' : '';
  switch (spec.mechanism) {
    case 'dpsgd':
      return `raise ε${steps}, or lower the sampling rate (smaller batches)`;
    case 'dp2vae':
      return `raise ε${steps}, or split the data into more blocks`;
    default:
      return fewerSteps ? 'raise ε or train for fewer steps' : 'raise ε';
  }
}

/**
 * The smallest noise σ (to ~1e-5 relative, by bisection on log σ) for which
 * the run described by `spec` is (ε, δ)-DP with ε ≤ `epsilon`, with the ε
 * and optimal order it actually achieves (order NaN under PLD). The answer is
 * re-checked with a fresh accountant and never overshoots the target. σ is
 * never proposed below {@link SIGMA_MIN}; a target needing more than
 * {@link SIGMA_MAX} throws UserError('UNREACHABLE_TARGET'). `accountant`
 * chooses RDP (default) or PLD; the PLD search is seeded by the RDP answer and
 * refined by safeguarded false position (see {@link calibrateSigmaPld}).
 */
export function calibrateSigma(
  options: {
    spec: MechanismSpecWithoutSigma;
    epsilon: number;
    delta: number;
  } & AccountingOptions,
): { sigma: number; epsilon: number; order: number } {
  const spec = validateMechanismSpec(options?.spec, ['sigma']);
  requireInteger('steps', spec.steps, 1);
  const target = requireTargetEpsilon(options.epsilon);
  const delta = requireDelta('delta', options.delta);
  if (validateAccountant(options.accountant) === 'pld') {
    return calibrateSigmaPld(spec, target, delta, options.discretization);
  }
  const epsilonAt = (sigma: number): number =>
    epsilonOf({ spec: withSigma(spec, sigma), delta }).epsilon;

  // Bracket [lo, hi] with ε(hi) ≤ target < ε(lo), widening from σ = 1 by doubling.
  let lo: number;
  let hi: number;
  if (epsilonAt(1) <= target) {
    hi = 1;
    lo = 0.5;
    while (lo > SIGMA_MIN && epsilonAt(lo) <= target) {
      hi = lo;
      lo = Math.max(lo / 2, SIGMA_MIN);
    }
    if (lo === SIGMA_MIN && epsilonAt(lo) <= target) hi = lo;
  } else {
    lo = 1;
    hi = 2;
    while (epsilonAt(hi) > target) {
      if (hi >= SIGMA_MAX) {
        throw new UserError(
          'UNREACHABLE_TARGET',
          `The privacy target ε = ${target} at δ = ${delta} cannot be reached: even noise ` +
            `σ = ${SIGMA_MAX} gives ε = ${epsilonAt(SIGMA_MAX).toPrecision(4)}. ` +
            `To reach it, ${whatToChange(spec)}.`,
        );
      }
      lo = hi;
      hi = Math.min(hi * 2, SIGMA_MAX);
    }
  }
  if (hi > lo) {
    while (hi / lo > 1 + SIGMA_RELATIVE_TOLERANCE) {
      const mid = Math.sqrt(lo * hi);
      if (epsilonAt(mid) <= target) hi = mid;
      else lo = mid;
    }
  }
  // Re-check with a fresh accountant; step up by the tolerance until it holds.
  for (;;) {
    const check = accountantFor(withSigma(spec, hi)).epsilon({ delta });
    if (check.epsilon <= target) return { sigma: hi, epsilon: check.epsilon, order: check.order };
    hi *= 1 + SIGMA_RELATIVE_TOLERANCE;
  }
}

/**
 * The largest number of steps T ≤ `limit` (default 10 000 000) for which the
 * run described by `spec` stays within ε ≤ `epsilon` at δ, with the ε it
 * spends. ε grows with T because RDP composes linearly (Mironov 2017,
 * Proposition 1), so the per-step RDP is computed once and the search is
 * exact. If even one step overshoots, throws UserError('UNREACHABLE_TARGET')
 * saying what to change. Under `accountant: 'pld'` the search is seeded by the
 * RDP answer (PLD's ε is never above RDP's, up to the grid) and every probe
 * is a PLD composition (see {@link maxStepsPld}).
 */
export function maxSteps(
  options: {
    spec: MechanismSpecWithoutSteps;
    epsilon: number;
    delta: number;
    limit?: number;
  } & AccountingOptions,
): { steps: number; epsilon: number } {
  const spec = validateMechanismSpec(options?.spec, ['steps']);
  const target = requireTargetEpsilon(options.epsilon);
  const delta = requireDelta('delta', options.delta);
  const limit = requireInteger('limit', options.limit ?? DEFAULT_STEP_LIMIT, 1);
  if (validateAccountant(options.accountant) === 'pld') {
    return maxStepsPld(spec, target, delta, limit, options.discretization);
  }
  const { event, neighbouring } = stepEvent(spec);
  const perStep = rdpOfEvent({ event, neighbouring });
  const epsilonAt = (steps: number): number =>
    epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp: perStep.map((r) => steps * r), delta }).epsilon;

  if (epsilonAt(1) > target) {
    throw new UserError(
      'UNREACHABLE_TARGET',
      `Even a single training step spends more than ε = ${target} at δ = ${delta} ` +
        `(one step gives ε = ${epsilonAt(1).toPrecision(4)}), so no steps are possible. ` +
        `Add more noise (a larger σ), or ${whatToChange(spec, false)}.`,
    );
  }
  let steps: number;
  if (epsilonAt(limit) <= target) {
    steps = limit;
  } else {
    // ε(lo) ≤ target < ε(hi).
    let lo = 1;
    let hi = 2;
    while (hi < limit && epsilonAt(hi) <= target) {
      lo = hi;
      hi = Math.min(hi * 2, limit);
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (epsilonAt(mid) <= target) lo = mid;
      else hi = mid;
    }
    steps = lo;
  }
  // Re-check with a fresh accountant.
  for (; steps > 0; steps--) {
    const check = accountantFor({ ...spec, steps } as MechanismSpec).epsilon({ delta });
    if (check.epsilon <= target) return { steps, epsilon: check.epsilon };
  }
  throw new UserError(
    'UNREACHABLE_TARGET',
    `No number of steps keeps ε within ${target} at δ = ${delta}. ` +
      `Add more noise (a larger σ), or ${whatToChange(spec, false)}.`,
  );
}

// --- PLD ---------------------------------------------------------------------

/** ε of `spec` by the PLD accountant at grid width h. */
function pldEpsilon(spec: MechanismSpec, delta: number, h: number): number {
  return pldAccountantFor(spec, { discretization: h }).epsilon({ delta }).epsilon;
}

/**
 * {@link calibrateSigma} under PLD. ε(σ) is computed by a full PLD composition
 * per probe (0.1–1 s), so the search is economical: (1) the RDP σ is an upper
 * bracket (PLD's ε is at most RDP's); (2) a coarse grid (10·h, whose ε is never
 * below the fine grid's, since the coarse grid points are fine grid points)
 * locates σ to ~1e-3; (3) the fine grid brackets it and closes the bracket to
 * {@link SIGMA_RELATIVE_TOLERANCE} by false position on log ε against log σ
 * (Illinois variant), probing just inside the upper end once close. The
 * returned σ always has a verified ε ≤ target.
 */
export function calibrateSigmaPld(
  spec: MechanismSpecWithoutSigma,
  target: number,
  delta: number,
  discretization?: number,
): { sigma: number; epsilon: number; order: number } {
  const h = discretization ?? DEFAULT_DISCRETIZATION;
  const fine = (sigma: number): number => pldEpsilon(withSigma(spec, sigma), delta, h);
  const coarse = (sigma: number): number =>
    pldEpsilon(withSigma(spec, sigma), delta, Math.min(1, 10 * h));
  const rdp = calibrateSigma({ spec, epsilon: target, delta });
  if (rdp.sigma <= SIGMA_MIN) {
    const epsilon = fine(SIGMA_MIN);
    if (epsilon <= target) return { sigma: SIGMA_MIN, epsilon, order: Number.NaN };
  }
  // Coarse stage: bracket below the RDP σ.
  let hi = rdp.sigma;
  let hiEps = coarse(hi);
  while (hiEps > target) {
    if (hi >= SIGMA_MAX) {
      throw new UserError(
        'UNREACHABLE_TARGET',
        `The privacy target ε = ${target} at δ = ${delta} cannot be reached: even noise ` +
          `σ = ${SIGMA_MAX} gives ε = ${hiEps.toPrecision(4)}. To reach it, ${whatToChange(spec)}.`,
      );
    }
    hi = Math.min(hi * 1.25, SIGMA_MAX);
    hiEps = coarse(hi);
  }
  const estimate = searchSigma(coarse, target, hi, hiEps, 1e-3);
  // Fine stage: the coarse answer is (up to round-off) an upper bound for the fine one.
  hi = estimate.sigma;
  hiEps = fine(hi);
  while (hiEps > target) {
    hi = Math.min(hi * 1.01, SIGMA_MAX);
    hiEps = fine(hi);
    if (hi >= SIGMA_MAX && hiEps > target) {
      throw new UserError(
        'UNREACHABLE_TARGET',
        `The privacy target ε = ${target} at δ = ${delta} cannot be reached: even noise ` +
          `σ = ${SIGMA_MAX} gives ε = ${hiEps.toPrecision(4)}. To reach it, ${whatToChange(spec)}.`,
      );
    }
  }
  const result = searchSigma(fine, target, hi, hiEps, SIGMA_RELATIVE_TOLERANCE);
  return { sigma: result.sigma, epsilon: result.epsilon, order: Number.NaN };
}

/**
 * The smallest σ ≥ SIGMA_MIN (to `tolerance` relative) with epsilonAt(σ) ≤
 * target, given hi with epsilonAt(hi) = hiEps ≤ target: finds a lower bracket
 * by stepping down, then closes the bracket by Illinois false position on
 * (log σ, log ε), with bisection when false position stalls.
 */
function searchSigma(
  epsilonAt: (sigma: number) => number,
  target: number,
  hiStart: number,
  hiEpsStart: number,
  tolerance: number,
): { sigma: number; epsilon: number } {
  let hi = hiStart;
  let hiEps = hiEpsStart;
  let lo = hi;
  let loEps = hiEps;
  let step = 0.97;
  while (loEps <= target) {
    if (lo <= SIGMA_MIN) return { sigma: SIGMA_MIN, epsilon: loEps };
    hi = lo;
    hiEps = loEps;
    lo = Math.max(SIGMA_MIN, lo * step);
    loEps = epsilonAt(lo);
    step *= step;
  }
  // f(s) = log ε(e^s) − log target: f(lo) > 0 ≥ f(hi).
  const logTarget = Math.log(target);
  const f = (eps: number): number => (eps > 0 ? Math.log(eps) - logTarget : -Infinity);
  let a = Math.log(lo);
  let fa = f(loEps);
  let b = Math.log(hi);
  let fb = f(hiEps);
  let side = 0;
  const width = Math.log1p(tolerance);
  for (let iteration = 0; iteration < 200 && b - a > width; iteration++) {
    let s: number;
    if (b - a < 4 * width) {
      s = b - 0.9 * width; // close from the feasible side
    } else if (Number.isFinite(fa) && Number.isFinite(fb) && fa !== fb) {
      s = b - (fb * (b - a)) / (fb - fa);
      // Keep the probe well inside the bracket.
      const margin = 0.02 * (b - a);
      s = Math.min(b - margin, Math.max(a + margin, s));
    } else {
      s = (a + b) / 2;
    }
    const eps = epsilonAt(Math.exp(s));
    const fs = f(eps);
    if (fs <= 0) {
      b = s;
      fb = fs;
      hiEps = eps;
      if (side === 1) fa /= 2; // Illinois: the stale end's value is halved
      side = 1;
    } else {
      a = s;
      fa = fs;
      if (side === -1) fb /= 2;
      side = -1;
    }
  }
  return { sigma: Math.exp(b), epsilon: hiEps };
}

/**
 * {@link maxSteps} under PLD: the RDP answer T₀ is feasible (PLD's ε is at most
 * RDP's; checked, and stepped down if the grid says otherwise), the upper
 * bracket is found by growing T geometrically, and the bracket is closed by
 * bisection on T. Every probe is one PLD self-composition; the one-step PLDs,
 * their spectra and moment generating functions are cached across probes.
 */
export function maxStepsPld(
  spec: MechanismSpecWithoutSteps,
  target: number,
  delta: number,
  limit: number,
  discretization?: number,
): { steps: number; epsilon: number } {
  const h = discretization ?? DEFAULT_DISCRETIZATION;
  const epsilonAt = (steps: number): number =>
    pldEpsilon({ ...spec, steps } as MechanismSpec, delta, h);
  const one = epsilonAt(1);
  if (one > target) {
    throw new UserError(
      'UNREACHABLE_TARGET',
      `Even a single training step spends more than ε = ${target} at δ = ${delta} ` +
        `(one step gives ε = ${one.toPrecision(4)}), so no steps are possible. ` +
        `Add more noise (a larger σ), or ${whatToChange(spec, false)}.`,
    );
  }
  // RDP's answer, or 1 when RDP says even one step overshoots (PLD may still allow some).
  let lo: number;
  try {
    lo = maxSteps({ spec, epsilon: target, delta, limit }).steps;
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    lo = 1;
  }
  let loEps = lo === 1 ? one : epsilonAt(lo);
  while (loEps > target && lo > 1) {
    lo = Math.max(1, Math.floor(lo * 0.9));
    loEps = epsilonAt(lo);
  }
  // Grow an infeasible upper end.
  let hi = lo;
  let factor = 1.25;
  for (;;) {
    if (hi >= limit) return { steps: lo, epsilon: loEps };
    const next = Math.min(limit, Math.max(hi + 1, Math.floor(hi * factor)));
    const eps = epsilonAt(next);
    if (eps > target) {
      hi = next;
      break;
    }
    lo = next;
    loEps = eps;
    hi = next;
    factor = Math.min(factor * factor, 4);
  }
  // Close [lo, hi] (ε(lo) ≤ target < ε(hi)) by Illinois false position on
  // (log T, log ε), bisecting once the bracket is a few steps wide.
  const logTarget = Math.log(target);
  let fLo = Math.log(Math.max(loEps, Number.MIN_VALUE)) - logTarget;
  let fHi = Math.log(epsilonAt(hi)) - logTarget;
  let side = 0;
  while (hi - lo > 1) {
    let mid: number;
    if (hi - lo <= 4 || !(fHi > fLo)) {
      mid = Math.floor((lo + hi) / 2);
    } else {
      const a = Math.log(lo);
      const b = Math.log(hi);
      mid = Math.round(Math.exp(a - (fLo * (b - a)) / (fHi - fLo)));
      mid = Math.min(hi - 1, Math.max(lo + 1, mid));
    }
    const eps = epsilonAt(mid);
    const f = Math.log(Math.max(eps, Number.MIN_VALUE)) - logTarget;
    if (eps <= target) {
      lo = mid;
      loEps = eps;
      fLo = f;
      if (side === 1) fHi /= 2;
      side = 1;
    } else {
      hi = mid;
      fHi = f;
      if (side === -1) fLo /= 2;
      side = -1;
    }
  }
  return { steps: lo, epsilon: loEps };
}
