/**
 * Privacy accounting of a run against its own target and its data set's
 * budget cap, shared by the runner (before start and at every write-ahead
 * spend) and the worker (where stage 2 must stop).
 *
 * Two limits, both never passed:
 * - the run's own ε (the one its certificate states): ε of T steps of the
 *   run's mechanism (DP²-VAE's block sampling, or DP-SGD's Poisson-subsampled
 *   Gaussian) at the run's δ, by the run's accountant (`epsilonOf` for RDP);
 * - the data set's composed total at the cap's δ: every ledger row on the same
 *   images (other runs, and this run's steps already paid, replays included)
 *   plus this run's steps still to come, composed in RDP (`composedEpsilon`).
 *
 * Both grow with the number of steps (RDP composes linearly), so the largest
 * allowed step is found by bisection on the accountant's own numbers.
 */
import { UserError } from '../contract/errors';
import { epsilonOf } from '../privacy';
import { composedEpsilon } from '../privacy/compose-specs';
import type { LedgerEntry } from '../store';
import type { AccountantName, LedgerSpec } from './protocol';

export type { LedgerSpec };

/**
 * The noise parameters of a run (everything but the step count): DP²-VAE's
 * `{ blocks, sigma }` (mechanism optional, for older callers) or DP-SGD's
 * `{ mechanism: 'dpsgd', sampleRate, sigma }`; `accountant` defaults to 'rdp'.
 */
export type RunNoise = (
  | { mechanism?: 'dp2vae'; blocks: number; sigma: number }
  | { mechanism: 'dpsgd'; sampleRate: number; sigma: number }
) & { accountant?: AccountantName };

/** The ledger spec of `steps` steps of a run with this noise. */
export function noiseSpec(noise: RunNoise, steps: number): LedgerSpec {
  return noise.mechanism === 'dpsgd'
    ? { mechanism: 'dpsgd', sampleRate: noise.sampleRate, sigma: noise.sigma, steps }
    : { mechanism: 'dp2vae', blocks: noise.blocks, sigma: noise.sigma, steps };
}

/** What a ledger row stores for a run with this noise (the spec without steps). */
export function ledgerRowSpec(
  noise: RunNoise,
):
  | { mechanism: 'dpsgd'; sampleRate: number; sigma: number }
  | { mechanism: 'dp2vae'; blocks: number; sigma: number } {
  return noise.mechanism === 'dpsgd'
    ? { mechanism: 'dpsgd', sampleRate: noise.sampleRate, sigma: noise.sigma }
    : { mechanism: 'dp2vae', blocks: noise.blocks, sigma: noise.sigma };
}

/** ε of a run's spec at δ by the named accountant (the one place an accountant is chosen). */
export function accountEpsilon(
  spec: LedgerSpec,
  delta: number,
  accountant: AccountantName = 'rdp',
): number {
  switch (accountant) {
    case 'rdp':
    case 'pld':
      return epsilonOf({ spec, delta, accountant }).epsilon;
    default:
      throw new UserError(
        'UNSUPPORTED',
        `The privacy accountant "${String(accountant)}" is not available in this version.`,
      );
  }
}

const fmt = (x: number): string =>
  Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x);

/** ε of `steps` steps of the run alone, at δ (0 for no step). */
export function ownEpsilon(noise: RunNoise, steps: number, delta: number): number {
  if (steps <= 0) return 0;
  return accountEpsilon(noiseSpec(noise, steps), delta, noise.accountant);
}

/** The ledger rows as accountant specs; a row this version cannot read is never ignored. */
export function ledgerSpecs(entries: readonly LedgerEntry[]): LedgerSpec[] {
  return entries.map((e) => {
    const s = e.spec as Record<string, unknown>;
    const num = (k: string): number => {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new UserError(
          'CORRUPT_DATA',
          `Privacy ledger row ${e.id} (run ${e.runId}) has no valid ${k}. The budget spent on this data set cannot be computed safely; keep the database and ask for help.`,
        );
      }
      return v;
    };
    if (s.mechanism === 'dp2vae') {
      return {
        mechanism: 'dp2vae',
        blocks: num('blocks'),
        sigma: num('sigma'),
        steps: e.spec.steps,
      };
    }
    if (s.mechanism === 'dpsgd') {
      return {
        mechanism: 'dpsgd',
        sampleRate: num('sampleRate'),
        sigma: num('sigma'),
        steps: e.spec.steps,
      };
    }
    throw new UserError(
      'CORRUPT_DATA',
      `Privacy ledger row ${e.id} (run ${e.runId}) holds a mechanism this version cannot account for (${String(s.mechanism)}). Keep the database and ask for help before training on these images again.`,
    );
  });
}

