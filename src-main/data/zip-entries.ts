/**
 * Reading a zip held in memory without trusting what it says about sizes:
 * the central directory is listed first (nothing inflated), each entry's
 * declared size is checked against a limit before anything is inflated, and
 * inflating stops as soon as the output passes the declared size — a deflate
 * bomb (a few MB that inflate to GBs) costs at most what it declares.
 */
import { Inflate, inflateSync } from 'fflate';
import { UserError } from '../contract/errors';
import { formatBytes } from './limits';

/** One entry of a zip's central directory. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate; anything else cannot be read. */
  compression: number;
  /** Bytes of the entry's data inside the archive. */
  compressedSize: number;
  /** Bytes the entry says it holds once inflated (not trusted: inflating stops past it). */
  declaredSize: number;
  /** Offset of its local header in the archive. */
  localOffset: number;
  encrypted: boolean;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Entries up to this size are inflated in one call into a buffer of their declared size. */
const ONE_SHOT_BYTES = 1024 * 1024;

/** Compressed bytes handed to the inflater at a time: bounds one output burst to about 1032× this. */
const PUSH_BYTES = 8 * 1024;

function corrupt(where: string, what: string): UserError {
  return new UserError(
    'CORRUPT_DATA',
    `${where} is not a readable zip archive (${what}); it may be truncated. Create it again, then import again.`,
  );
}

/**
 * Lists a zip's entries from its central directory (zip64 included).
 * Throws a UserError CORRUPT_DATA naming `where` when it is not a zip.
 */
export function listZipEntries(bytes: Uint8Array, where: string): ZipEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number): number => v.getUint32(at, true);
  const u16 = (at: number): number => v.getUint16(at, true);
  const u64 = (at: number): number => Number(v.getBigUint64(at, true));
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (u32(at) === EOCD) {
      end = at;
      break;
    }
  }
  if (end < 0) throw corrupt(where, 'its end record is missing');
  let count = u16(end + 10);
  let dirSize = u32(end + 12);
  let dirOffset = u32(end + 16);
  if (
    (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) &&
    end >= 20 &&
    u32(end - 20) === EOCD64_LOCATOR
  ) {
    const at = u64(end - 12);
    if (at + 56 > bytes.length || u32(at) !== EOCD64)
      throw corrupt(where, 'its zip64 record is damaged');
    count = u64(at + 32);
    dirSize = u64(at + 40);
    dirOffset = u64(at + 48);
  }
  if (dirOffset + dirSize > bytes.length)
    throw corrupt(where, 'its directory lies outside the file');
  const entries: ZipEntry[] = [];
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > bytes.length || u32(at) !== CENTRAL)
      throw corrupt(where, 'its directory is damaged');
    const flags = u16(at + 8);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    if (at + 46 + nameLen + extraLen > bytes.length)
      throw corrupt(where, 'its directory is damaged');
    const rawName = bytes.subarray(at + 46, at + 46 + nameLen);
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(rawName);
    let compressedSize = u32(at + 20);
    let declaredSize = u32(at + 24);
    let localOffset = u32(at + 42);
    // zip64: the fields that overflowed are in the extra field 0x0001, in this order.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen;) {
      const id = u16(e);
      const len = u16(e + 2);
      if (id === 0x0001) {
        let f = e + 4;
        const next = (): number => {
          if (f + 8 > e + 4 + len) throw corrupt(where, 'a zip64 field is damaged');
          const value = u64(f);
          f += 8;
          return value;
        };
        if (declaredSize === 0xffffffff) declaredSize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + len;
    }
    entries.push({
      name,
      compression: u16(at + 10),
      compressedSize,
      declaredSize,
      localOffset,
      encrypted: (flags & 1) !== 0,
    });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The compressed bytes of an entry (a view into the archive). */
function entryData(bytes: Uint8Array, entry: ZipEntry, where: string): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localOffset;
  if (at + 30 > bytes.length || v.getUint32(at, true) !== LOCAL)
    throw corrupt(where, `the entry ${entry.name} is damaged`);
  const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length)
    throw corrupt(where, `the entry ${entry.name} is cut off`);
  return bytes.subarray(start, start + entry.compressedSize);
}

