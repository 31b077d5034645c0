/**
 * Runs a new run builds on: a released private classifier that labels a
 * generator's images (`mepf`'s `labeller`). What a plan records of it comes
 * from the classifier's certificate, the statement of what it released, so
 * that the new run's certificate composes exactly what was released.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../contract/errors';
import type { PlanOverrides } from '../methods/plan-input';
import { ReleasedClassifier } from '../methods/plan-fields';
import {
  certificateAccountant,
  DPSGD_CERT_MECHANISM,
  isCurrentCertificate,
} from '../privacy/certificate';
import { getRun, listArtifacts, type Dataset, type Store } from '../store';

/** Where a run keeps its copy of the classifier that labels its images. */
export const LINKED_CLASSIFIER_FOLDER = 'classifier';

/** What the overrides link to, looked up in the store (ResolvePlanInput's fields). */
export function linkedRuns(
  store: Store,
  ds: Dataset,
  overrides: PlanOverrides | undefined,
): { labeller?: ReleasedClassifier } {
  const id = overrides?.labeller;
  return id === undefined ? {} : { labeller: releasedClassifierOf(store, ds, id) };
}

/**
 * The classifier run `runId` released on `ds`, with the privacy its
 * certificate states; refused in plain words when the run is of another
 * data set, not a finished private classifier, or its files are missing.
 */
export function releasedClassifierOf(store: Store, ds: Dataset, runId: number): ReleasedClassifier {
  const run = getRun(store, runId);
  const refuse = (why: string): never => {
    throw new UserError(
      'INVALID_INPUT',
      `Run ${runId} cannot label the images: ${why} Choose a finished private classifier (method randp) trained on “${ds.name}”, or leave the labeller out.`,
    );
  };
  if (run.datasetId !== ds.id) refuse('it was trained on another data set.');
  if (run.method !== 'randp') refuse(`it is a ${run.method} run, not a private classifier.`);
  if (run.status !== 'completed') refuse(`it is ${run.status}, not finished.`);
  const [model] = listArtifacts(store, { runId, kind: 'classifier', visibility: 'releasable' });
  const [cert] = listArtifacts(store, { runId, kind: 'certificate', visibility: 'releasable' });
  if (!model || !existsSync(model.path) || !cert || !existsSync(cert.path))
    refuse('its classifier or certificate is missing from the data folder.');
  let c: Record<string, unknown> = {};
  try {
    c = JSON.parse(readFileSync(cert!.path, 'utf8')) as Record<string, unknown>;
  } catch {
    refuse('its certificate cannot be read.');
  }
  if (!isCurrentCertificate(c) || c.method !== 'randp' || c.mechanism !== DPSGD_CERT_MECHANISM)
    refuse('its certificate is not a private classifier’s of this version.');
  if (c.dataset_id !== ds.publicId) refuse('its certificate names another data set.');
  const prior = (c.prior ?? {}) as Record<string, unknown>;
  const parsed = ReleasedClassifier.safeParse({
    run: runId,
    sampleRate: c.sample_rate,
    sigma: c.sigma,
    clip: c.clip,
    steps: c.steps,
    accountant: certificateAccountant(c.accountant),
    priorName: prior.name,
    priorSha256: prior.weights_sha256,
    priorStatement: prior.statement,
  });
  if (!parsed.success) return refuse('its certificate is damaged.');
  return parsed.data;
}

/**
 * The released classifier folder of a run: a classifier run's own, or the
 * copy a generator run keeps of the classifier that labels its images.
 */
export function classifierFolderOf(store: Store, runId: number): string {
  const [model] = listArtifacts(store, { runId, kind: 'classifier', visibility: 'releasable' });
  if (!model || !existsSync(model.path)) {
    throw new UserError(
      'NOT_FOUND',
      `The private classifier of run ${runId} is missing from the data folder (${model?.path ?? 'never registered'}). Check that the data folder is intact.`,
    );
  }
  return model.path;
}