/** The data set's composed ε at δ: `prior` rows plus `ownPaid` steps of this run. */
export function composedTotal(
  prior: readonly LedgerSpec[],
  noise: RunNoise,
  ownPaid: number,
  delta: number,
): number {
  const specs: LedgerSpec[] = [...prior];
  if (ownPaid > 0) specs.push(noiseSpec(noise, ownPaid));
  return composedEpsilon({ specs, delta }).epsilon;
}

/** The largest s in [lo, hi] with ok(s), given ok is monotone (true then false); lo − 1 when none. */
function largest(lo: number, hi: number, ok: (s: number) => boolean): number {
  if (hi < lo || !ok(lo)) return lo - 1;
  if (ok(hi)) return hi;
  let a = lo; // ok
  let b = hi; // not ok
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (ok(mid)) a = mid;
    else b = mid;
  }
  return a;
}

export interface StepLimitInput {
  noise: RunNoise;
  /** T: the step budget. */
  steps: number;
  targetEpsilon: number;
  delta: number;
  budget: { cap: number | null; delta: number; priorSpecs: readonly LedgerSpec[] };
  /** Steps already paid for by this run (ledger). */
  paidSteps: number;
  /** Stage-2 step the run (re)starts from; every step after it is paid again. */
  startStep: number;
}

/**
 * The last stage-2 step the run may take and what binds there: the step
 * budget, its own target ε, or the data set's cap. Returns `startStep` when
 * not even one more step fits.
 */
export function stepLimit(input: StepLimitInput): {
  limit: number;
  reason: 'steps' | 'epsilon' | 'budget';
} {
  const { noise, steps, targetEpsilon, delta, budget, paidSteps, startStep } = input;
  const from = startStep + 1;
  const own = largest(from, steps, (s) => ownEpsilon(noise, s, delta) <= targetEpsilon);
  const cap = budget.cap;
  const capped =
    cap === null
      ? steps
      : largest(
          from,
          steps,
          (s) =>
            composedTotal(budget.priorSpecs, noise, paidSteps + s - startStep, budget.delta) <= cap,
        );
  const limit = Math.max(startStep, Math.min(steps, own, capped));
  const reason = limit >= steps ? 'steps' : capped <= own ? 'budget' : 'epsilon';
  return { limit, reason };
}

/**
 * The runner's check at each write-ahead spend, against the ledger as it is
 * NOW (other runs may have spent since this one started): the last step of
 * `fromStep..toStep` that keeps the data set within its cap (fromStep − 1
 * when none fits).
 */
export function grantSpend(input: {
  ledger: readonly LedgerSpec[];
  noise: RunNoise;
  fromStep: number;
  toStep: number;
  cap: number | null;
  capDelta: number;
}): number {
  const { ledger, noise, fromStep, toStep, cap, capDelta } = input;
  if (cap === null) return toStep;
  return largest(
    fromStep,
    toStep,
    (s) => composedTotal(ledger, noise, s - fromStep + 1, capDelta) <= cap,
  );
}

/**
 * Refuses, before anything is created, a run whose full plan would take the
 * data set past its cap (UserError BUDGET_EXCEEDED in plain words: spent so
 * far, the cap, what to change).
 */
export function assertFitsBudget(input: {
  datasetName: string;
  cap: number | null;
  capDelta: number;
  priorSpecs: readonly LedgerSpec[];
  noise: RunNoise;
  steps: number;
  targetEpsilon: number;
  delta: number;
}): { spent: number; total: number } {
  const { datasetName, cap, capDelta, priorSpecs, noise, steps } = input;
  const spent = composedTotal(priorSpecs, noise, 0, capDelta);
  const total = composedTotal(priorSpecs, noise, steps, capDelta);
  if (cap === null || total <= cap) return { spent, total };
  const where = `Data set “${datasetName}” has a privacy budget cap of ε = ${fmt(cap)} (δ = ${capDelta}) and has already spent ε = ${fmt(spent)}`;
  if (spent >= cap) {
    throw new UserError(
      'BUDGET_EXCEEDED',
      `${where}: nothing is left for another run. Nothing was started. Raise the cap if your data protection rules allow it, or train on other images.`,
    );
  }
  const fits = largest(1, steps, (s) => composedTotal(priorSpecs, noise, s, capDelta) <= cap);
  const own = ownEpsilon(noise, steps, input.delta);
  const hint =
    fits >= 1
      ? `At the same noise only ${fits} of the ${steps} steps would fit (a run of about ε = ${fmt(ownEpsilon(noise, fits, input.delta))} on its own).`
      : 'Not even one step fits at this noise.';
  throw new UserError(
    'BUDGET_EXCEEDED',
    `${where}. This run (ε = ${fmt(own)} on its own) would bring the total to ε = ${fmt(total)}, above the cap. Nothing was started. ${hint} Lower the run's target ε, or raise the data set's cap.`,
  );
}
