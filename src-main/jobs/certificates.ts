/**
 * The privacy certificate of a run's released decoder, for any training
 * method: the plan's method builds it (src-main/methods), through
 * src-main/privacy/certificate.ts, where ε is recomputed from the
 * certificate's own fields by the accountant.
 */
import { methodOfPlan } from '../methods/registry';
import type { AnyCertificate } from '../privacy/certificate';
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

/** The certificate of a released decoder of a run of any method; ε is recomputed. */
export function buildRunCertificate(input: RunCertificateInput): RunCertificate {
  const { plan, ...context } = input;
  return methodOfPlan(plan).certificate(plan, context);
}
