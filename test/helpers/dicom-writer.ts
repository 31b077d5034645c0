/**
 * A small DICOM Part-10 writer for tests and benches: native (implicit/explicit
 * VR little endian, explicit big endian, deflated) and encapsulated (RLE,
 * JPEG baseline, JPEG lossless SV1, JPEG-LS, JPEG 2000) pixel data, with the
 * attributes the decoder reads and optional patient fields. The JPEG lossless
 * and RLE encoders are written here; the others come from jpeg-js, CharLS and
 * OpenJPEG. Call `await ensureWriterCodecs()` before writing JPEG-LS or JPEG 2000.
 */
import jpeg from 'jpeg-js';
import { deflateRawSync } from 'node:zlib';
import charlsFactory, { type CharlsModule } from '@cornerstonejs/codec-charls/wasmjs';
import openjpegFactory, { type OpenJpegModule } from '@cornerstonejs/codec-openjpeg/wasmjs';

export type WriterSyntax =
  | 'implicit-le'
  | 'explicit-le'
  | 'explicit-be'
  | 'deflated'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-ls-near'
  | 'j2k-lossless';

export const WRITER_SYNTAX_UIDS: Record<WriterSyntax, string> = {
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-le': '1.2.840.10008.1.2.1',
  'explicit-be': '1.2.840.10008.1.2.2',
  deflated: '1.2.840.10008.1.2.1.99',
  rle: '1.2.840.10008.1.2.5',
  'jpeg-baseline': '1.2.840.10008.1.2.4.50',
  'jpeg-lossless': '1.2.840.10008.1.2.4.70',
  'jpeg-ls': '1.2.840.10008.1.2.4.80',
  'jpeg-ls-near': '1.2.840.10008.1.2.4.81',
  'j2k-lossless': '1.2.840.10008.1.2.4.90',
};

/** The lossless syntaxes the writer makes: the same stored image decodes identically in each. */
export const LOSSLESS_SYNTAXES: readonly WriterSyntax[] = [
  'implicit-le',
  'explicit-le',
  'explicit-be',
  'deflated',
  'rle',
  'jpeg-lossless',
  'jpeg-ls',
  'j2k-lossless',
];

/** Identifying fields a test can put in the header (to check that none leaks). */
export interface PatientFields {
  name?: string;
  id?: string;
  birthDate?: string;
  sex?: string;
  age?: string;
  address?: string;
  otherIds?: string;
  institution?: string;
  referringPhysician?: string;
  accessionNumber?: string;
  studyDate?: string;
  studyTime?: string;
  seriesDate?: string;
  operators?: string;
  deviceSerial?: string;
  studyId?: string;
}

const PATIENT_TAGS: Record<keyof PatientFields, [number, number, string]> = {
  name: [0x0010, 0x0010, 'PN'],
  id: [0x0010, 0x0020, 'LO'],
  birthDate: [0x0010, 0x0030, 'DA'],
  sex: [0x0010, 0x0040, 'CS'],
  age: [0x0010, 0x1010, 'AS'],
  address: [0x0010, 0x1040, 'LO'],
  otherIds: [0x0010, 0x1000, 'LO'],
  institution: [0x0008, 0x0080, 'LO'],
  referringPhysician: [0x0008, 0x0090, 'PN'],
  accessionNumber: [0x0008, 0x0050, 'SH'],
  studyDate: [0x0008, 0x0020, 'DA'],
  studyTime: [0x0008, 0x0030, 'TM'],
  seriesDate: [0x0008, 0x0021, 'DA'],
  operators: [0x0008, 0x1070, 'PN'],
  deviceSerial: [0x0018, 0x1000, 'LO'],
  studyId: [0x0020, 0x0010, 'SH'],
};

