/**
 * Phase 2 of DP-RandP put together: the feature preparation (per-record
 * power and per-stage standardisation, then whitening by the public
 * covariance of the prior's procedural images) and the DP-SGD probe's
 * settings, with σ calibrated for a target (ε, δ). The defaults are the ones
 * measured in bench/randp-probe.ts (docs/classifier.md).
 */
import { UserError } from '../../contract/errors';
import type { FeatureMap } from '../../priors/feature-map';
import type { FeatureReadout, FoldedNet } from '../../priors/network/feature-net';
import {
  trainDpLinear,
  type DpLinearOptions,
  type LabelledFeatures,
  type LinearModel,
} from './dp-linear';
import {
  publicFeatureWhitening,
  readoutGroups,
  type FeatureWhitening,
  type PerRecordOptions,
} from './normalise';
import { probeSigma } from './privacy';

/** The measured defaults of phase 2 (MNIST, 60 000 images; docs/classifier.md). */
export const PHASE2_DEFAULTS = {
  /** Element-wise square root of the (non-negative) pooled features. */
  power: 0.5,
  /** Shrinkage λ of the public covariance toward the identity. */
  shrink: 0.1,
  /** Procedural images per family for the public covariance. */
  publicPerFamily: 1000,
  expectedBatch: 3000,
  /** Epochs and step size at ε ≤ 1 (see {@link measuredSettings} for others). */
  epochs: 20,
  clip: 1,
  lr: 0.3,
  momentum: 0.9,
  emaDecay: 0.99,
} as const;

/**
 * Step size and epochs measured best at each ε on MNIST (docs/classifier.md):
 * with less noise, larger steps and more epochs pay (0.3 and 20 up to ε ≈ 1,
 * 0.5 around ε = 3, 1 and 40 epochs at ε = 8). A choice of hyperparameters,
 * not of privacy: ε fixes σ for whatever the schedule is.
 */
export function measuredSettings(epsilon: number): { lr: number; epochs: number } {
  if (epsilon < 2) return { lr: 0.3, epochs: 20 };
  if (epsilon < 5) return { lr: 0.5, epochs: 20 };
  return { lr: 1, epochs: 40 };
}

/** The data-independent feature map of phase 2: per-record operations, then the public whitening. */
export type Phase2FeatureMap = FeatureMap;

/** Builds the feature map from the prior alone (no private data). */
export async function phase2FeatureMap(
  net: FoldedNet,
  readout: FeatureReadout,
  options: {
    power?: number;
    shrink?: number;
    perFamily?: number;
    size?: number;
    channels?: number;
  } = {},
): Promise<Phase2FeatureMap> {
  const perRecord: PerRecordOptions = {
    power: options.power ?? PHASE2_DEFAULTS.power,
    groups: readoutGroups(net, readout),
  };
  const whitening = await publicFeatureWhitening(net, {
    readout,
    perRecord,
    shrink: options.shrink ?? PHASE2_DEFAULTS.shrink,
    perFamily: options.perFamily ?? PHASE2_DEFAULTS.publicPerFamily,
    ...(options.size !== undefined ? { size: options.size } : {}),
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
  });
  return { perRecord, whitening };
}

/** Rate, steps and σ of a probe run for a target (ε, δ) on `count` records. */
export function phase2Schedule(options: {
  count: number;
  epsilon: number;
  delta: number;
  expectedBatch?: number;
  epochs?: number;
  accountant?: 'rdp' | 'pld';
}): { sampleRate: number; steps: number; sigma: number; epsilon: number } {
  const batch = options.expectedBatch ?? PHASE2_DEFAULTS.expectedBatch;
  const sampleRate = Math.min(1, batch / options.count);
  const steps = Math.max(1, Math.round((options.epochs ?? PHASE2_DEFAULTS.epochs) / sampleRate));
  const { sigma, epsilon } = probeSigma(
    { sampleRate, steps, accountant: options.accountant ?? 'rdp' },
    { epsilon: options.epsilon, delta: options.delta },
  );
  return { sampleRate, steps, sigma, epsilon };
}

/**
 * Trains the phase-2 probe on prepared features with the defaults and the
 * {@link measuredSettings} of the target ε: q and T from the expected batch
 * and epochs, σ calibrated (the schedule is returned for the certificate).
 */
export async function trainPhase2(
  data: LabelledFeatures,
  target: { epsilon: number; delta: number; classes: number },
  overrides: Omit<Partial<DpLinearOptions>, 'sigma' | 'sampleRate' | 'steps' | 'classes'> & {
    expectedBatch?: number;
    epochs?: number;
  } = {},
) {
  const measured = measuredSettings(target.epsilon);
  const schedule = phase2Schedule({
    count: data.count,
    epsilon: target.epsilon,
    delta: target.delta,
    epochs: overrides.epochs ?? measured.epochs,
    ...(overrides.expectedBatch !== undefined ? { expectedBatch: overrides.expectedBatch } : {}),
  });
  const { expectedBatch: _b, epochs: _e, ...rest } = overrides;
  const result = await trainDpLinear(data, {
    classes: target.classes,
    sigma: schedule.sigma,
    sampleRate: schedule.sampleRate,
    steps: schedule.steps,
    clip: PHASE2_DEFAULTS.clip,
    lr: measured.lr,
    momentum: PHASE2_DEFAULTS.momentum,
    emaDecay: PHASE2_DEFAULTS.emaDecay,
    ...rest,
  });
  return { ...result, schedule };
}

/**
 * The classifier on whitened features rewritten as one on the per-record
 * features before whitening (W = Aᵀ·W', bias − Wᵀμ/β): the same logits, but
 * predicting a set costs n·d·K instead of the n·d² of whitening it.
 */
export function foldWhitening(model: LinearModel, whitening: FeatureWhitening): LinearModel {
  const { dims: d, classes: k, biasFeature: beta } = model;
  if (whitening.dims !== d) {
    throw new UserError(
      'INVALID_INPUT',
      `The whitening is for ${whitening.dims} features, the classifier for ${d}. Use the feature map the classifier was trained with.`,
    );
  }
  const a = whitening.factor;
  const weights = new Float32Array((d + 1) * k);
  const w = new Float64Array(d * k);
  // A is lower triangular: (Aᵀ·W')[i, c] = Σ_{j ≥ i} A[j, i]·W'[j, c].
  for (let j = 0; j < d; j++) {
    for (let i = 0; i <= j; i++) {
      const aji = a[j * d + i] as number;
      if (aji === 0) continue;
      for (let c = 0; c < k; c++) {
        w[i * k + c] = (w[i * k + c] as number) + aji * (model.weights[j * k + c] as number);
      }
    }
  }
  for (let c = 0; c < k; c++) {
    let shift = 0;
    for (let i = 0; i < d; i++) shift += (w[i * k + c] as number) * (whitening.mean[i] as number);
    weights[d * k + c] = (model.weights[d * k + c] as number) - shift / beta;
  }
  for (let i = 0; i < d * k; i++) weights[i] = w[i] as number;
  return { weights, dims: d, classes: k, biasFeature: beta };
}
