/**
 * The compressed-frame decoders: JPEG baseline (jpeg-js), JPEG lossless
 * (jpeg-lossless-decoder-js), JPEG-LS (CharLS, wasm) and JPEG 2000
 * (OpenJPEG, wasm). Each checks the frame's size in its codestream against the
 * DICOM header before decoding, so a damaged frame cannot make a codec
 * allocate more than the header (already checked against the limit) allows.
 */
import jpeg from 'jpeg-js';
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import type { CharlsModule } from '@cornerstonejs/codec-charls/wasmjs';
import type { OpenJpegModule } from '@cornerstonejs/codec-openjpeg/wasmjs';

/** Samples of one decoded frame, components interleaved (grey: one per pixel). */
export interface CodecFrame {
  width: number;
  height: number;
  components: number;
  /** 8-bit samples in a Uint8Array, deeper ones in a Uint16Array (raw bits, sign not applied). */
  samples: Uint8Array | Uint16Array;
  /** JPEG baseline decoders turn YCbCr into RGB themselves. */
  alreadyRgb: boolean;
}

/** A frame that cannot be decoded; the caller words the message with the file and frame. */
export class FrameError extends Error {}

let charls: CharlsModule | undefined;
let openjpeg: OpenJpegModule | undefined;
let loading: Promise<void> | undefined;

// The emscripten modules print "[INFO] …" lines to stdout; keep them quiet. Each module
// needs its own options object: embind registers its functions on it.
const quiet = (): { print: () => void; printErr: () => void } => ({
  print: () => {},
  printErr: () => {},
});

/** Loads the wasm codecs once; later calls return the same promise. */
export function loadCodecs(): Promise<void> {
  loading ??= (async () => {
    const [c, o] = await Promise.all([
      import('@cornerstonejs/codec-charls/wasmjs'),
      import('@cornerstonejs/codec-openjpeg/wasmjs'),
    ]);
    [charls, openjpeg] = await Promise.all([c.default(quiet()), o.default(quiet())]);
  })();
  return loading;
}

/** True once loadCodecs has finished. */
export function codecsLoaded(): boolean {
  return charls !== undefined && openjpeg !== undefined;
}

interface JpegFrameHeader {
  width: number;
  height: number;
  components: number;
  precision: number;
}

/**
 * Reads the SOFn (or JPEG-LS SOF55) header of a JPEG-family codestream,
 * skipping the marker segments before it; undefined when there is none.
 */
export function readJpegFrameHeader(b: Uint8Array): JpegFrameHeader | undefined {
  if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return undefined;
    const marker = b[at + 1] ?? 0;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    const length = ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0);
    const isSof =
      (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) ||
      marker === 0xf7;
    if (isSof) {
      if (at + 10 > b.length) return undefined;
      return {
        precision: b[at + 4] ?? 0,
        height: ((b[at + 5] ?? 0) << 8) | (b[at + 6] ?? 0),
        width: ((b[at + 7] ?? 0) << 8) | (b[at + 8] ?? 0),
        components: b[at + 9] ?? 0,
      };
    }
    at += 2 + length;
  }
  return undefined;
}

/** Reads the SIZ header of a JPEG 2000 codestream (raw, or inside a JP2 file's jp2c box). */
function readJ2kSize(
  b: Uint8Array,
): { width: number; height: number; components: number } | undefined {
  let at = 0;
  // A JP2 file: find the codestream's start marker.
  if (b[0] !== 0xff || b[1] !== 0x4f) {
    at = -1;
    for (let i = 0; i + 1 < Math.min(b.length, 4096); i++) {
      if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
        at = i;
        break;
      }
    }
    if (at < 0) return undefined;
  }
  if (b[at + 2] !== 0xff || b[at + 3] !== 0x51 || at + 42 > b.length) return undefined;
  const u32 = (p: number): number =>
    (((b[p] ?? 0) << 24) | ((b[p + 1] ?? 0) << 16) | ((b[p + 2] ?? 0) << 8) | (b[p + 3] ?? 0)) >>>
    0;
  const s = at + 4; // Lsiz
  const xsiz = u32(s + 4);
  const ysiz = u32(s + 8);
  const xo = u32(s + 12);
  const yo = u32(s + 16);
  const components = ((b[s + 36] ?? 0) << 8) | (b[s + 37] ?? 0);
  return { width: xsiz - xo, height: ysiz - yo, components };
}