/**
 * A look at an entry's first inflated bytes before the rest is inflated (the
 * .npy header of an .npz, the signature of an image): 'need-more' asks for
 * more bytes, 'stop' ends inflating there (what was inflated is returned),
 * nothing lets it go on; throwing refuses the entry.
 */
export type HeadCheck = (head: Uint8Array) => 'need-more' | 'stop' | void;

/**
 * Inflates one entry, never past `maxBytes` nor past its declared size,
 * whatever the compressed stream holds. `checkHead` (optional) sees the first
 * inflated bytes before the rest is inflated, and may throw to refuse the
 * entry (or ask for more bytes). Throws a UserError naming the entry: too
 * large, damaged, holding more or less than it declares, an unknown method,
 * encrypted, or not enough memory.
 */
export function inflateZipEntry(
  bytes: Uint8Array,
  entry: ZipEntry,
  options: { where: string; maxBytes: number; checkHead?: HeadCheck },
): Uint8Array {
  const where = `${options.where}: ${entry.name}`;
  if (entry.encrypted) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} is encrypted, which DP² Studio cannot read. Create the zip without a password.`,
    );
  }
  if (entry.compression !== 0 && entry.compression !== 8) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} is compressed with a method (number ${entry.compression}) DP² Studio cannot read. Create the zip with standard compression.`,
    );
  }
  if (entry.declaredSize > options.maxBytes) {
    throw new UserError(
      'INVALID_INPUT',
      `${where} declares ${formatBytes(entry.declaredSize)} once unpacked, more than DP² Studio unpacks at once (${formatBytes(options.maxBytes)}). Nothing of it was unpacked. Split the data into smaller files.`,
    );
  }
  const data = entryData(bytes, entry, options.where);
  if (entry.compression === 0) {
    if (data.length !== entry.declaredSize)
      throw corrupt(options.where, `the entry ${entry.name} is damaged`);
    options.checkHead?.(data);
    return data;
  }
  if (entry.declaredSize <= ONE_SHOT_BYTES) {
    // Small entries in one call (much cheaper per entry); the output buffer of the declared
    // size bounds it, and a failure is diagnosed by the streaming path below.
    let small: Uint8Array | null;
    try {
      small = inflateSync(data, { out: new Uint8Array(entry.declaredSize) });
    } catch {
      small = null;
    }
    if (small && small.length === entry.declaredSize) {
      options.checkHead?.(small); // may refuse; having it all, nothing is left to stop
      return small;
    }
  }
  let out: Uint8Array;
  try {
    out = new Uint8Array(entry.declaredSize);
  } catch {
    throw new UserError(
      'INVALID_INPUT',
      `There is not enough free memory to unpack ${where} (${formatBytes(entry.declaredSize)}). Close other programs, or split the data into smaller files.`,
    );
  }
  let filled = 0;
  let headChecked = !options.checkHead;
  let overflow = false;
  let stopped = false;
  const inflater = new Inflate((chunk) => {
    if (stopped) return;
    if (filled + chunk.length > out.length) {
      overflow = true;
      return;
    }
    out.set(chunk, filled);
    filled += chunk.length;
    if (headChecked) return;
    const verdict = options.checkHead?.(out.subarray(0, filled));
    if (verdict === 'stop') stopped = true;
    if (verdict !== 'need-more') headChecked = true;
  });
  try {
    for (let at = 0; at < data.length && !overflow && !stopped; at += PUSH_BYTES) {
      const end = Math.min(data.length, at + PUSH_BYTES);
      inflater.push(data.subarray(at, end), end === data.length);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw corrupt(options.where, `the entry ${entry.name} is damaged: ${(err as Error).message}`);
  }
  if (stopped) return out.slice(0, filled);
  if (overflow) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} holds more data than the zip declares (${formatBytes(entry.declaredSize)}); it was not unpacked further. The file is damaged or built to exhaust memory; do not use it.`,
    );
  }
  if (filled !== out.length)
    throw corrupt(options.where, `the entry ${entry.name} holds less data than it declares`);
  if (!headChecked) options.checkHead?.(out);
  return out;
}
