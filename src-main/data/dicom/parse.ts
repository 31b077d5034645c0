/**
 * Parses a DICOM Part-10 file with dicom-parser: the 'DICM' check, a capped
 * inflater for the deflated transfer syntax, and plain-words errors that never
 * carry anything of the header (dicom-parser's own messages are not passed on).
 */
import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { inflateRawSync } from 'node:zlib';
import { UserError } from '../../contract/errors';
import { formatBytes } from '../limits';

/** A parsed file: its data set and, when the file ends early, that it does. */
export interface ParsedDicom {
  dataSet: DataSet;
  /** The file ended inside an element (the partial data set is kept: pixel data is checked later). */
  truncated: boolean;
}

/** True when the bytes carry the 'DICM' marker of a DICOM Part-10 file at offset 128. */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d
  );
}

const corrupt = (where: string, detail: string): UserError =>
  new UserError(
    'CORRUPT_DATA',
    `${where} cannot be read as DICOM: ${detail}. It may be truncated or damaged; export it again from its source or remove it, then import again.`,
  );

/**
 * Parses the file. A file without the 128-byte preamble and 'DICM' marker is
 * refused: a bare data set has no transfer syntax to trust and too little
 * structure to tell it from other binary files.
 */
export function parseDicomFile(
  bytes: Uint8Array,
  where: string,
  maxInflatedBytes: number,
): ParsedDicom {
  if (!isDicomPart10(bytes)) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is not a DICOM file: it lacks the "DICM" marker that DICOM files carry at byte 128. If it is a DICOM data set without the file header, convert it to a DICOM file with a DICOM tool (e.g. dcmconv); otherwise remove it, then import again.`,
    );
  }
  let inflateFailure: 'too-large' | 'damaged' | undefined;
  const inflater = (array: Uint8Array, position: number): Uint8Array => {
    let inflated: Uint8Array;
    try {
      inflated = inflateRawSync(array.subarray(position), { maxOutputLength: maxInflatedBytes });
    } catch (err) {
      inflateFailure =
        (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'too-large' : 'damaged';
      throw err;
    }
    const full = new Uint8Array(position + inflated.length);
    full.set(array.subarray(0, position));
    full.set(inflated, position);
    return full;
  };
  try {
    return { dataSet: dicomParser.parseDicom(bytes, { inflater }), truncated: false };
  } catch (err) {
    if (inflateFailure === 'too-large') {
      throw new UserError(
        'UNSUPPORTED',
        `${where} is a deflated DICOM file that inflates to more than ${formatBytes(maxInflatedBytes)}, more than DP² Studio reads. Convert it to explicit VR little endian with a DICOM tool, or reduce it, then import again.`,
      );
    }
    if (inflateFailure === 'damaged') throw corrupt(where, 'its deflated data cannot be inflated');
    // dicom-parser throws { exception, dataSet } with what it read before the failure.
    const partial = (err as { dataSet?: DataSet } | null)?.dataSet;
    if (partial?.elements['x7fe00010'] !== undefined) {
      // The partial set lacks the file meta header (merged only on success): add it back.
      try {
        const meta = dicomParser.readPart10Header(bytes);
        for (const [tag, element] of Object.entries(meta.elements)) partial.elements[tag] = element;
      } catch {
        throw corrupt(where, 'its file meta header is damaged');
      }
      return { dataSet: partial, truncated: true };
    }
    throw corrupt(where, 'its header is damaged');
  }
}

/** The transfer syntax UID of the file, or undefined; a value that is not a UID is not returned. */
export function readTransferSyntaxUid(dataSet: DataSet): string | undefined {
  const uid = dataSet.string('x00020010')?.replace(/\0/g, '').trim();
  return uid && /^[0-9.]{1,64}$/.test(uid) ? uid : undefined;
}
