import { UserError } from '../contract/errors';
import type { NumericArray } from './preprocess';

/**
 * One NumPy array. `dtype` is NumPy's descr string: `|u1`, `<u2`, `<i8`,
 * `<f4`, `<f8`, … or `<U8` for fixed-width unicode strings (then `data` is a
 * string[]). Data is always in C (row-major) order and native byte order.
 */
export interface NpyArray {
  dtype: string;
  shape: number[];
  data: NumericArray | string[];
}

/** An array to write: the dtype follows from the typed array (string[] → `<U…`); shape defaults to 1-D. */
export interface NpyInput {
  data: NumericArray | string[];
  shape?: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Ctor = { new (buffer: ArrayBuffer, offset: number, length: number): NumericArray } & {
  new (length: number): NumericArray;
  BYTES_PER_ELEMENT: number;
};

/** NumPy type codes (kind + size) → typed array and DataView getter. */
const NUMERIC: Record<
  string,
  { ctor: Ctor; get: (v: DataView, at: number, le: boolean) => number | bigint }
> = {
  b1: { ctor: Uint8Array as unknown as Ctor, get: (v, at) => v.getUint8(at) },
  u1: { ctor: Uint8Array as unknown as Ctor, get: (v, at) => v.getUint8(at) },
  i1: { ctor: Int8Array as unknown as Ctor, get: (v, at) => v.getInt8(at) },
  u2: { ctor: Uint16Array as unknown as Ctor, get: (v, at, le) => v.getUint16(at, le) },
  i2: { ctor: Int16Array as unknown as Ctor, get: (v, at, le) => v.getInt16(at, le) },
  u4: { ctor: Uint32Array as unknown as Ctor, get: (v, at, le) => v.getUint32(at, le) },
  i4: { ctor: Int32Array as unknown as Ctor, get: (v, at, le) => v.getInt32(at, le) },
  u8: { ctor: BigUint64Array as unknown as Ctor, get: (v, at, le) => v.getBigUint64(at, le) },
  i8: { ctor: BigInt64Array as unknown as Ctor, get: (v, at, le) => v.getBigInt64(at, le) },
  f4: { ctor: Float32Array as unknown as Ctor, get: (v, at, le) => v.getFloat32(at, le) },
  f8: { ctor: Float64Array as unknown as Ctor, get: (v, at, le) => v.getFloat64(at, le) },
};

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('DP² Studio needs a little-endian processor.');
}

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reorders a Fortran-order (column-major) array into C order. */
function fortranToC<T extends { length: number; [i: number]: unknown }>(
  src: T,
  shape: number[],
  make: (n: number) => T,
): T {
  const n = shapeSize(shape);
  const out = make(n);
  const nd = shape.length;
  const fStride: number[] = [];
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fStride.push(s);
    s *= shape[d] ?? 1;
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    out[c] = src[f];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d] = (idx[d] ?? 0) + 1;
      f += fStride[d] ?? 0;
      if ((idx[d] ?? 0) < (shape[d] ?? 1)) break;
      f -= (shape[d] ?? 1) * (fStride[d] ?? 0);
      idx[d] = 0;
    }
  }
  return out;
}

/** What a `.npy` header declares. */
export interface NpyHeader {
  descr: string;
  fortran: boolean;
  shape: number[];
  /** Offset of the array's data in the file. */
  dataStart: number;
  /** Bytes of data the header declares (elements × item size); null for a dtype that cannot be read. */
  dataBytes: number | null;
}

/** Longest `.npy` header read (numpy writes a few hundred bytes; format 2 would allow 4 GiB). */
const MAX_HEADER_BYTES = 1024 * 1024;

function corruptNpy(where: string, what: string): UserError {
  return new UserError(
    'CORRUPT_DATA',
    `${where} is not a readable NumPy array: ${what}. Save it again with numpy.save or numpy.savez.`,
  );
}

/** Item size in bytes of a NumPy descr (kind + size), or null when DP² Studio cannot read it. */
function itemSizeOf(descr: string): number | null {
  const code = descr.slice(1);
  const str = /^([US])(\d+)$/.exec(code);
  if (str) return (str[1] === 'U' ? 4 : 1) * Number(str[2]);
  return NUMERIC[code]?.ctor.BYTES_PER_ELEMENT ?? null;
}

/**
 * Parses the header of a `.npy` file from its first bytes, before its data is
 * read or inflated: 'need-more' when `bytes` ends inside the header. Throws a
 * UserError naming `where` when the header is malformed (CORRUPT_DATA) or
 * describes a structured array (UNSUPPORTED).
 */
