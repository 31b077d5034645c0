/**
 * DICOM decoding: a Part-10 file's frames as 8-bit grey or RGB images, with
 * what a viewer applies (rescale, window or VOI LUT, MONOCHROME1 inversion,
 * planar configuration, YBR and palette colour), and a summary of the header
 * restricted to an allow-list. Nothing else of the header leaves this module:
 * not in the result, not in error messages, not in logs.
 */
import type { DataSet } from 'dicom-parser';
import { UserError } from '../../contract/errors';
import type { DecodedImage } from '../types';
import {
  FrameError,
  codecsLoaded,
  decodeJ2k,
  decodeJpegBaseline,
  decodeJpegLossless,
  decodeJpegLs,
  loadCodecs,
  type CodecFrame,
} from './codecs';
import { FramesError, encapsulatedFrames, nativeFrames } from './frames';
import { countPatientFields, readImageHeader, readPalette, type ImageHeader } from './header';
import { parseDicomFile, readTransferSyntaxUid } from './parse';
import { GreyMapper, colourFrame, expandYbr422, paletteFrame, type RawSamples } from './pixels';
import { decodeRleFrame } from './rle';
import {
  supportedTransferSyntax,
  transferSyntaxName,
  type TransferSyntax,
} from './transfer-syntax';

/**
 * How grey values become 8-bit: `file` the file's window (or VOI LUT; the
 * image's full range when it has none), `full` the image's own minimum to
 * maximum after rescale, `stored` every value the stored bits can hold.
 */
export type DicomWindowing = 'file' | 'full' | 'stored';

/** The only header values kept: an allow-list. Nothing else of the header leaves the decoder. */
export interface DicomHeaderSummary {
  modality: string | null;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  photometric: string;
  transferSyntaxUid: string;
  /** Plain name, e.g. "JPEG-LS lossless". */
  transferSyntax: string;
}

/** A decoded DICOM file. */
export interface DecodedDicom {
  /** One 8-bit image per frame: 1 (grey) or 3 (RGB) channels. */
  frames: DecodedImage[];
  header: DicomHeaderSummary;
  /**
   * Number of identifying header fields present and non-empty (the patient
   * group, institution, physicians, operators, accession number, study and
   * series dates and times, station, device serial number…): counted, never kept.
   */
  patientFields: number;
}

/** Thrown for a DICOM file that holds no image (structured report, DICOMDIR, presentation state…): the import ignores it with a warning. */
export class DicomWithoutImage extends UserError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
    this.name = 'DicomWithoutImage';
  }
}

/** Loads the wasm codecs (JPEG-LS, JPEG 2000) once; call and await before decodeDicom. */
export function ensureDicomCodecs(): Promise<void> {
  return loadCodecs();
}

const GREY = new Set(['MONOCHROME1', 'MONOCHROME2']);
const COLOUR = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT']);

/** What a DICOM object without pixel data is, in words, from its SOP class UID. */
function withoutImageKind(sop: string | undefined): string {
  if (!sop) return 'a DICOM object';
  if (sop === '1.2.840.10008.1.3.10') return 'a DICOMDIR directory';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.88.')) return 'a structured report';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.11.')) return 'a presentation state';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.104.'))
    return 'an encapsulated document (PDF or CDA)';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.9.')) return 'a waveform (ECG, audio…)';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.481.')) return 'a radiotherapy object';
  if (sop.startsWith('1.2.840.10008.5.1.4.1.1.66')) return 'raw data or a registration';
  return 'a DICOM object';
}

const corrupt = (where: string, detail: string): UserError =>
  new UserError(
    'CORRUPT_DATA',
    `${where} is a DICOM file whose ${detail}. It may be truncated or damaged: export or copy it again from its source, or remove it, then import again.`,
  );

const unsupported = (where: string, detail: string, action: string): UserError =>
  new UserError(
    'UNSUPPORTED',
    `${where} is a DICOM file ${detail}, which DP² Studio does not import. ${action}`,
  );