export interface DicomSpec {
  rows: number;
  columns: number;
  /** Stored values per frame; colour samples interleaved (R, G, B per pixel) whatever the planar configuration. */
  frames: (Uint8Array | Uint16Array | Int16Array | Int8Array)[];
  transferSyntax: WriterSyntax;
  /** Written instead of the syntax's UID in the meta header (pixel data stays as `transferSyntax` makes it). */
  transferSyntaxUid?: string;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: 1 | 3;
  planarConfiguration?: 0 | 1;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  windowCenter?: number;
  windowWidth?: number;
  voiLutFunction?: string;
  modality?: string;
  sopClassUid?: string;
  patient?: PatientFields;
  /** Leave out the Pixel Data element (a structured report, a DICOMDIR). */
  omitPixelData?: boolean;
  /** Header values written instead of the true ones (to test refusals). */
  claim?: { rows?: number; columns?: number; frames?: number };
  /** Encapsulated: fill the basic offset table (default: when there are several frames). */
  basicOffsetTable?: boolean;
  /** Encapsulated: split each frame's codestream into this many fragments (default 1). */
  fragmentsPerFrame?: number;
  /** JPEG baseline quality (default 95). */
  quality?: number;
  /** PALETTE COLOR tables (one 16-bit entry per index from `first`), written as plain LUTs. */
  palette?: { first: number; bits: 8 | 16; r: Uint16Array; g: Uint16Array; b: Uint16Array };
  /** A VOI LUT Sequence with one table. */
  voiLut?: { first: number; bits: number; data: Uint16Array };
}

let charls: CharlsModule | undefined;
let openjpeg: OpenJpegModule | undefined;

/** Loads the JPEG-LS and JPEG 2000 encoders (wasm), once. */
export async function ensureWriterCodecs(): Promise<void> {
  // one options object per module: embind registers its functions on it
  charls ??= await charlsFactory({ print: () => {}, printErr: () => {} });
  openjpeg ??= await openjpegFactory({ print: () => {}, printErr: () => {} });
}

type Mode = 'implicit' | 'explicit-le' | 'explicit-be';

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'SQ', 'UT', 'UN', 'UC', 'UR']);

interface El {
  group: number;
  element: number;
  vr: string;
  /** Value bytes (already in the data set's byte order), or undefined-length encapsulated items. */
  value: Uint8Array;
  undefinedLength?: boolean;
}

class Bytes {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u16(v: number, le: boolean): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, le);
    this.push(b);
  }
  u32(v: number, le: boolean): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, le);
    this.push(b);
  }
  ascii(s: string): void {
    this.push(Uint8Array.from([...s].map((c) => c.charCodeAt(0))));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function str(s: string, vr: string): Uint8Array {
  const b = Buffer.from(s, 'latin1');
  const padded = new Uint8Array(b.length + (b.length % 2));
  padded.set(b);
  if (b.length % 2) padded[b.length] = vr === 'UI' ? 0 : 0x20;
  return padded;
}

function us(values: number[], le: boolean): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x, le));
  return b;
}

function writeElements(els: El[], mode: Mode): Uint8Array {
  const le = mode !== 'explicit-be';
  const out = new Bytes();
  for (const el of [...els].sort((a, b) => a.group - b.group || a.element - b.element)) {
    out.u16(el.group, le);
    out.u16(el.element, le);
    const length = el.undefinedLength ? 0xffffffff : el.value.length;
    if (mode === 'implicit') {
      out.u32(length, le);
    } else {
      out.ascii(el.vr);
      if (LONG_VRS.has(el.vr)) {
        out.u16(0, le);
        out.u32(length, le);
      } else {
        out.u16(length, le);
      }
    }
    out.push(el.value);
  }
  return out.concat();
}

