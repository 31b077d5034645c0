import { readFile } from 'node:fs/promises';
import { UserError } from '../contract/errors';
import { certificateInWords, type AnyCertificate } from '../privacy/certificate';

/** A run's `certificate.json`, and the same promise in plain words (the Export screen). */
export async function readCertificate(
  path: string,
): Promise<{ certificate: Record<string, unknown>; words: string[] }> {
  let certificate: Record<string, unknown>;
  try {
    certificate = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The privacy certificate at ${path} cannot be read. Check that the data folder is intact.`,
    );
  }
  return { certificate, words: certificateInWords(certificate as unknown as AnyCertificate) };
}
