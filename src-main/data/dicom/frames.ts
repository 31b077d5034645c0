/**
 * Where each frame's bytes are: native pixel data cut into frames (checked
 * against its declared length before anything is allocated), or encapsulated
 * fragments grouped into frames by the basic offset table, one fragment per
 * frame, or the codestreams' start markers.
 */
import type { DataSet, Element } from 'dicom-parser';
import type { RawSamples } from './pixels';

/** Why the frames cannot be cut out; the caller words the message. */
export class FramesError extends Error {
  constructor(
    message: string,
    readonly truncated?: { expected: number; found: number },
  ) {
    super(message);
  }
}

/** The stored samples of each native frame (views into the file where alignment allows). */
export function nativeFrames(
  dataSet: DataSet,
  element: Element,
  frameSamples: number,
  frames: number,
  bytesPerSample: 1 | 2 | 4,
  bigEndian: boolean,
): (i: number) => RawSamples {
  const bytes = dataSet.byteArray;
  const frameBytes = frameSamples * bytesPerSample;
  const expected = frameBytes * frames;
  const declared = element.length === 0xffffffff ? Infinity : element.length;
  const found = Math.max(0, Math.min(declared, bytes.length - element.dataOffset));
  if (found < expected) {
    throw new FramesError('truncated', { expected, found });
  }
  return (i) => {
    const at = element.dataOffset + i * frameBytes;
    const slice = bytes.subarray(at, at + frameBytes);
    if (bytesPerSample === 1) return slice;
    const Typed = bytesPerSample === 2 ? Uint16Array : Uint32Array;
    if (!bigEndian && slice.byteOffset % bytesPerSample === 0) {
      return new Typed(slice.buffer as ArrayBuffer, slice.byteOffset, frameSamples);
    }
    const out = new Typed(frameSamples);
    const view = new DataView(slice.buffer, slice.byteOffset, slice.byteLength);
    if (bytesPerSample === 2) {
      for (let k = 0; k < frameSamples; k++) out[k] = view.getUint16(k * 2, !bigEndian);
    } else {
      for (let k = 0; k < frameSamples; k++) out[k] = view.getUint32(k * 4, !bigEndian);
    }
    return out;
  };
}

/** True when a fragment starts a JPEG, JPEG-LS or JPEG 2000 codestream (or a JP2 file). */
function startsCodestream(b: Uint8Array): boolean {
  if (b[0] === 0xff && (b[1] === 0xd8 || b[1] === 0x4f)) return true;
  return b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x0c && b[4] === 0x6a && b[5] === 0x50;
}

/** The codestream of each encapsulated frame (fragments of a frame joined). */
export function encapsulatedFrames(
  dataSet: DataSet,
  element: Element,
  frames: number,
  markersTellFrames: boolean,
): (i: number) => Uint8Array {
  const bytes = dataSet.byteArray;
  const fragments = (element.fragments ?? []).filter((f) => f.length > 0);
  for (const f of fragments) {
    if (f.position + f.length > bytes.length)
      throw new FramesError('it is truncated: a fragment runs past the end of the file');
  }
  if (fragments.length === 0) throw new FramesError('the pixel data holds no compressed frame');
  const fragmentBytes = (k: number): Uint8Array => {
    const f = fragments[k]!;
    return bytes.subarray(f.position, f.position + f.length);
  };
  // groups[i] = [first fragment, end fragment) of frame i
  let groups: [number, number][] | undefined;
  const bot = element.basicOffsetTable ?? [];
  if (frames === 1) {
    groups = [[0, fragments.length]];
  } else if (bot.length === frames) {
    groups = bot.map((offset, i) => {
      const next = bot[i + 1] ?? Infinity;
      const first = fragments.findIndex((f) => f.offset >= offset);
      let end = first;
      while (end >= 0 && end < fragments.length && fragments[end]!.offset < next) end++;
      return [first, end];
    });
    if (groups.some(([a, b]) => a < 0 || b <= a))
      throw new FramesError('its offset table does not match its fragments');
  } else if (fragments.length === frames) {
    groups = fragments.map((_, k) => [k, k + 1]);
  } else if (markersTellFrames) {
    const starts: number[] = [];
    fragments.forEach((_, k) => {
      if (startsCodestream(fragmentBytes(k))) starts.push(k);
    });
    if (starts[0] === 0) groups = starts.map((s, i) => [s, starts[i + 1] ?? fragments.length]);
  }
  if (!groups || groups.length < frames) {
    throw new FramesError(
      groups
        ? `the header says ${frames} frames but the compressed pixel data holds ${groups.length}`
        : `the header says ${frames} frames but the compressed pixel data has ${fragments.length} fragments and no offset table telling which frame each belongs to`,
    );
  }
  const frameGroups = groups;
  return (i) => {
    const [a, b] = frameGroups[i]!;
    if (b - a === 1) return fragmentBytes(a);
    let total = 0;
    for (let k = a; k < b; k++) total += fragments[k]!.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (let k = a; k < b; k++) {
      out.set(fragmentBytes(k), at);
      at += fragments[k]!.length;
    }
    return out;
  };
}