/** Encapsulated pixel data: the offset table item, the fragments, the sequence delimiter. */
function encapsulate(codestreams: Uint8Array[], withTable: boolean, perFrame: number): Uint8Array {
  const out = new Bytes();
  const fragmentsOf = (c: Uint8Array): Uint8Array[] => {
    const padded = c.length % 2 ? Uint8Array.from([...c, 0]) : c;
    if (perFrame <= 1) return [padded];
    // split on even boundaries
    const size = Math.ceil(padded.length / perFrame / 2) * 2;
    const parts: Uint8Array[] = [];
    for (let at = 0; at < padded.length; at += size) parts.push(padded.subarray(at, at + size));
    return parts;
  };
  const frames = codestreams.map(fragmentsOf);
  const offsets: number[] = [];
  let at = 0;
  for (const f of frames) {
    offsets.push(at);
    for (const part of f) at += 8 + part.length;
  }
  out.u16(0xfffe, true);
  out.u16(0xe000, true);
  out.u32(withTable ? offsets.length * 4 : 0, true);
  if (withTable) for (const o of offsets) out.u32(o, true);
  for (const f of frames) {
    for (const part of f) {
      out.u16(0xfffe, true);
      out.u16(0xe000, true);
      out.u32(part.length, true);
      out.push(part);
    }
  }
  out.u16(0xfffe, true);
  out.u16(0xe0dd, true);
  out.u32(0, true);
  return out.concat();
}

/** Stored values as the unsigned bits written (two's complement over the allocated bits). */
function rawBits(
  frame: DicomSpec['frames'][number],
  bitsAllocated: number,
): Uint8Array | Uint16Array {
  if (bitsAllocated === 8)
    return frame instanceof Uint8Array ? frame : Uint8Array.from(frame, (v) => v & 0xff);
  return frame instanceof Uint16Array ? frame : Uint16Array.from(frame, (v) => v & 0xffff);
}

function toPlanar<T extends Uint8Array | Uint16Array>(data: T, samples: number): T {
  const n = data.length / samples;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let c = 0; c < samples; c++)
    for (let i = 0; i < n; i++) out[c * n + i] = data[i * samples + c] ?? 0;
  return out;
}

/** Native pixel bytes of every frame in the given byte order. */
function nativeBytes(
  spec: Required<Pick<DicomSpec, 'bitsAllocated' | 'samplesPerPixel' | 'planarConfiguration'>> &
    DicomSpec,
  le: boolean,
): Uint8Array {
  const out = new Bytes();
  for (const frame of spec.frames) {
    let raw = rawBits(frame, spec.bitsAllocated);
    if (spec.samplesPerPixel === 3 && spec.planarConfiguration === 1) raw = toPlanar(raw, 3);
    if (spec.bitsAllocated === 8) out.push(raw as Uint8Array);
    else if (le) out.push(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice());
    else out.push(us(Array.from(raw), le));
  }
  const bytes = out.concat();
  return bytes.length % 2 ? Uint8Array.from([...bytes, 0]) : bytes;
}

/** PackBits-encodes one byte plane (DICOM RLE segment, padded to even length). */
export function packBits(plane: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  const n = plane.length;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && plane[i + run] === plane[i]) run++;
    if (run >= 3) {
      out.push(257 - run, plane[i] ?? 0);
      i += run;
      continue;
    }
    const start = i;
    while (i < n && i - start < 128) {
      if (i + 2 < n && plane[i] === plane[i + 1] && plane[i] === plane[i + 2]) break;
      i++;
    }
    out.push(i - start - 1);
    for (let k = start; k < i; k++) out.push(plane[k] ?? 0);
  }
  if (out.length % 2) out.push(128);
  return Uint8Array.from(out);
}

function encodeRle(
  raw: Uint8Array | Uint16Array,
  samples: number,
  bytesPerSample: number,
): Uint8Array {
  const pixels = raw.length / samples;
  const segments: Uint8Array[] = [];
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < bytesPerSample; k++) {
      const shift = 8 * (bytesPerSample - 1 - k);
      const plane = new Uint8Array(pixels);
      for (let i = 0; i < pixels; i++) plane[i] = ((raw[i * samples + s] ?? 0) >> shift) & 0xff;
      segments.push(packBits(plane));
    }
  }
  const header = new Uint8Array(64);
  const view = new DataView(header.buffer);
  view.setUint32(0, segments.length, true);
  let at = 64;
  segments.forEach((seg, i) => {
    view.setUint32(4 + i * 4, at, true);
    at += seg.length;
  });
  const out = new Bytes();
  out.push(header);
  for (const seg of segments) out.push(seg);
  return out.concat();
}

