/**
 * The privacy certificate of a run's released decoder, for either training
 * method: the plan picks the builder in src-main/privacy/certificate.ts,
 * where ε is recomputed from the certificate's own fields by the accountant.
 */
import {
  buildCertificate,
  buildDpsgdCertificate,
  type AnyCertificate,
} from '../privacy/certificate';
import type { RunPlan } from './protocol';

export type RunCertificate = AnyCertificate;

export interface RunCertificateInput {
  plan: RunPlan;
  steps: number;
  delta: number;
  /** The data set's random public identifier. */
  datasetId: string;
  backend: string;
  version: string;
  created?: Date;
}

/** The certificate of a released decoder of a run of either method; ε is recomputed. */
export function buildRunCertificate(input: RunCertificateInput): RunCertificate {
  const { plan, steps, delta } = input;
  if (plan.method !== 'dpsgd') {
    return buildCertificate({
      blocks: plan.blocks,
      sigma: plan.sigma,
      clip: plan.clip,
      steps,
      delta,
      accountant: plan.accountant ?? 'rdp',
      datasetId: input.datasetId,
      backend: input.backend,
      version: input.version,
      ...(input.created ? { created: input.created } : {}),
    });
  }
  return buildDpsgdCertificate({
    sampleRate: plan.sampleRate,
    sigma: plan.sigma,
    clip: plan.clip,
    steps,
    delta,
    accountant: plan.accountant ?? 'rdp',
    datasetId: input.datasetId,
    backend: input.backend,
    version: input.version,
    ...(input.created ? { created: input.created } : {}),
  });
}
