import type { Handlers, MechanismSpec, MechanismWithoutSigma } from '../contract';
import {
  ACCOUNTANT_VERSION,
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

const accountant = { name: 'rdp', version: ACCOUNTANT_VERSION } as const;

/** The false-positive rate at which the explorer reads ε as a membership-attack bound. */
const READING_FPR = 0.01;

/** Services over `src-main/privacy`: every ε the app shows comes through here. */
export function privacyHandlers(): PrivacyHandlers {
  return {
    'privacy.account': async ({ spec, delta }) => {
      const { epsilon, order } = epsilonOf({ spec, delta });
      return { epsilon, order, delta, accountant };
    },
    'privacy.accountBatch': async ({ cases }) =>
      cases.map(({ id, spec, delta }) => ({ id, ...epsilonOf({ spec, delta }) })),
    'privacy.calibrate': async ({ spec, epsilon, delta }) => ({
      ...calibrateSigma({ spec, epsilon, delta }),
      accountant,
    }),
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
        order,
        sampleRate: spec.mechanism === 'dp2vae' ? 1 / spec.blocks : spec.sampleRate,
        curve,
        reading: {
          fpr: READING_FPR,
          tprBound: membershipTprBound({ epsilon, delta: req.delta, fpr: READING_FPR }).tpr,
          posteriorBound: posteriorBound({ epsilon }).posterior,
        },
        accountant,
      };
    },
    'privacy.recommendDelta': async ({ datasetSize }) => recommendedDelta({ datasetSize }),
  };
}