/** Number of wavelet decomposition levels in a JPEG 2000 main header's COD segment (0 when not found). */
function readJ2kLevels(b: Uint8Array): number {
  const limit = Math.min(b.length - 10, 65536);
  for (let i = 0; i < limit; i++) {
    // COD: FF52, Lcod(2), Scod(1), progression(1), layers(2), MCT(1), levels(1)
    if (b[i] === 0xff && b[i + 1] === 0x52) return b[i + 9] ?? 0;
    if (b[i] === 0xff && b[i + 1] === 0x90) return 0; // first tile-part: main header over
  }
  return 0;
}

/** Strips the zero padding DICOM adds to odd-length fragments, then checks the end-of-image marker. */
function endsWithEoi(b: Uint8Array): boolean {
  let end = b.length;
  while (end > 2 && b[end - 1] === 0) end--;
  return b[end - 2] === 0xff && b[end - 1] === 0xd9;
}

function checkSize(
  got: { width: number; height: number; components: number } | undefined,
  expect: { width: number; height: number; components: number },
): void {
  if (!got) throw new FrameError('its codestream header is missing or damaged');
  if (got.width !== expect.width || got.height !== expect.height) {
    throw new FrameError(
      `its codestream is ${got.width}×${got.height} pixels but the DICOM header says ${expect.width}×${expect.height}`,
    );
  }
  if (got.components !== expect.components) {
    throw new FrameError(
      `its codestream has ${got.components} colour components but the DICOM header says ${expect.components}`,
    );
  }
}

/** Copies a frame out of wasm memory (the view dies with the codec instance). */
function copyOut(view: Uint8Array, bytesPerSample: number): Uint8Array | Uint16Array {
  if (bytesPerSample === 1) return view.slice();
  const out = new Uint16Array(view.length >> 1);
  new Uint8Array(out.buffer).set(view.subarray(0, out.length * 2));
  return out;
}

/** Decodes one JPEG-LS frame (lossless or near-lossless). */
export function decodeJpegLs(
  data: Uint8Array,
  expect: { width: number; height: number; components: number },
): CodecFrame {
  if (!charls) throw new Error('ensureDicomCodecs() must be awaited before decoding DICOM');
  checkSize(readJpegFrameHeader(data), expect);
  if (!endsWithEoi(data)) throw new FrameError('its codestream is truncated');
  const decoder = new charls.JpegLSDecoder();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    try {
      decoder.decode();
    } catch {
      throw new FrameError('its JPEG-LS codestream is damaged');
    }
    const info = decoder.getFrameInfo();
    const samples = copyOut(decoder.getDecodedBuffer(), info.bitsPerSample > 8 ? 2 : 1);
    // CharLS gives colour as planes when the codestream is not pixel-interleaved.
    const interleave = expect.components > 1 ? decoder.getInterleaveMode() : 2;
    const out = interleave === 0 ? interleavePlanes(samples, expect.components) : samples;
    return { ...expect, samples: out, alreadyRgb: false };
  } finally {
    decoder.delete();
  }
}

function interleavePlanes<T extends Uint8Array | Uint16Array>(planes: T, components: number): T {
  const n = planes.length / components;
  const out = new (planes.constructor as new (n: number) => T)(planes.length);
  for (let c = 0; c < components; c++) {
    for (let i = 0, o = c; i < n; i++, o += components) out[o] = planes[c * n + i] ?? 0;
  }
  return out;
}

/**
 * Decodes one JPEG 2000 frame (a raw codestream or a JP2 file). With
 * `minSide`, decodes the smallest resolution level whose sides stay at least
 * `minSide` (the wavelet's own low-pass image: far less work for a small
 * import size); the frame's width and height then say the reduced size.
 */
