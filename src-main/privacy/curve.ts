/**
 * ε as a function of the number of training steps, for the live "what does
 * this budget buy" views.
 */
import { epsilonFromRdp } from './conversion';
import {
  pldAccountantFor,
  stepEvent,
  validateAccountant,
  validateMechanismSpec,
  type AccountingOptions,
  type MechanismSpec,
  type MechanismSpecWithoutSteps,
} from './mechanisms';
import { DEFAULT_ORDERS } from './orders';
import { rdpOfEvent } from './rdp';
import { requireDelta, requireInteger } from './validate';

/** The most points one curve may have. */
export const MAX_CURVE_POINTS = 10_000;

/**
 * ε after T steps for `points` values of T spread evenly over 1…`maxSteps`
 * (T_k = round(k·maxSteps/points), duplicates dropped, the last one is
 * `maxSteps`). The per-step RDP vector is computed once and scaled by T, since
 * RDP composes linearly (Mironov 2017, Proposition 1); each point is then one
 * RDP → (ε, δ) conversion, and equals what a fresh accountant reports.
 *
 * Under `accountant: 'pld'` every point is a PLD composition of its own T
 * (the one-step PLDs and their spectra are cached, so a point costs one
 * pointwise power and one inverse FFT: tens of milliseconds, not
 * microseconds — keep `points` small for live views).
 */
export function epsilonCurve(
  options: {
    spec: MechanismSpecWithoutSteps;
    delta: number;
    maxSteps: number;
    points: number;
  } & AccountingOptions,
): Array<{ steps: number; epsilon: number }> {
  const spec = validateMechanismSpec(options?.spec, ['steps']);
  const delta = requireDelta('delta', options.delta);
  const last = requireInteger('maxSteps', options.maxSteps, 1);
  const points = requireInteger('points', options.points, 1, MAX_CURVE_POINTS);
  if (validateAccountant(options.accountant) === 'pld') {
    const curve: Array<{ steps: number; epsilon: number }> = [];
    let previous = 0;
    for (let k = 1; k <= points; k++) {
      const steps = k === points ? last : Math.max(1, Math.round((k * last) / points));
      if (steps === previous) continue;
      previous = steps;
      const run = { ...spec, steps } as MechanismSpec;
      const { epsilon } = pldAccountantFor(run, {
        discretization: options.discretization,
      }).epsilon({ delta });
      curve.push({ steps, epsilon });
    }
    return curve;
  }
  const { event, neighbouring } = stepEvent(spec);
  const perStep = rdpOfEvent({ event, neighbouring });
  const scaled = new Array<number>(perStep.length);
  const curve: Array<{ steps: number; epsilon: number }> = [];
  let previous = 0;
  for (let k = 1; k <= points; k++) {
    const steps = k === points ? last : Math.max(1, Math.round((k * last) / points));
    if (steps === previous) continue;
    previous = steps;
    for (let i = 0; i < perStep.length; i++) scaled[i] = steps * (perStep[i] as number);
    const { epsilon } = epsilonFromRdp({ orders: DEFAULT_ORDERS, rdp: scaled, delta });
    curve.push({ steps, epsilon });
  }
  return curve;
}
