import { UserError } from '../contract/errors';
import { RdpAccountant } from './accountant';
import { SIGMA_MAX, SIGMA_MIN } from './calibration';
import { mechanismEvent } from './mechanisms';
import type { DistributiveOmit, MechanismSpec } from './mechanisms';
import type { NeighbouringRelation } from './rdp';

/** RDP composition of runs that share one neighbouring relation (Mironov 2017, Proposition 1). */
function composeSame(
  events: ReturnType<typeof mechanismEvent>[],
  delta: number,
): { epsilon: number; order: number } {
  const relation = events[0]?.neighbouring ?? 'replace-one';
  let accountant = RdpAccountant.create({ neighbouring: relation });
  for (const { event } of events) accountant = accountant.compose(event);
  return accountant.epsilon({ delta });
}

/**
 * ε at `delta` of several runs on the same data (a data set's ledger, or its
 * past runs plus a planned one) — never by summing ε by hand.
 *
 * Runs under one neighbouring relation are composed by adding their Rényi
 * divergences order by order (Mironov 2017, Proposition 1). When add/remove
 * runs (DP-SGD) meet replace-one runs (DP²-VAE), the total is stated under
 * replace-one: replacing a record is removing it and adding another, so the
 * add/remove group, (ε_A, δ_A)-DP, is (2ε_A, (1 + e^{ε_A})·δ_A)-DP under
 * replace-one (group privacy for two steps, Dwork and Roth 2014, Theorem 2.2
 * generalised to δ > 0 as in Vadhan 2017, Lemma 2.2); the two groups then
 * compose by basic composition (Dwork and Roth 2014, Theorem 3.16), δ split
 * in halves. Certified, and looser than a joint analysis: the app says so.
 */
export function composedEpsilon(options: { specs: readonly MechanismSpec[]; delta: number }): {
  epsilon: number;
  order: number;
  /** The neighbouring relation ε is stated in (null when nothing was spent). */
  relation: NeighbouringRelation | null;
} {
  const { specs, delta } = options;
  const counted = specs.filter((s) => s.steps > 0);
  if (counted.length === 0) return { epsilon: 0, order: Number.NaN, relation: null };
  const events = counted.map((spec) => mechanismEvent(spec));
  const addRemove = events.filter((e) => e.neighbouring === 'add-remove');
  const replaceOne = events.filter((e) => e.neighbouring !== 'add-remove');
  if (addRemove.length === 0 || replaceOne.length === 0)
    return {
      ...composeSame(events, delta),
      relation: replaceOne.length === 0 ? 'add-remove' : 'replace-one',
    };

  const half = delta / 2;
  const b = composeSame(replaceOne, half).epsilon;
  // δ_A with (1 + e^{ε_A(δ_A)})·δ_A ≤ δ/2: shrink δ_A until it holds (ε_A grows slowly as δ_A shrinks).
  let guess = composeSame(addRemove, half / 2).epsilon;
  for (let i = 0; i < 60; i++) {
    const deltaA = half / (1 + Math.exp(Math.min(guess, 700)));
    const a = composeSame(addRemove, deltaA).epsilon;
    if ((1 + Math.exp(Math.min(a, 700))) * deltaA <= half * (1 + 1e-12)) {
      return { epsilon: b + 2 * a, order: Number.NaN, relation: 'replace-one' };
    }
    guess = a;
  }
  throw new UserError(
    'INTERNAL',
    'The privacy total of this data set could not be computed (mixed methods). Keep the database and ask for help.',
  );
}

/**
 * The smallest noise σ (bisection on log σ, to 1e-5 relative) for which a new
 * mechanism `spec`, composed with mechanisms already `spent` on the same
 * data, keeps the composed ε of {@link composedEpsilon} within `epsilon` at
 * `delta` — for a release whose meaning depends on an earlier release too
 * (a generator's images labelled by a private classifier: the images are
 * post-processing of both, so their guarantee is the composition). Never
 * overshoots: the answer is the upper end of the bracket.
 * @throws UserError UNREACHABLE_TARGET when the spent part alone reaches the
 *   target, or when even σ = SIGMA_MAX does not fit.
 */
export function calibrateComposedSigma(options: {
  spent: readonly MechanismSpec[];
  spec: DistributiveOmit<MechanismSpec, 'sigma'>;
  epsilon: number;
  delta: number;
}): { sigma: number; epsilon: number } {
  const { spent, spec, epsilon: target, delta } = options;
  const at = (sigma: number): number =>
    composedEpsilon({ specs: [...spent, { ...spec, sigma } as MechanismSpec], delta }).epsilon;
  const already = composedEpsilon({ specs: spent, delta }).epsilon;
  if (!(already < target)) {
    throw new UserError(
      'UNREACHABLE_TARGET',
      `What this release builds on already spent ε = ${Number(already.toPrecision(3))} at δ = ${delta}, not below the target ε = ${target}: nothing is left for the release itself. Raise the target ε, or build on a release that spent less.`,
    );
  }
  if (at(SIGMA_MAX) > target) {
    throw new UserError(
      'UNREACHABLE_TARGET',
      `The target ε = ${target} at δ = ${delta} cannot be reached: even noise σ = ${SIGMA_MAX} brings the total to ε = ${Number(at(SIGMA_MAX).toPrecision(4))}. Raise the target ε, or build on a release that spent less.`,
    );
  }
  if (at(SIGMA_MIN) <= target) return { sigma: SIGMA_MIN, epsilon: at(SIGMA_MIN) };
  let lo = SIGMA_MIN; // too little noise
  let hi = SIGMA_MAX; // enough
  while (hi / lo > 1 + 1e-5) {
    const mid = Math.sqrt(lo * hi);
    if (at(mid) <= target) hi = mid;
    else lo = mid;
  }
  return { sigma: hi, epsilon: at(hi) };
}
