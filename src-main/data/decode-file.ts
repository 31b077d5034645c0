/**
 * One image file's bytes to its images: PNG, JPEG and BMP give one; a DICOM
 * file gives one per frame, with its allow-listed header summary. The same
 * function runs in the scan's thread and in the decode worker threads
 * (decode-pool.ts), so both paths decode alike.
 */
import { prepareImage } from './collector';
import type { PreparedImage } from './collector';
import { decodeImage, detectImageFormat } from './decode-image';
import { decodeDicom } from './dicom';
import type { DicomHeaderSummary, DicomWindowing } from './dicom';
import type { TargetShape } from './preprocess';
import type { DecodedImage } from './types';

/** The images of one file; `dicom` only for DICOM files. */
export interface DecodedFile {
  images: DecodedImage[];
  dicom?: { header: DicomHeaderSummary; patientFields: number };
}

/** How files are decoded: the DICOM window and the largest image accepted. */
export interface DecodeFileOptions {
  dicomWindow: DicomWindowing;
  maxPixels: number;
}

/** The images of one file brought to the target shape; `dicom` only for DICOM files. */
export interface PreparedFile {
  images: PreparedImage[];
  dicom?: DecodedFile['dicom'];
}

/**
 * Decodes one file (format from its magic bytes). Throws what the decoders
 * throw: UserError (CORRUPT_DATA, UNSUPPORTED), DicomWithoutImage, or
 * RangeError when memory runs out. DICOM needs ensureDicomCodecs() first.
 */
export function decodeFile(bytes: Uint8Array, where: string, opts: DecodeFileOptions): DecodedFile {
  if (detectImageFormat(bytes) !== 'dicom') return { images: [decodeImage(bytes, where)] };
  const d = decodeDicom(bytes, where, { windowing: opts.dicomWindow, maxPixels: opts.maxPixels });
  return { images: d.frames, dicom: { header: d.header, patientFields: d.patientFields } };
}

/** Decodes one file and brings each of its images to the target shape (see {@link decodeFile}). */
export function prepareFile(
  bytes: Uint8Array,
  where: string,
  opts: DecodeFileOptions,
  target: TargetShape,
): PreparedFile {
  const { images, dicom } = decodeFile(bytes, where, opts);
  const prepared = images.map((img) => prepareImage(img, target));
  return dicom ? { images: prepared, dicom } : { images: prepared };
}