export function decodeJ2k(
  data: Uint8Array,
  expect: { width: number; height: number; components: number },
  minSide?: number,
): CodecFrame {
  if (!openjpeg) throw new Error('ensureDicomCodecs() must be awaited before decoding DICOM');
  checkSize(readJ2kSize(data), expect);
  if (!endsWithEoi(data)) throw new FrameError('its codestream is truncated');
  let level = 0;
  if (minSide !== undefined && minSide > 0) {
    const levels = readJ2kLevels(data);
    const side = (n: number, l: number): number => Math.ceil(n / 2 ** l);
    while (
      level < levels &&
      side(expect.width, level + 1) >= minSide &&
      side(expect.height, level + 1) >= minSide
    ) {
      level++;
    }
  }
  const width = Math.ceil(expect.width / 2 ** level);
  const height = Math.ceil(expect.height / 2 ** level);
  const decoder = new openjpeg.J2KDecoder();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    try {
      if (level > 0) decoder.decodeSubResolution(level, 0);
      else decoder.decode();
    } catch {
      throw new FrameError('its JPEG 2000 codestream is damaged');
    }
    const info = decoder.getFrameInfo();
    const bytes = info.bitsPerSample > 8 ? 2 : 1;
    const view = decoder.getDecodedBuffer();
    if (
      info.width !== expect.width ||
      info.height !== expect.height ||
      view.length < width * height * expect.components * bytes
    ) {
      throw new FrameError('its JPEG 2000 codestream is damaged or truncated');
    }
    // OpenJPEG applies the inverse colour transform (YBR_RCT / YBR_ICT) itself.
    return {
      width,
      height,
      components: expect.components,
      samples: copyOut(view.subarray(0, width * height * expect.components * bytes), bytes),
      alreadyRgb: expect.components === 3,
    };
  } finally {
    decoder.delete();
  }
}

/** Decodes one JPEG lossless (process 14) frame. */
export function decodeJpegLossless(
  data: Uint8Array,
  expect: { width: number; height: number; components: number },
): CodecFrame {
  const header = readJpegFrameHeader(data);
  checkSize(header, expect);
  if (!endsWithEoi(data)) throw new FrameError('its codestream is truncated');
  let samples: Uint8Array | Uint16Array;
  try {
    // The decoder reads an ArrayBuffer from an offset: give it the file's buffer, no copy.
    samples = new JpegLosslessDecoder().decode(
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.length,
      (header?.precision ?? 8) > 8 ? 2 : 1,
    );
  } catch {
    throw new FrameError('its JPEG lossless codestream is damaged');
  }
  if (samples.length < expect.width * expect.height * expect.components) {
    throw new FrameError('its JPEG lossless codestream is damaged or truncated');
  }
  return { ...expect, samples, alreadyRgb: false };
}

/** Decodes one 8-bit JPEG baseline frame; colour comes back as RGB. */
export function decodeJpegBaseline(
  data: Uint8Array,
  expect: { width: number; height: number; components: number },
): CodecFrame {
  const header = readJpegFrameHeader(data);
  // A grey image is sometimes stored as a three-component JPEG: its first channel is kept.
  checkSize(
    header && header.components === 3 && expect.components === 1
      ? { ...header, components: 1 }
      : header,
    expect,
  );
  if ((header?.precision ?? 8) !== 8) {
    throw new FrameError(`its JPEG codestream has ${header?.precision ?? 0}-bit samples, not 8`);
  }
  if (!endsWithEoi(data)) throw new FrameError('its codestream is truncated');
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(data, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: Math.ceil((expect.width * expect.height) / 1e6) + 1,
      maxMemoryUsageInMB: Math.ceil((expect.width * expect.height * 4 * 4) / 2 ** 20) + 64,
    });
  } catch {
    throw new FrameError('its JPEG codestream is damaged');
  }
  const n = expect.width * expect.height;
  const got = decoded.data.length / n;
  if (got === expect.components) return { ...expect, samples: decoded.data, alreadyRgb: true };
  if (got === 3 && expect.components === 1) {
    const grey = new Uint8Array(n);
    for (let i = 0, j = 0; i < n; i++, j += 3) grey[i] = decoded.data[j] ?? 0;
    return { ...expect, samples: grey, alreadyRgb: true };
  }
  throw new FrameError('its JPEG codestream does not match the DICOM header');
}
