import { UserError } from '../contract/errors';

/** A decoded IDX array: unsigned bytes with their shape. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file of unsigned bytes (type 0x08), the format of MNIST
 * (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `0 0 type ndim`, then ndim big-endian uint32 sizes, then the data.
 * `where` names the file in error messages.
 */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is not an IDX file (it does not start with the IDX magic number). Choose an MNIST-style IDX file.`,
    );
  }
  if (bytes[2] !== 0x08) {
    throw new UserError(
      'UNSUPPORTED',
      `${where} holds IDX values of type 0x${(bytes[2] ?? 0).toString(16)}; only unsigned bytes (0x08) are supported.`,
    );
  }
  const ndim = bytes[3] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ndim < 1 || bytes.length < 4 + 4 * ndim) {
    throw new UserError('CORRUPT_DATA', `${where} is truncated: its header is incomplete.`);
  }
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * ndim;
  if (bytes.length - offset !== count) {
    throw new UserError(
      'CORRUPT_DATA',
      `${where} is truncated or padded: the header promises ${count} values but the file holds ${bytes.length - offset}.`,
    );
  }
  return { shape, data: bytes.subarray(offset) };
}

/**
 * The whole size in bytes an IDX file declares in its header (magic, then
 * ndim big-endian uint32 sizes), or 'need-more' while the header is
 * incomplete, or 'not-idx' (parseIdx says why).
 */
export function idxSizeFromHead(head: Uint8Array): number | 'need-more' | 'not-idx' {
  if (head.length < 4) return 'need-more';
  const ndim = head[3] ?? 0;
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || ndim < 1) return 'not-idx';
  if (head.length < 4 + 4 * ndim) return 'need-more';
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < ndim; i++) count *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * ndim + count;
}
