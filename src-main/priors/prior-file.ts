/**
 * The shipped random-process prior on disk: `<name>.weights` (float32
 * little-endian, each convolution's kernel [3, 3, in, out] then its bias, in
 * the network's order) and `<name>.manifest.json` (what it is, how it was
 * trained, the SHA-256 of the weights). Loading checks the digest before
 * anything uses the weights: an altered or truncated file is refused with a
 * message that says what to reinstall.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../contract/errors';
import { writeWholeFile } from '../io/whole-file';
import { PRIOR_FAMILIES } from './families';
import {
  checkFeatureNetSpec,
  convSpecs,
  parameterCount,
  type FeatureNetSpec,
} from './network/architecture';
import type { FoldedNet } from './network/feature-net';

/** The prior the app ships and its methods use. */
export const DEFAULT_PRIOR = 'random-process-prior';

/** The statement every manifest and certificate carries. */
export const PRIOR_STATEMENT = 'Trained only on procedurally generated images; no real data.';

const specSchema = z.strictObject({
  widths: z.array(z.number().int().min(1).max(512)).min(2).max(5),
  stemStride: z.union([z.literal(1), z.literal(2)]),
});

const manifestSchema = z.strictObject({
  format: z.literal('dp2-prior'),
  version: z.literal(1),
  name: z.string().min(1),
  statement: z.literal(PRIOR_STATEMENT),
  network: specSchema,
  parameters: z.number().int().positive(),
  weights: z.strictObject({
    file: z.string().min(1),
    bytes: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  training: z.strictObject({
    seed: z.number().int().nonnegative(),
    families: z.array(z.enum(PRIOR_FAMILIES)).min(1),
    imagesPerFamily: z.number().int().positive(),
    imageSize: z.number().int().positive(),
    viewSize: z.number().int().positive(),
    steps: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    imagesSeen: z.number().int().positive(),
    objective: z.string().min(1),
    temperature: z.number().positive(),
    augmentations: z.string().min(1),
    optimizer: z.string().min(1),
    lossEvery: z.number().int().positive(),
    lossCurve: z.array(z.number()),
    wallSeconds: z.number().nonnegative(),
    backend: z.string().min(1),
  }),
});

/** What `<name>.manifest.json` holds. */
export type PriorManifest = z.infer<typeof manifestSchema>;

/** A loaded, verified prior. */
export interface LoadedPrior {
  manifest: PriorManifest;
  net: FoldedNet;
  /** Where it was read from. */
  folder: string;
}

/**
 * The folder of the shipped priors: `resources/priors` at the root of the
 * app (the folder whose package.json names dp2-studio), found by walking up
 * from this module, so it works from the sources, the built bundle and the
 * packaged app alike. `DP2_PRIORS_DIR` overrides it (tests).
 */
export function priorsFolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DP2_PRIORS_DIR) return env.DP2_PRIORS_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'dp2-studio') {
          return join(dir, 'resources', 'priors');
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return join(process.cwd(), 'resources', 'priors');
    dir = up;
  }
}

function manifestPath(folder: string, name: string): string {
  return join(folder, `${name}.manifest.json`);
}

/** Hex SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The folded network's weights as the bytes of a `.weights` file. */
export function serializeWeights(net: FoldedNet): Uint8Array {
  const parts = net.kernels.flatMap((k, i) => [
    k.dataSync() as Float32Array,
    (net.biases[i] as tf.Tensor1D).dataSync() as Float32Array,
  ]);
  const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    flat.set(p, offset);
    offset += p.length;
  }
  return new Uint8Array(flat.buffer);
}

/** The network held in `bytes` (a `.weights` file) for `spec`; the length must match. */
function deserializeWeights(spec: FeatureNetSpec, bytes: Uint8Array): FoldedNet {
  const flat = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const kernels: tf.Tensor4D[] = [];
  const biases: tf.Tensor1D[] = [];
  let offset = 0;
  for (const c of convSpecs(spec)) {
    const k = 9 * c.inChannels * c.outChannels;
    kernels.push(
      tf.tensor4d(flat.subarray(offset, offset + k), [3, 3, c.inChannels, c.outChannels]),
    );
    offset += k;
    biases.push(tf.tensor1d(flat.subarray(offset, offset + c.outChannels)));
    offset += c.outChannels;
  }
  return { spec, kernels, biases };
}

