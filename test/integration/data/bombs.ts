/**
 * Hostile archives for the memory-limit tests, built in milliseconds: raw
 * deflate streams of zeros made of independent 1 MiB pieces (each ends with
 * a full flush, so pieces can be repeated), and zips whose directory states
 * whatever size the test wants.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { npyHeader } from '../../../src-main/data/npy';

const MiB = 1024 * 1024;

/** A non-final, byte-aligned deflate piece of `bytes` (independent of what precedes it). */
function piece(bytes: Uint8Array): Buffer {
  return deflateRawSync(bytes, { finishFlush: constants.Z_FULL_FLUSH });
}

/** A raw deflate stream of `prefix` followed by `zeroMiB` MiB of zeros (about 1 KiB per MiB). */
export function deflateBomb(prefix: Uint8Array, zeroMiB: number): Buffer {
  const zeros = piece(new Uint8Array(MiB));
  const parts: Buffer[] = [piece(prefix)];
  for (let i = 0; i < zeroMiB; i++) parts.push(zeros);
  parts.push(Buffer.from([0x03, 0x00])); // a final, empty block
  return Buffer.concat(parts);
}

/** One zip entry: its name, its compressed data, the method and the size its directory declares. */
export interface RawEntry {
  name: string;
  data: Uint8Array;
  method: 0 | 8;
  declaredSize: number;
}

/** A zip of `entries` exactly as given (sizes unchecked; CRC left 0, which readers here ignore). */
export function rawZip(entries: readonly RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x800, 8);
    dir.writeUInt16LE(e.method, 10);
    dir.writeUInt32LE(e.data.length, 20);
    dir.writeUInt32LE(e.declaredSize, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    central.push(dir, name);
    offset += 30 + name.length + e.data.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dirBytes, end]);
}

/** A small, honest uint8 `.npy` of `count` images of 28×28 or int64 labels, uncompressed. */
export function npyEntry(name: string, kind: 'x' | 'y', count: number): RawEntry {
  const header = npyHeader(kind === 'x' ? '|u1' : '<i8', kind === 'x' ? [count, 28, 28] : [count]);
  const body = new Uint8Array(kind === 'x' ? count * 784 : count * 8);
  const data = Buffer.concat([header, body]);
  return { name, data, method: 0, declaredSize: data.length };
}

/**
 * A deflated `.npy` entry whose header declares `shape` (uint8) and whose
 * stream inflates to the header and `zeroMiB` MiB of zeros; the zip declares
 * `declaredSize` (default: what the header declares).
 */
export function bombEntry(
  name: string,
  shape: number[],
  zeroMiB: number,
  declaredSize?: number,
): RawEntry {
  const header = npyHeader('|u1', shape);
  const promised = header.length + shape.reduce((a, b) => a * b, 1);
  return {
    name,
    data: deflateBomb(header, zeroMiB),
    method: 8,
    declaredSize: declaredSize ?? promised,
  };
}

/** A gzip file of `prefix` and `zeroMiB` MiB of zeros (CRC and length left 0, which readers here ignore). */
export function gzipBomb(prefix: Uint8Array, zeroMiB: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  return Buffer.concat([header, deflateBomb(prefix, zeroMiB), Buffer.alloc(8)]);
}

/** An IDX header of unsigned bytes with the given sizes. */
export function idxHeader(shape: number[]): Buffer {
  const out = Buffer.alloc(4 + 4 * shape.length);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  return out;
}
