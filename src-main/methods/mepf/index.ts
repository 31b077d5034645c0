/**
 * `mepf` (issue #19; DP-MEPF, Harder et al., TMLR 2023, on the random-process
 * prior): the method's one descriptor. One Gaussian release of the class sums
 * of per-image features and the class counts (add/remove relation; the
 * accountant's DP-SGD at sampling rate 1, one step), then a generator trained
 * on the release alone. A run may train from an earlier run's release
 * (`fromRelease`): it spends nothing.
 */
import { UserError } from '../../contract/errors';
import type { RunPlan } from '../../jobs/protocol';
import { readPriorManifest } from '../../priors/prior-file';
import { buildMepfCertificate } from '../../privacy/certificate';
import { defineMethod } from '../descriptor';
import { mepfCard } from './card';
import { generateImages } from '../../engine/generate';
import { defaultGeneratorArchitecture } from './generator';
import { labelledEpsilon, mepfClassNotes, mepfNoise, resolveMepfPlan } from './plan';
import type { MepfPlan } from './plan-schema';
import { MEPF_PRESETS } from './presets';

const owns = (plan: RunPlan): plan is MepfPlan => plan.method === mepfCard.id;

export const mepf = defineMethod<MepfPlan>({
  card: mepfCard,
  relation: 'add-remove',
  presets: MEPF_PRESETS,
  ownsPlan: owns,
  resolvePlan: resolveMepfPlan,
  noise: mepfNoise,
  architecture: (_preset, image, classes) => defaultGeneratorArchitecture(image, classes),
  certificate: (plan, c) =>
    buildMepfCertificate({
      sigma: plan.sigma,
      countWeight: plan.countWeight,
      steps: c.steps,
      delta: c.delta,
      features: {
        source: plan.features,
        ...(plan.priorName && plan.priorSha256 && plan.priorStatement
          ? {
              prior: {
                name: plan.priorName,
                weights_sha256: plan.priorSha256,
                statement: plan.priorStatement,
              },
            }
          : {}),
      },
      ...(plan.labeller
        ? {
            labeller: {
              run: plan.labeller.run,
              sampleRate: plan.labeller.sampleRate,
              sigma: plan.labeller.sigma,
              clip: plan.labeller.clip,
              steps: plan.labeller.steps,
              accountant: plan.labeller.accountant ?? 'rdp',
              prior: {
                name: plan.labeller.priorName,
                weights_sha256: plan.labeller.priorSha256,
                statement: plan.labeller.priorStatement,
              },
            },
          }
        : {}),
      datasetId: c.datasetId,
      backend: c.backend,
      version: c.version,
      accountant: plan.accountant ?? 'rdp',
      ...(c.created ? { created: c.created } : {}),
    }),
  // Per-record features never reach the disk (release.ts sums them batch by batch).
  privateFolders: [],
  sourceRun: (plan) => plan.fromRelease ?? null,
  fromSource: (plan, source, sourceRunId) => {
    if (!owns(source) || source.steps !== 1) {
      throw new UserError(
        'INVALID_INPUT',
        `Run ${sourceRunId} did not make a mepf release, so there is nothing to train from. Choose a finished mepf run that made its own release.`,
      );
    }
    const { accountant, features, priorName, priorSha256, priorStatement, sigma, countWeight } =
      source;
    if (priorSha256 && readPriorManifest().weights.sha256 !== priorSha256) {
      throw new UserError(
        'INVALID_INPUT',
        `The release of run ${sourceRunId} was made with the features of another random-process prior than the one installed now (SHA-256 ${priorSha256.slice(0, 12)}…). A generator must learn with the features the release was made with: use the version of DP² Studio that made it, or start a new run.`,
      );
    }
    const { priorName: _n, priorSha256: _s, priorStatement: _t, ...rest } = plan;
    return {
      ...rest,
      ...(accountant ? { accountant } : {}),
      features,
      ...(priorName ? { priorName } : {}),
      ...(priorSha256 ? { priorSha256 } : {}),
      ...(priorStatement ? { priorStatement } : {}),
      sigma,
      countWeight,
      steps: 0,
      fromRelease: sourceRunId,
    };
  },
  classNotes: mepfClassNotes,
  linkedClassifier: (plan) => plan.labeller?.run ?? null,
  releasedEpsilon: (plan, delta) => (plan.labeller ? labelledEpsilon(plan, delta) : null),
  sample: async ({ release, classifier, ...input }) => {
    const { sampleByRelease, sampleByLabeller } = await import('./sample');
    if (classifier !== null) return sampleByLabeller({ ...input, classifier });
    return release === null
      ? generateImages(input.arch, input.weights, input)
      : sampleByRelease({ ...input, release });
  },
  // Loaded only in the worker: the engine's training code stays out of the main process.
  train: async (config, plan, ctx) => (await import('./train')).trainMepf(config, plan, ctx),
});
