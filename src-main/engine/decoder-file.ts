import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../contract/errors';
import { parameterSpecs, parseArchitecture } from './architecture';
import type { Architecture } from './architecture';

/**
 * Reads a released decoder folder (`architecture.json` + `weights.bin`,
 * float32 little-endian in architecture order, as the training worker writes
 * it) and checks every parameter's shape against the architecture.
 */
export async function readDecoderFile(
  dir: string,
): Promise<{ arch: Architecture; weights: Float32Array[] }> {
  let description: { format?: string; architecture?: unknown; weights?: string };
  let bytes: Uint8Array;
  try {
    description = JSON.parse(
      await readFile(join(dir, 'architecture.json'), 'utf8'),
    ) as typeof description;
    bytes = await readFile(join(dir, description.weights ?? 'weights.bin'));
  } catch (err) {
    throw new UserError(
      'NOT_FOUND',
      `The decoder in ${dir} cannot be read (${(err as Error).message}). Was the run finished?`,
    );
  }
  if (description.format !== 'dp2-decoder') {
    throw new UserError('CORRUPT_DATA', `${dir} does not hold a DP² Studio decoder.`);
  }
  const arch = parseArchitecture(description.architecture);
  const specs = parameterSpecs(arch, 'decoder');
  const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== total * 4) {
    throw new UserError(
      'CORRUPT_DATA',
      `The decoder weights in ${dir} have ${bytes.byteLength} bytes; its architecture needs ${total * 4}.`,
    );
  }
  const flat = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const weights: Float32Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    weights.push(flat.slice(offset, offset + size));
    offset += size;
  }
  return { arch, weights };
}