export function parseNpyHeader(bytes: Uint8Array, where: string): NpyHeader | 'need-more' {
  const corrupt = (what: string): UserError => corruptNpy(where, what);
  if (bytes.length < 12) {
    if (MAGIC.some((b, i) => i < bytes.length && bytes[i] !== b))
      throw corrupt('the .npy header is missing');
    return 'need-more';
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw corrupt('the .npy header is missing');
  const major = bytes[6] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw corrupt(`format version ${major} is unknown`);
  }
  if (headerLen > MAX_HEADER_BYTES) throw corrupt('its header is implausibly long');
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) return 'need-more';
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  );
  const descrMatch = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header);
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrMatch) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} holds a structured NumPy array (with named fields), which DP² Studio cannot read. Save plain numeric arrays instead.`,
    );
  }
  if (!fortranMatch || !shapeMatch) throw corrupt('the header does not describe the array');
  const descr = descrMatch[1] ?? '';
  const shape = (shapeMatch[1] ?? '')
    .split(',')
    .map((t) => t.trim().replace(/L$/, ''))
    .filter((t) => t.length > 0)
    .map((t) => Number(t));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw corrupt('its shape is not valid');
  const item = descr.includes('O') ? null : itemSizeOf(descr);
  const dataBytes = item === null ? null : shapeSize(shape) * item;
  return { descr, fortran: fortranMatch[1] === 'True', shape, dataStart, dataBytes };
}

/**
 * Parses a `.npy` file (format versions 1–3; numeric dtypes, bool and
 * unicode/bytes strings; either byte order; C or Fortran order). Throws a
 * UserError naming `where`: CORRUPT_DATA when truncated or malformed,
 * UNSUPPORTED for object (pickled) or structured arrays.
 */
export function parseNpy(bytes: Uint8Array, where: string): NpyArray {
  const corrupt = (what: string): UserError => corruptNpy(where, what);
  const head = parseNpyHeader(bytes, where);
  if (head === 'need-more') {
    throw corrupt(bytes.length < 10 ? 'the .npy header is missing' : 'the header is truncated');
  }
  const { descr, fortran, shape, dataStart } = head;
  const order = descr[0] ?? '';
  const code = descr.slice(1);
  if (descr.includes('O')) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} holds Python objects (a pickled array), which DP² Studio does not load for safety. Save numeric arrays (for example with x.astype("uint8")) instead.`,
    );
  }
  const n = shapeSize(shape);
  const little = order !== '>';
  const body = bytes.subarray(dataStart);

  const strMatch = /^([US])(\d+)$/.exec(code);
  if (strMatch) {
    const unicode = strMatch[1] === 'U';
    const chars = Number(strMatch[2]);
    const itemSize = unicode ? chars * 4 : chars;
    if (body.length !== n * itemSize)
      throw corrupt(
        `it is truncated or padded (expected ${n * itemSize} data bytes, found ${body.length})`,
      );
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let strings: string[] = [];
    for (let i = 0; i < n; i++) {
      let s = '';
      for (let k = 0; k < chars; k++) {
        const at = i * itemSize + (unicode ? k * 4 : k);
        const cp = unicode ? bv.getUint32(at, little) : (body[at] ?? 0);
        if (cp === 0) break;
        if (cp > 0x10ffff) throw corrupt('a string holds an invalid character');
        s += String.fromCodePoint(cp);
      }
      strings.push(s);
    }
    if (fortran && shape.length > 1)
      strings = fortranToC(strings, shape, (m) => new Array<string>(m).fill(''));
    return { dtype: `<${unicode ? 'U' : 'S'}${chars}`, shape, data: strings };
  }

  const spec = NUMERIC[code];
  if (!spec) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} holds NumPy values of type ${descr}, which DP² Studio cannot read. Save the images as uint8 (or float32 in 0–1) and the labels as int64, then import again.`,
    );
  }
  const itemSize = spec.ctor.BYTES_PER_ELEMENT;
  if (body.length !== n * itemSize) {
    throw corrupt(
      `it is truncated or padded (the header promises ${n * itemSize} data bytes, the file holds ${body.length})`,
    );
  }
  let data: NumericArray;
  if (little || itemSize === 1) {
    // A copy when misaligned (Buffer.slice would be a view).
    const aligned = body.byteOffset % itemSize === 0 ? body : new Uint8Array(body);
    data = new spec.ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
  } else {
    data = new spec.ctor(n);
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const target = data as unknown as (number | bigint)[];
    for (let i = 0; i < n; i++) target[i] = spec.get(bv, i * itemSize, false);
  }
  if (fortran && shape.length > 1) {
    data = fortranToC(data, shape, (m) => new spec.ctor(m));
  }
  return { dtype: `${itemSize === 1 ? '|' : '<'}${code}`, shape, data };
}

/** NumPy descr of a typed array or string array. */
export function dtypeOf(data: NumericArray | string[]): string {
  if (Array.isArray(data)) {
    const width = Math.max(1, ...data.map((s) => [...s].length));
    return `<U${width}`;
  }
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof BigInt64Array) return '<i8';
  return '<u8';
}

/** The header of a version-1.0 `.npy` file (padded to 64 bytes, as numpy.save does). */
export function npyHeader(dtype: string, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

/** The data bytes of an array in .npy layout (a view for typed arrays; UTF-32 for strings). */
export function npyBody(data: NumericArray | string[], dtype = dtypeOf(data)): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const chars = Number(dtype.slice(2));
  const words = new Uint32Array(data.length * chars);
  data.forEach((s, i) => {
    let k = 0;
    for (const ch of s) words[i * chars + k++] = ch.codePointAt(0) ?? 0;
  });
  return new Uint8Array(words.buffer);
}

/** Encodes one array as a version-1.0 `.npy` file. */
export function encodeNpy(input: NpyInput): Uint8Array {
  const { data } = input;
  const shape = input.shape ?? [data.length];
  if (shapeSize(shape) !== data.length) {
    throw new Error(`encodeNpy: shape (${shape.join(', ')}) does not match ${data.length} values`);
  }
  const dtype = dtypeOf(data);
  const head = npyHeader(dtype, shape);
  const body = npyBody(data, dtype);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}
