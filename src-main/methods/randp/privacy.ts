/**
 * The privacy of phase 2 (the DP-SGD linear probe, dp-linear.ts): the
 * 'dpsgd' mechanism of src-main/privacy — Poisson rate q, noise multiplier
 * σ, T steps, add/remove adjacency — accounted by RDP (Mironov, Talwar, Zhang
 * 2019) or by privacy loss distributions (Koskela et al. 2020; Doroshenko et
 * al. 2022), as every DP-SGD run of the app.
 */
import { calibrateSigma, epsilonOf, type AccountantKind } from '../../privacy';

/** The schedule of a probe run: rate, steps, and the accountant. */
export interface ProbeSchedule {
  sampleRate: number;
  steps: number;
  accountant?: AccountantKind;
}

/**
 * The smallest σ whose T steps at rate q stay within (ε, δ), with the ε the
 * accountant gives for it (never above the target).
 * @throws UserError UNREACHABLE_TARGET when no σ reaches it.
 */
export function probeSigma(
  schedule: ProbeSchedule,
  target: { epsilon: number; delta: number },
): { sigma: number; epsilon: number } {
  const r = calibrateSigma({
    spec: { mechanism: 'dpsgd', sampleRate: schedule.sampleRate, steps: schedule.steps },
    epsilon: target.epsilon,
    delta: target.delta,
    accountant: schedule.accountant ?? 'rdp',
  });
  return { sigma: r.sigma, epsilon: r.epsilon };
}

/** ε at δ of a probe run with noise σ (the accountant's own figure). */
export function probeEpsilon(schedule: ProbeSchedule & { sigma: number }, delta: number): number {
  return epsilonOf({
    spec: {
      mechanism: 'dpsgd',
      sampleRate: schedule.sampleRate,
      sigma: schedule.sigma,
      steps: schedule.steps,
    },
    delta,
    accountant: schedule.accountant ?? 'rdp',
  }).epsilon;
}