/**
 * Writes a prior (`<name>.weights` and `<name>.manifest.json`) into
 * `folder`, each whole or not at all; the manifest gets the weights' size and
 * SHA-256. Returns the manifest written.
 */
export async function writePrior(
  folder: string,
  name: string,
  net: FoldedNet,
  training: PriorManifest['training'],
): Promise<PriorManifest> {
  const bytes = serializeWeights(net);
  const manifest: PriorManifest = {
    format: 'dp2-prior',
    version: 1,
    name,
    statement: PRIOR_STATEMENT,
    network: { widths: [...net.spec.widths], stemStride: net.spec.stemStride },
    parameters: parameterCount(net.spec),
    weights: { file: `${name}.weights`, bytes: bytes.byteLength, sha256: sha256(bytes) },
    training,
  };
  await writeWholeFile(join(folder, manifest.weights.file), bytes, 'The prior’s weights');
  await writeWholeFile(
    manifestPath(folder, name),
    new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
    'The prior’s manifest',
  );
  return manifest;
}

const REINSTALL =
  'Reinstall DP² Studio to restore it (the prior ships with the app; nothing is downloaded).';

/** Reads and checks the manifest of prior `name` in `folder` (no weights). */
export function readPriorManifest(name = DEFAULT_PRIOR, folder = priorsFolder()): PriorManifest {
  const path = manifestPath(folder, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The random-process prior "${name}" is missing: there is no ${path}. ${REINSTALL}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    throw new UserError(
      'CORRUPT_DATA',
      `The manifest of the random-process prior (${path}) is damaged. ${REINSTALL}`,
    );
  }
  return result.data;
}

/**
 * Loads prior `name` from `folder`, after checking that its weights have the
 * size and SHA-256 its manifest records. Throws a UserError saying what to
 * reinstall if either file is missing, damaged or altered.
 */
export function loadPrior(name = DEFAULT_PRIOR, folder = priorsFolder()): LoadedPrior {
  const manifest = readPriorManifest(name, folder);
  const path = join(folder, manifest.weights.file);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The weights of the random-process prior are missing: there is no ${path}. ${REINSTALL}`,
    );
  }
  const spec: FeatureNetSpec = manifest.network;
  try {
    checkFeatureNetSpec(spec);
  } catch {
    throw new UserError(
      'CORRUPT_DATA',
      `The manifest of the random-process prior is damaged. ${REINSTALL}`,
    );
  }
  if (
    bytes.byteLength !== manifest.weights.bytes ||
    bytes.byteLength !== 4 * parameterCount(spec)
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      `The weights of the random-process prior (${path}) have ${bytes.byteLength} bytes, not the ` +
        `${manifest.weights.bytes} its manifest records: the file is damaged. ${REINSTALL}`,
    );
  }
  if (sha256(bytes) !== manifest.weights.sha256) {
    throw new UserError(
      'CORRUPT_DATA',
      `The weights of the random-process prior (${path}) do not match the SHA-256 in its manifest: ` +
        `the file was altered or damaged, and the app will not use it. ${REINSTALL}`,
    );
  }
  return { manifest, net: deserializeWeights(spec, bytes), folder };
}

/**
 * What a certificate of a method that uses a prior states about it: which
 * prior, the SHA-256 of the weights that were checked before use, and that it
 * saw no real data (so it carries nothing of anyone's records).
 */
export function priorCertificateFields(manifest: PriorManifest): {
  name: string;
  weights_sha256: string;
  statement: string;
  verified: string;
} {
  return {
    name: manifest.name,
    weights_sha256: manifest.weights.sha256,
    statement: manifest.statement,
    verified: 'The weights matched this SHA-256 when the run loaded them.',
  };
}