/** A bit writer with JPEG byte stuffing. */
class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(bits: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((bits >>> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  finish(): number[] {
    while (this.n !== 0) this.write(1, 1);
    return this.bytes;
  }
}

/**
 * JPEG lossless, process 14, selection value 1 (left neighbour), one
 * Huffman table of 5-bit codes for the difference categories 0–16.
 * Colour is written as one interleaved scan.
 */
export function encodeJpegLossless(
  raw: Uint8Array | Uint16Array,
  width: number,
  height: number,
  precision: number,
  components: number,
): Uint8Array {
  const head: number[] = [0xff, 0xd8];
  const seg = (marker: number, body: number[]): void => {
    head.push(0xff, marker, ((body.length + 2) >> 8) & 0xff, (body.length + 2) & 0xff, ...body);
  };
  const comps = Array.from({ length: components }, (_, c) => c + 1);
  seg(0xc3, [
    precision,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    components,
    ...comps.flatMap((c) => [c, 0x11, 0]),
  ]);
  // 17 symbols (categories 0–16), all with 5-bit codes: code = category.
  const bits = new Array<number>(16).fill(0);
  bits[4] = 17;
  seg(0xc4, [0x00, ...bits, ...Array.from({ length: 17 }, (_, i) => i)]);
  seg(0xda, [components, ...comps.flatMap((c) => [c, 0x00]), 1, 0, 0]);
  const w = new BitWriter();
  const mask = precision >= 16 ? 0xffff : (1 << precision) - 1;
  const at = (x: number, y: number, c: number): number =>
    (raw[(y * width + x) * components + c] ?? 0) & mask;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < components; c++) {
        const pred =
          x === 0 && y === 0
            ? 1 << (precision - 1)
            : y === 0
              ? at(x - 1, y, c)
              : x === 0
                ? at(x, y - 1, c)
                : at(x - 1, y, c);
        let d = (at(x, y, c) - pred) & 0xffff;
        if (d >= 32768) d -= 65536;
        const magnitude = Math.abs(d);
        const category = d === 0 ? 0 : d === -32768 ? 16 : 32 - Math.clz32(magnitude);
        w.write(category, 5);
        if (category > 0 && category < 16) {
          const extra = d > 0 ? d : d + (1 << category) - 1;
          w.write(extra & ((1 << category) - 1), category);
        }
      }
    }
  }
  return Uint8Array.from([...head, ...w.finish(), 0xff, 0xd9]);
}

function encodeBaseline(
  raw: Uint8Array,
  width: number,
  height: number,
  samples: number,
  quality: number,
): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = raw[i * samples + (samples === 3 ? c : 0)] ?? 0;
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width, height }, quality).data);
}

