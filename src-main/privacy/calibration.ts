/**
 * Calibration: the noise a run needs for a target (ε, δ), and the number of
 * steps a budget allows. Both search on the accountant's own ε (monotone in σ
 * and in the step count, since RDP composes linearly) and re-check the answer
 * with a fresh accountant, so they never return a setting that overshoots.
 */
import { UserError } from '../contract/errors';
import { epsilonFromRdp } from './conversion';
import {
  accountantFor,
  epsilonOf,
  stepEvent,
  validateMechanismSpec,
  type MechanismSpec,
  type MechanismSpecWithoutSigma,
  type MechanismSpecWithoutSteps,
} from './mechanisms';
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
 * and optimal order it actually achieves. The answer is re-checked with a
 * fresh accountant and never overshoots the target. σ is never proposed below
 * {@link SIGMA_MIN}; a target needing more than {@link SIGMA_MAX} throws
 * UserError('UNREACHABLE_TARGET').
 */
export function calibrateSigma(options: {
  spec: MechanismSpecWithoutSigma;
  epsilon: number;
  delta: number;
}): { sigma: number; epsilon: number; order: number } {
  const spec = validateMechanismSpec(options?.spec, ['sigma']);
  requireInteger('steps', spec.steps, 1);
  const target = requireTargetEpsilon(options.epsilon);
  const delta = requireDelta('delta', options.delta);
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
 * saying what to change.
 */
export function maxSteps(options: {
  spec: MechanismSpecWithoutSteps;
  epsilon: number;
  delta: number;
  limit?: number;
}): { steps: number; epsilon: number } {
  const spec = validateMechanismSpec(options?.spec, ['steps']);
  const target = requireTargetEpsilon(options.epsilon);
  const delta = requireDelta('delta', options.delta);
  const limit = requireInteger('limit', options.limit ?? DEFAULT_STEP_LIMIT, 1);
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
