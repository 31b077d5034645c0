/**
 * DICOM RLE lossless (PS3.5 annex G): a 64-byte header of segment offsets,
 * then one PackBits segment per byte plane (most significant byte first, one
 * sample after another). Decoded straight into interleaved little-endian
 * samples, whatever the Planar Configuration says.
 */
import { FrameError } from './codecs';

/**
 * Decodes one RLE frame into `samplesPerPixel` interleaved samples of
 * `bytesPerSample` bytes, little-endian, as a byte array of
 * pixels × samplesPerPixel × bytesPerSample.
 */
export function decodeRleFrame(
  data: Uint8Array,
  pixels: number,
  samplesPerPixel: number,
  bytesPerSample: number,
): Uint8Array {
  if (data.length < 64) throw new FrameError('its RLE header is truncated');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const segments = view.getUint32(0, true);
  const expected = samplesPerPixel * bytesPerSample;
  if (segments !== expected) {
    throw new FrameError(`its RLE data has ${segments} segments where ${expected} were expected`);
  }
  const stride = expected;
  const out = new Uint8Array(pixels * stride);
  for (let seg = 0; seg < segments; seg++) {
    const start = view.getUint32(4 + seg * 4, true);
    const end = seg + 1 < segments ? view.getUint32(8 + seg * 4, true) : data.length;
    if (start < 64 || start > end || end > data.length) {
      throw new FrameError('its RLE segment table is damaged');
    }
    const sample = Math.floor(seg / bytesPerSample);
    const plane = seg % bytesPerSample; // 0 = most significant byte
    const base = sample * bytesPerSample + (bytesPerSample - 1 - plane);
    const written = unpackBits(data, start, end, out, base, stride, pixels);
    if (written < pixels) throw new FrameError('its RLE data is truncated');
  }
  return out;
}

/** PackBits into every `stride`-th byte of `out` from `base`; returns how many bytes it wrote (at most `count`). */
function unpackBits(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  base: number,
  stride: number,
  count: number,
): number {
  let i = start;
  let n = 0;
  let o = base;
  while (i < end && n < count) {
    const h = src[i++] ?? 0;
    if (h < 128) {
      // literal run of h + 1 bytes
      let run = Math.min(h + 1, count - n, end - i);
      n += run;
      while (run-- > 0) {
        out[o] = src[i++] ?? 0;
        o += stride;
      }
    } else if (h > 128) {
      // the next byte repeated 257 − h times
      if (i >= end) break;
      const v = src[i++] ?? 0;
      let run = Math.min(257 - h, count - n);
      n += run;
      while (run-- > 0) {
        out[o] = v;
        o += stride;
      }
    } // 128 is a no-op
  }
  return n;
}
