import { Gunzip } from 'fflate';
import { UserError } from '../contract/errors';
import { formatBytes } from './limits';

/** Compressed bytes handed to the inflater at a time: bounds one output burst to about 1032× this. */
const PUSH_BYTES = 8 * 1024;

/**
 * Unpacks a gzip file whose contents declare their own size in their first
 * bytes (an IDX header): `sizeFromHead` reads the whole size from the first
 * inflated bytes (or asks for more). That size is checked against `maxBytes`
 * before the rest is inflated, and inflating stops as soon as the output
 * passes it, whatever the stream holds (a gzip bomb). Throws a UserError
 * naming `where`.
 */
export function gunzipLimited(
  bytes: Uint8Array,
  options: {
    where: string;
    maxBytes: number;
    sizeFromHead: (head: Uint8Array) => number | 'need-more';
  },
): Uint8Array {
  const { where, maxBytes } = options;
  let head: Uint8Array = new Uint8Array(0);
  let out: Uint8Array | null = null;
  let filled = 0;
  let overflow = false;
  const gunzip = new Gunzip((chunk) => {
    if (overflow) return;
    if (!out) {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      const size = options.sizeFromHead(joined);
      if (size === 'need-more') {
        if (joined.length > 1024)
          throw new UserError('CORRUPT_DATA', `${where} has no readable header.`);
        head = joined;
        return;
      }
      if (size > maxBytes) {
        throw new UserError(
          'INVALID_INPUT',
          `${where} declares ${formatBytes(size)} once unpacked, more than DP² Studio reads at once (${formatBytes(maxBytes)}). Nothing more of it was unpacked. Split it into smaller files.`,
        );
      }
      try {
        out = new Uint8Array(size);
      } catch {
        throw new UserError(
          'INVALID_INPUT',
          `There is not enough free memory to unpack ${where} (${formatBytes(size)}). Close other programs and try again.`,
        );
      }
      chunk = joined;
    }
    if (filled + chunk.length > out.length) {
      overflow = true;
      return;
    }
    out.set(chunk, filled);
    filled += chunk.length;
  });
  try {
    for (let at = 0; at < bytes.length && !overflow; at += PUSH_BYTES) {
      const end = Math.min(bytes.length, at + PUSH_BYTES);
      gunzip.push(bytes.subarray(at, end), end === bytes.length);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is a damaged gzip file (${(err as Error).message}). Download or unpack it again.`,
    );
  }
  if (overflow) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} unpacks to more data than its header declares; it was not unpacked further. The file is damaged or built to exhaust memory; do not use it.`,
    );
  }
  // Fewer bytes than declared: parseIdx says the file is truncated.
  return out ? (out as Uint8Array).subarray(0, filled) : head;
}
