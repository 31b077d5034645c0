/**
 * DICOM transfer syntaxes: which ones are decoded, how, and their plain names
 * (for the header summary and for the message refusing the others).
 */

/** How the pixel data of a transfer syntax is stored. */
export type PixelEncoding =
  'native' | 'rle' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'j2k';

/** A decoded transfer syntax. */
export interface TransferSyntax {
  uid: string;
  name: string;
  encoding: PixelEncoding;
  /** Explicit VR big endian: native 16/32-bit samples are byte-swapped. */
  bigEndian: boolean;
  /** The data set after the file meta header is deflated (zlib raw). */
  deflated: boolean;
}

export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';
export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
export const JPEG_LOSSLESS = '1.2.840.10008.1.2.4.57';
export const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
export const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';
export const JPEG_LS_NEAR = '1.2.840.10008.1.2.4.81';
export const J2K_LOSSLESS = '1.2.840.10008.1.2.4.90';
export const J2K = '1.2.840.10008.1.2.4.91';

const syntax = (
  uid: string,
  name: string,
  encoding: PixelEncoding,
  flags: { bigEndian?: boolean; deflated?: boolean } = {},
): TransferSyntax => ({
  uid,
  name,
  encoding,
  bigEndian: flags.bigEndian ?? false,
  deflated: flags.deflated ?? false,
});

const SUPPORTED = new Map<string, TransferSyntax>(
  [
    syntax(IMPLICIT_LE, 'implicit VR little endian', 'native'),
    syntax(EXPLICIT_LE, 'explicit VR little endian', 'native'),
    syntax(EXPLICIT_BE, 'explicit VR big endian', 'native', { bigEndian: true }),
    syntax(DEFLATED_LE, 'deflated explicit VR little endian', 'native', { deflated: true }),
    syntax(RLE_LOSSLESS, 'RLE lossless', 'rle'),
    syntax(JPEG_BASELINE, 'JPEG baseline (8-bit)', 'jpeg-baseline'),
    syntax(JPEG_LOSSLESS, 'JPEG lossless', 'jpeg-lossless'),
    syntax(JPEG_LOSSLESS_SV1, 'JPEG lossless (first-order prediction)', 'jpeg-lossless'),
    syntax(JPEG_LS_LOSSLESS, 'JPEG-LS lossless', 'jpeg-ls'),
    syntax(JPEG_LS_NEAR, 'JPEG-LS near-lossless', 'jpeg-ls'),
    syntax(J2K_LOSSLESS, 'JPEG 2000 lossless', 'j2k'),
    syntax(J2K, 'JPEG 2000', 'j2k'),
  ].map((s) => [s.uid, s]),
);

/** Names of known syntaxes that are not decoded, for the refusal message. */
const UNSUPPORTED_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.98': 'encapsulated uncompressed explicit VR little endian',
  '1.2.840.10008.1.2.4.51': 'JPEG extended (12-bit)',
  '1.2.840.10008.1.2.4.52': 'JPEG extended (retired)',
  '1.2.840.10008.1.2.4.53': 'JPEG spectral selection (retired)',
  '1.2.840.10008.1.2.4.54': 'JPEG spectral selection (retired)',
  '1.2.840.10008.1.2.4.55': 'JPEG full progression (retired)',
  '1.2.840.10008.1.2.4.56': 'JPEG full progression (retired)',
  '1.2.840.10008.1.2.4.58': 'JPEG lossless hierarchical (retired)',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 part 2 multi-component lossless',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 part 2 multi-component',
  '1.2.840.10008.1.2.4.94': 'JPIP referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP referenced deflate',
  '1.2.840.10008.1.2.4.100': 'MPEG-2 video',
  '1.2.840.10008.1.2.4.101': 'MPEG-2 video (high level)',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 video',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 video (BD-compatible)',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 video (2D)',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 video (3D)',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 video (stereo)',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 video',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 video (main 10)',
  '1.2.840.10008.1.2.4.110': 'JPEG XL lossless',
  '1.2.840.10008.1.2.4.111': 'JPEG XL (JPEG recompression)',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
  '1.2.840.10008.1.2.4.201': 'high-throughput JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.202': 'high-throughput JPEG 2000 lossless (RPCL)',
  '1.2.840.10008.1.2.4.203': 'high-throughput JPEG 2000',
  '1.2.840.10008.1.2.6.1': 'RFC 2557 MIME encapsulation',
  '1.2.840.10008.1.2.6.2': 'XML encoding',
};

/** The decoded transfer syntax with this UID, or undefined when it is not decoded. */
export function supportedTransferSyntax(uid: string): TransferSyntax | undefined {
  return SUPPORTED.get(uid);
}

/** A plain name for any transfer syntax UID (the UID is a standard identifier, not patient data). */
export function transferSyntaxName(uid: string): string {
  return (
    SUPPORTED.get(uid)?.name ??
    UNSUPPORTED_NAMES[uid] ??
    (uid.startsWith('1.2.840.10008.')
      ? 'an unlisted standard transfer syntax'
      : 'a private transfer syntax')
  );
}

/** Names of every decoded transfer syntax, for documentation and messages. */
export function supportedTransferSyntaxNames(): string[] {
  return [...SUPPORTED.values()].map((s) => s.name);
}
