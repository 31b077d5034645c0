import type { Handlers, MechanismSpec, MechanismWithoutSigma } from '../contract';
import {
  ACCOUNTANT_VERSION,
  PLD_ACCOUNTANT_VERSION,
  calibrateSigma,
  epsilonCurve,
  epsilonOf,
  membershipTprBound,
  posteriorBound,
} from '../privacy';
import { recommendedDelta } from '../privacy/recommended-delta';

type PrivacyHandlers = Pick<
  Handlers,
  | 'privacy.account'
  | 'privacy.accountBatch'
  | 'privacy.calibrate'
  | 'privacy.explore'
  | 'privacy.recommendDelta'
>;

const ACCOUNTANTS = {
  rdp: { name: 'rdp', version: ACCOUNTANT_VERSION },
  pld: { name: 'pld', version: PLD_ACCOUNTANT_VERSION },
} as const;

/** JSON has no NaN: an accountant without an optimal order reports null. */
const orderOf = (order: number): number | null => (Number.isFinite(order) ? order : null);

/** The false-positive rate at which the explorer reads ε as a membership-attack bound. */
const READING_FPR = 0.01;

/** Services over `src-main/privacy`: every ε the app shows comes through here. */
export function privacyHandlers(): PrivacyHandlers {
  return {
    'privacy.account': async ({ spec, delta, accountant }) => {
      const { epsilon, order } = epsilonOf({ spec, delta, accountant });
      return { epsilon, order: orderOf(order), delta, accountant: ACCOUNTANTS[accountant] };
    },
    'privacy.accountBatch': async ({ cases, accountant }) =>
      cases.map(({ id, spec, delta }) => {
        const { epsilon, order } = epsilonOf({ spec, delta, accountant });
        return { id, epsilon, order: orderOf(order) };
      }),
    'privacy.calibrate': async ({ spec, epsilon, delta, accountant }) => {
      const found = calibrateSigma({ spec, epsilon, delta, accountant });
      return {
        sigma: found.sigma,
        epsilon: found.epsilon,
        order: orderOf(found.order),
        accountant: ACCOUNTANTS[accountant],
      };
    },
    'privacy.explore': async (req) => {
      const sampling: MechanismWithoutSigma =
        req.method === 'dp2vae'
          ? { mechanism: 'dp2vae', blocks: req.blocks ?? 1, steps: req.steps }
          : {
              mechanism: 'dpsgd',
              sampleRate: (req.batchSize ?? 1) / req.datasetSize,
              steps: req.steps,
            };
      const sigma =
        req.target.kind === 'sigma'
          ? req.target.sigma
          : calibrateSigma({ spec: sampling, epsilon: req.target.epsilon, delta: req.delta }).sigma;
      const spec = { ...sampling, sigma } as MechanismSpec;
      const { epsilon, order } = epsilonOf({ spec, delta: req.delta });
      const { steps: _planned, ...perStep } = spec;
      const curve = epsilonCurve({
        spec: perStep,
        delta: req.delta,
        maxSteps: req.steps * 2,
        points: req.curvePoints,
      });
      return {
        sigma,
        epsilon,
        order: orderOf(order),
        sampleRate: spec.mechanism === 'dp2vae' ? 1 / spec.blocks : spec.sampleRate,
        curve,
        reading: {
          fpr: READING_FPR,
          tprBound: membershipTprBound({ epsilon, delta: req.delta, fpr: READING_FPR }).tpr,
          posteriorBound: posteriorBound({ epsilon }).posterior,
        },
        accountant: ACCOUNTANTS.rdp,
      };
    },
    'privacy.recommendDelta': async ({ datasetSize }) => recommendedDelta({ datasetSize }),
  };
}
