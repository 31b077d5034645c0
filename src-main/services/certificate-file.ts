import { readFile } from 'node:fs/promises';
import { UserError } from '../contract/errors';
import {
  certificateInWords,
  isCurrentCertificate,
  reissueCertificate,
  type AnyCertificate,
} from '../privacy/certificate';
import { writeWholeFile } from '../io/whole-file';
import { getDataset, getRun, listArtifacts, type Store } from '../store';
import { appVersion } from './version';

/** A run's certificate as it stands on disk now, and what (if anything) was done to it. */
export interface CurrentCertificate {
  path: string;
  certificate: AnyCertificate;
  /** Set once, when an older certificate was re-issued by this call. */
  notice: string | null;
}

/** The path of a released run's certificate (a generator's or a classifier's), or a plain refusal. */
function certificatePathOf(store: Store, runId: number): string {
  const run = getRun(store, runId);
  const [certificate] = listArtifacts(store, {
    runId,
    kind: 'certificate',
    visibility: 'releasable',
  });
  if (!certificate) {
    throw new UserError(
      'NOT_FOUND',
      `Run ${runId} has released nothing yet (its status is ${run.status}). Finish its training first.`,
    );
  }
  return certificate.path;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // fall through to the plain message
  }
  throw new UserError(
    'NOT_FOUND',
    `The privacy certificate at ${path} cannot be read. Check that the data folder is intact.`,
  );
}

/**
 * The released run's certificate in this version's form. A certificate
 * written by an older version (with `dataset_fingerprint`, a hash of every
 * private record) is re-issued in place before anything can show or export
 * it: same mechanism and parameters, ε recomputed, the data set named by its
 * random identifier. The notice says so the one time it happens.
 */
export async function currentCertificate(store: Store, runId: number): Promise<CurrentCertificate> {
  const path = certificatePathOf(store, runId);
  const found = await readJson(path);
  if (isCurrentCertificate(found)) {
    return { path, certificate: found as unknown as AnyCertificate, notice: null };
  }
  const dataset = getDataset(store, getRun(store, runId).datasetId, { includeDeleted: true });
  const certificate = reissueCertificate(found, {
    datasetId: dataset.publicId,
    version: appVersion(),
  });
  await writeWholeFile(
    path,
    Buffer.from(`${JSON.stringify(certificate, null, 2)}\n`),
    'The privacy certificate',
  );
  return {
    path,
    certificate,
    notice: `The certificate of run ${runId} was made by an older version that wrote a fingerprint of the data set into it. It was re-issued without it (same guarantee, ε = ${certificate.epsilon.toPrecision(3)}); export the run again wherever you shared the old one.`,
  };
}

/** A run's certificate, and the same promise in plain words (the Export screen). */
export async function readCertificate(
  store: Store,
  runId: number,
): Promise<{ certificate: Record<string, unknown>; words: string[]; notice: string | null }> {
  const { certificate, notice } = await currentCertificate(store, runId);
  return {
    certificate: certificate as unknown as Record<string, unknown>,
    words: certificateInWords(certificate),
    notice,
  };
}