/** Checks the image attributes and the size against the limit; returns the effective photometric interpretation. */
function checkHeader(h: ImageHeader, where: string, maxPixels: number): string {
  if (h.rows <= 0 || h.columns <= 0)
    throw corrupt(where, 'header gives no image size (Rows, Columns)');
  if (h.samplesPerPixel !== 1 && h.samplesPerPixel !== 3) {
    throw unsupported(
      where,
      `with ${h.samplesPerPixel} samples per pixel`,
      'Only grey (1) and colour (3) images are read.',
    );
  }
  if (h.bitsAllocated === 1) {
    throw unsupported(
      where,
      'with 1-bit pixels (a segmentation or overlay)',
      'Import the images it refers to instead.',
    );
  }
  if (h.bitsAllocated !== 8 && h.bitsAllocated !== 16 && h.bitsAllocated !== 32) {
    throw corrupt(
      where,
      `header gives ${h.bitsAllocated} bits allocated per sample (8, 16 or 32 expected)`,
    );
  }
  if (
    h.bitsStored < 1 ||
    h.bitsStored > h.bitsAllocated ||
    h.highBit < h.bitsStored - 1 ||
    h.highBit >= h.bitsAllocated
  ) {
    throw corrupt(
      where,
      `header's bit layout is inconsistent (${h.bitsStored} bits stored, high bit ${h.highBit}, ${h.bitsAllocated} allocated)`,
    );
  }
  const photometric = h.photometric || (h.samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2');
  const fits =
    h.samplesPerPixel === 1
      ? GREY.has(photometric) || photometric === 'PALETTE COLOR'
      : COLOUR.has(photometric);
  if (!fits) {
    throw unsupported(
      where,
      `with the photometric interpretation ${photometric || '(none)'} for ${h.samplesPerPixel} sample(s) per pixel`,
      'Convert it to MONOCHROME2 or RGB with a DICOM tool, then import again.',
    );
  }
  const samples = h.rows * h.columns * h.frames * h.samplesPerPixel;
  if (samples > maxPixels) {
    const colour = h.samplesPerPixel > 1 ? ` × ${h.samplesPerPixel} colour samples` : '';
    throw unsupported(
      where,
      `of ${h.columns}×${h.rows} pixels × ${h.frames} frame(s)${colour}, more than the ${(maxPixels / 2 ** 20).toFixed(0)} megapixels DP² Studio reads from one file`,
      'Split it into smaller files or reduce the images with a DICOM tool, then import again.',
    );
  }
  return photometric;
}

/** Decodes one compressed frame with its syntax's codec. */
function decodeCompressed(
  syntax: TransferSyntax,
  data: Uint8Array,
  h: ImageHeader,
  minSide: number | undefined,
): CodecFrame {
  const expect = { width: h.columns, height: h.rows, components: h.samplesPerPixel };
  switch (syntax.encoding) {
    case 'jpeg-baseline':
      return decodeJpegBaseline(data, expect);
    case 'jpeg-lossless':
      return decodeJpegLossless(data, expect);
    case 'jpeg-ls':
      return decodeJpegLs(data, expect);
    case 'j2k':
      return decodeJ2k(data, expect, minSide);
    default:
      throw new Error(`no codec for ${syntax.encoding}`);
  }
}

/** Reads the RLE frame's bytes as samples of the allocated width. */
function rleSamples(bytes: Uint8Array, bytesPerSample: number): RawSamples {
  if (bytesPerSample === 1) return bytes;
  return bytesPerSample === 2
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/**
 * Decodes a DICOM Part-10 file into 8-bit images, one per frame. Synchronous
 * once ensureDicomCodecs() has resolved. Throws UserError CORRUPT_DATA (not
 * DICOM, damaged or truncated), UNSUPPORTED (transfer syntax, photometric
 * interpretation, too large) or DicomWithoutImage; messages name `where`,
 * never a header value outside the allow-list.
 */
export function decodeDicom(
  bytes: Uint8Array,
  where: string,
  options: {
    windowing: DicomWindowing;
    maxPixels: number;
    /**
     * Optional: JPEG 2000 frames may come back smaller, at the wavelet
     * resolution level whose sides stay ≥ minSide (several times faster for
     * a small import size). Other syntaxes always give the full size. Leave
     * it out where pixels must not depend on the transfer syntax.
     */
    minSide?: number;
  },
): DecodedDicom {
  // The inflated data set holds at most maxPixels samples of 4 bytes, plus its header.
  const { dataSet } = parseDicomFile(bytes, where, options.maxPixels * 4 + 64 * 2 ** 20);
  const uid = readTransferSyntaxUid(dataSet);
  if (!uid) throw corrupt(where, 'file meta header names no valid transfer syntax');
  const pixelData = dataSet.elements['x7fe00010'];
  if (!pixelData) {
    if (dataSet.elements['x7fe00008'] || dataSet.elements['x7fe00009']) {
      throw unsupported(
        where,
        'with floating-point pixel data (a parametric map)',
        'Export it as an integer image, then import again.',
      );
    }
    const h = readImageHeader(dataSet);
    const kind = withoutImageKind(h.sopClassUid);
    throw new DicomWithoutImage(
      kind === 'a DICOM object'
        ? `${where} is a DICOM file that holds no image (no pixel data); it is skipped.`
        : `${where} is ${kind}, a DICOM file that holds no image; it is skipped.`,
    );
  }
  const syntax = supportedTransferSyntax(uid);
  if (!syntax) {
    throw unsupported(
      where,
      `stored in ${transferSyntaxName(uid)} (transfer syntax ${uid})`,
      'Convert it to explicit VR little endian with a DICOM tool (e.g. dcmconv +te from DCMTK, or gdcmconv --raw), then import again.',
    );
  }
  if (syntax.encoding !== 'native' && !codecsLoaded()) {
    throw new Error('ensureDicomCodecs() must be awaited before decodeDicom');
  }
  const h = readImageHeader(dataSet);
  const photometric = checkHeader(h, where, options.maxPixels);
  const frames = decodeFrames(dataSet, pixelData, h, photometric, syntax, where, options);
  return {
    frames,
    header: {
      modality: h.modality,
      rows: h.rows,
      columns: h.columns,
      frames: h.frames,
      samplesPerPixel: h.samplesPerPixel,
      bitsAllocated: h.bitsAllocated,
      bitsStored: h.bitsStored,
      photometric,
      transferSyntaxUid: uid,
      transferSyntax: syntax.name,
    },
    patientFields: countPatientFields(dataSet),
  };
}

function decodeFrames(
  dataSet: DataSet,
  pixelData: NonNullable<DataSet['elements'][string]>,
  h: ImageHeader,
  photometric: string,
  syntax: TransferSyntax,
  where: string,
  options: { windowing: DicomWindowing; minSide?: number },
): DecodedImage[] {
  const pixels = h.rows * h.columns;
  const bytesPerSample = (h.bitsAllocated / 8) as 1 | 2 | 4;
  const ybr422 = photometric === 'YBR_FULL_422' && syntax.encoding === 'native';
  if (ybr422 && h.bitsAllocated !== 8) {
    throw unsupported(
      where,
      'with 16-bit YBR_FULL_422 colour',
      'Convert it to RGB with a DICOM tool, then import again.',
    );
  }
  const grey = h.samplesPerPixel === 1 && photometric !== 'PALETTE COLOR';
  const palette = photometric === 'PALETTE COLOR' ? readPalette(dataSet) : undefined;
  if (photometric === 'PALETTE COLOR' && !palette) {
    throw unsupported(
      where,
      'with PALETTE COLOR pixels but no plain palette (a segmented palette, or none)',
      'Convert it to RGB with a DICOM tool, then import again.',
    );
  }
  const mapper = grey ? new GreyMapper(h, options.windowing) : undefined;
  const frameName = (i: number): string =>
    h.frames > 1 ? `frame ${i + 1} of ${h.frames}` : 'image';

  interface Frame {
    raw: RawSamples;
    shift: number;
    alreadyRgb: boolean;
    /** Decoded size: the header's, or smaller for a reduced-resolution JPEG 2000 frame. */
    width: number;
    height: number;
  }
  const full = { width: h.columns, height: h.rows };
  let frameRaw: (i: number) => Frame;
  try {
    if (syntax.encoding === 'native') {
      const frameSamples = pixels * (ybr422 ? 2 : h.samplesPerPixel);
      const get = nativeFrames(
        dataSet,
        pixelData,
        frameSamples,
        h.frames,
        bytesPerSample,
        syntax.bigEndian,
      );
      const shift = h.highBit - h.bitsStored + 1;
      frameRaw = (i) => ({ raw: get(i), shift, alreadyRgb: false, ...full });
    } else {
      if (!pixelData.encapsulatedPixelData)
        throw new FramesError('its compressed pixel data is not encapsulated');
      const get = encapsulatedFrames(dataSet, pixelData, h.frames, syntax.encoding !== 'rle');
      if (syntax.encoding === 'rle') {
        const shift = h.highBit - h.bitsStored + 1;
        frameRaw = (i) => ({
          raw: rleSamples(
            decodeRleFrame(get(i), pixels, h.samplesPerPixel, bytesPerSample),
            bytesPerSample,
          ),
          shift,
          alreadyRgb: false,
          ...full,
        });
      } else {
        frameRaw = (i) => {
          const f = decodeCompressed(syntax, get(i), h, options.minSide);
          return {
            raw: f.samples,
            shift: 0,
            alreadyRgb: f.alreadyRgb,
            width: f.width,
            height: f.height,
          };
        };
      }
    }
  } catch (err) {
    if (err instanceof FramesError && err.truncated) {
      throw new UserError(
        'CORRUPT_DATA',
        `${where}: the pixel data is truncated (expected ${err.truncated.expected} bytes, found ${err.truncated.found}). The file was probably cut short while copying: copy it again from its source or remove it, then import again.`,
      );
    }
    if (err instanceof FramesError)
      throw corrupt(where, `compressed pixel data cannot be read (${err.message})`);
    throw err;
  }

  const out: DecodedImage[] = [];
  for (let i = 0; i < h.frames; i++) {
    let frame: Frame;
    try {
      frame = frameRaw(i);
    } catch (err) {
      if (err instanceof FrameError || err instanceof FramesError) {
        throw corrupt(
          where,
          `${frameName(i)} cannot be decoded from ${syntax.name} (${err.message})`,
        );
      }
      throw err;
    }
    const { width, height } = frame;
    const n = width * height;
    if (mapper) {
      out.push({ width, height, channels: 1, data: mapper.map(frame.raw, n, frame.shift) });
    } else if (palette) {
      out.push({
        width,
        height,
        channels: 3,
        data: paletteFrame(frame.raw, n, palette, h.pixelRepresentation === 1),
      });
    } else {
      const raw = ybr422 ? expandYbr422(frame.raw as Uint8Array, h.rows, h.columns) : frame.raw;
      const data = colourFrame(raw, n, {
        planar: syntax.encoding === 'native' && !ybr422 && h.planarConfiguration === 1,
        bitsStored: h.bitsStored,
        ybr: !frame.alreadyRgb && (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422'),
      });
      out.push({ width, height, channels: 3, data });
    }
  }
  return out;
}