function encodeJpegLs(
  raw: Uint8Array | Uint16Array,
  spec: DicomSpec,
  bitsStored: number,
  near: number,
): Uint8Array {
  if (!charls) throw new Error('await ensureWriterCodecs() first');
  const samples = spec.samplesPerPixel ?? 1;
  const encoder = new charls.JpegLSEncoder();
  try {
    const mask = (1 << bitsStored) - 1;
    const values = raw instanceof Uint8Array ? raw : Uint16Array.from(raw, (v) => v & mask);
    encoder
      .getDecodedBuffer({
        width: spec.columns,
        height: spec.rows,
        bitsPerSample: bitsStored,
        componentCount: samples,
      })
      .set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    encoder.setNearLossless(near);
    if (samples === 3) encoder.setInterleaveMode(2);
    encoder.encode();
    return encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
}

function encodeJ2k(
  raw: Uint8Array | Uint16Array,
  spec: DicomSpec,
  bitsStored: number,
  signed: boolean,
): Uint8Array {
  if (!openjpeg) throw new Error('await ensureWriterCodecs() first');
  const samples = spec.samplesPerPixel ?? 1;
  const encoder = new openjpeg.J2KEncoder();
  try {
    let values: Uint8Array | Uint16Array = raw;
    if (!(raw instanceof Uint8Array)) {
      const bits = bitsStored;
      // signed: sign-extend from bits stored into 16 bits; unsigned: mask
      values = Uint16Array.from(raw, (v) => {
        const m = v & ((1 << bits) - 1);
        return signed && m >= 1 << (bits - 1) ? (m - (1 << bits)) & 0xffff : m;
      });
    }
    encoder
      .getDecodedBuffer({
        width: spec.columns,
        height: spec.rows,
        bitsPerSample: bitsStored,
        componentCount: samples,
        isSigned: signed,
      })
      .set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    encoder.setQuality(true, 0);
    encoder.setDecompositions(
      Math.max(0, Math.min(5, Math.floor(Math.log2(Math.min(spec.rows, spec.columns))) - 1)),
    );
    encoder.encode();
    return encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
}

/** Writes a DICOM Part-10 file. */
export function writeDicom(specIn: DicomSpec): Uint8Array {
  const spec = {
    bitsAllocated: 16 as 8 | 16,
    samplesPerPixel: 1 as 1 | 3,
    planarConfiguration: 0 as 0 | 1,
    ...specIn,
  };
  const bitsStored = spec.bitsStored ?? spec.bitsAllocated;
  const signed = spec.pixelRepresentation === 1;
  const syntax = spec.transferSyntax;
  const uid = spec.transferSyntaxUid ?? WRITER_SYNTAX_UIDS[syntax];
  const mode: Mode =
    syntax === 'implicit-le'
      ? 'implicit'
      : syntax === 'explicit-be'
        ? 'explicit-be'
        : 'explicit-le';
  const le = mode !== 'explicit-be';
  const sopClass = spec.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.7'; // secondary capture
  const els: El[] = [];
  const add = (group: number, element: number, vr: string, value: Uint8Array): void => {
    els.push({ group, element, vr, value });
  };
  const text = (group: number, element: number, vr: string, s: string): void =>
    add(group, element, vr, str(s, vr));
  text(0x0008, 0x0016, 'UI', sopClass);
  text(0x0008, 0x0018, 'UI', '1.2.826.0.1.3680043.2.1125.1.1');
  if (spec.modality) text(0x0008, 0x0060, 'CS', spec.modality);
  for (const [key, value] of Object.entries(spec.patient ?? {})) {
    const [g, e, vr] = PATIENT_TAGS[key as keyof PatientFields];
    text(g, e, vr, value);
  }
  const isImage = !spec.omitPixelData;
  if (isImage || spec.rows) {
    add(0x0028, 0x0002, 'US', us([spec.samplesPerPixel], le));
    text(
      0x0028,
      0x0004,
      'CS',
      spec.photometric ?? (spec.samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2'),
    );
    if (spec.samplesPerPixel === 3) add(0x0028, 0x0006, 'US', us([spec.planarConfiguration], le));
    const frames = spec.claim?.frames ?? spec.frames.length;
    if (frames !== 1 || spec.claim?.frames !== undefined)
      text(0x0028, 0x0008, 'IS', String(frames));
    add(0x0028, 0x0010, 'US', us([spec.claim?.rows ?? spec.rows], le));
    add(0x0028, 0x0011, 'US', us([spec.claim?.columns ?? spec.columns], le));
    add(0x0028, 0x0100, 'US', us([spec.bitsAllocated], le));
    add(0x0028, 0x0101, 'US', us([bitsStored], le));
    add(0x0028, 0x0102, 'US', us([spec.highBit ?? bitsStored - 1], le));
    add(0x0028, 0x0103, 'US', us([spec.pixelRepresentation ?? 0], le));
  }
  if (spec.windowCenter !== undefined) text(0x0028, 0x1050, 'DS', String(spec.windowCenter));
  if (spec.windowWidth !== undefined) text(0x0028, 0x1051, 'DS', String(spec.windowWidth));
  if (spec.voiLutFunction) text(0x0028, 0x1056, 'CS', spec.voiLutFunction);
  if (spec.rescaleIntercept !== undefined)
    text(0x0028, 0x1052, 'DS', String(spec.rescaleIntercept));
  if (spec.rescaleSlope !== undefined) text(0x0028, 0x1053, 'DS', String(spec.rescaleSlope));

  if (spec.palette) {
    const p = spec.palette;
    [p.r, p.g, p.b].forEach((lut, c) => {
      add(
        0x0028,
        0x1101 + c,
        'US',
        us([lut.length === 65536 ? 0 : lut.length, p.first, p.bits], le),
      );
      add(0x0028, 0x1201 + c, 'OW', us(Array.from(lut), le));
    });
  }
  if (spec.voiLut) {
    const v = spec.voiLut;
    const item = writeElements(
      [
        {
          group: 0x0028,
          element: 0x3002,
          vr: 'US',
          value: us([v.data.length === 65536 ? 0 : v.data.length, v.first, v.bits], le),
        },
        { group: 0x0028, element: 0x3006, vr: 'OW', value: us(Array.from(v.data), le) },
      ],
      mode,
    );
    // a sequence of defined length holding one item of defined length
    const seq = new Bytes();
    seq.u16(0xfffe, le);
    seq.u16(0xe000, le);
    seq.u32(item.length, le);
    seq.push(item);
    add(0x0028, 0x3010, 'SQ', seq.concat());
  }

  if (isImage) {
    const pixelVr = spec.bitsAllocated === 8 ? 'OB' : 'OW';
    if (
      syntax === 'implicit-le' ||
      syntax === 'explicit-le' ||
      syntax === 'explicit-be' ||
      syntax === 'deflated'
    ) {
      add(0x7fe0, 0x0010, pixelVr, nativeBytes(spec, le));
    } else {
      const bytesPerSample = spec.bitsAllocated / 8;
      const codestreams = spec.frames.map((frame) => {
        const raw = rawBits(frame, spec.bitsAllocated);
        switch (syntax) {
          case 'rle':
            return encodeRle(raw, spec.samplesPerPixel, bytesPerSample);
          case 'jpeg-lossless':
            return encodeJpegLossless(
              raw,
              spec.columns,
              spec.rows,
              bitsStored,
              spec.samplesPerPixel,
            );
          case 'jpeg-baseline':
            return encodeBaseline(
              raw as Uint8Array,
              spec.columns,
              spec.rows,
              spec.samplesPerPixel,
              spec.quality ?? 95,
            );
          case 'jpeg-ls':
            return encodeJpegLs(raw, spec, bitsStored, 0);
          case 'jpeg-ls-near':
            return encodeJpegLs(raw, spec, bitsStored, 2);
          case 'j2k-lossless':
            return encodeJ2k(raw, spec, bitsStored, signed);
        }
      });
      els.push({
        group: 0x7fe0,
        element: 0x0010,
        vr: 'OB',
        value: encapsulate(
          codestreams,
          spec.basicOffsetTable ?? codestreams.length > 1,
          spec.fragmentsPerFrame ?? 1,
        ),
        undefinedLength: true,
      });
    }
  }

  let body = writeElements(els, mode);
  if (syntax === 'deflated') body = new Uint8Array(deflateRawSync(body));

  const meta = writeElements(
    [
      { group: 2, element: 1, vr: 'OB', value: Uint8Array.from([0, 1]) },
      { group: 2, element: 2, vr: 'UI', value: str(sopClass, 'UI') },
      { group: 2, element: 3, vr: 'UI', value: str('1.2.826.0.1.3680043.2.1125.1.1', 'UI') },
      { group: 2, element: 0x10, vr: 'UI', value: str(uid, 'UI') },
      { group: 2, element: 0x12, vr: 'UI', value: str('1.2.826.0.1.3680043.2.1125.9', 'UI') },
    ],
    'explicit-le',
  );
  const groupLength = writeElements(
    [
      {
        group: 2,
        element: 0,
        vr: 'UL',
        value: new Uint8Array(new Uint32Array([meta.length]).buffer),
      },
    ],
    'explicit-le',
  );
  const out = new Uint8Array(132 + groupLength.length + meta.length + body.length);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  out.set(groupLength, 132);
  out.set(meta, 132 + groupLength.length);
  out.set(body, 132 + groupLength.length + meta.length);
  return out;
}
