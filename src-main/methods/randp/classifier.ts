/**
 * The released classifier of a `randp` run as a folder anyone can use
 * offline: `model-card.json` (what the model takes and returns, the prior
 * and feature read-out it needs, its privacy) and `weights.bin` (float32
 * little-endian, the softmax linear model with the public whitening folded
 * in: phase2.ts foldWhitening), whose SHA-256 the card states. The card
 * holds nothing computed from the private images without noise: no counts,
 * no accuracies.
 *
 * Prediction (`predictImages`): each image is brought to the training
 * images' size and channels (bilinear resize; grey repeated to colour, or
 * colour averaged to grey), then through the prior (the same read-out), the
 * per-record operations (power, per-stage standardisation) and the folded
 * linear model.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../../contract/errors';
import { writeWholeFile } from '../../io/whole-file';
import { extractFeatures, type ImageBytes } from '../../priors/features';
import type { FeatureReadout, FoldedNet } from '../../priors/network/feature-net';
import { linearLogits, type LinearModel } from './dp-linear';
import { perRecordTransform, type PerRecordOptions } from './normalise';

/** The model card's file name inside a classifier folder. */
export const MODEL_CARD = 'model-card.json';
/** The weights' file name inside a classifier folder. */
export const CLASSIFIER_WEIGHTS = 'weights.bin';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The model card of a released classifier (strict: a card with anything else is refused). */
export const ModelCard = z.strictObject({
  format: z.literal('dp2-classifier'),
  version: z.literal(1),
  method: z.literal('randp'),
  /** The class names, in the order of the model's outputs. */
  classes: z.array(z.string()).min(2),
  /** The images the model was trained on, and what happens to others. */
  input: z.strictObject({
    height: z.number().int().min(1),
    width: z.number().int().min(1),
    channels: z.union([z.literal(1), z.literal(3)]),
    pixels: z.string(),
    otherImages: z.string(),
  }),
  /** The public prior whose features the model reads (shipped with DP² Studio). */
  prior: z.strictObject({ name: z.string().min(1), weights_sha256: Sha256, statement: z.string() }),
  /** The feature read-out and the per-record operations before the linear model. */
  features: z.strictObject({
    layers: z.array(z.string()).min(1),
    grid: z.number().int().min(1),
    dims: z.number().int().min(1),
    power: z.number().positive().nullable(),
    groups: z.array(z.number().int().min(1)).nullable(),
    whitening: z.string(),
  }),
  /** The linear model: logits = [features, β]·W, W of shape [dims + 1, classes] row-major. */
  model: z.strictObject({
    kind: z.literal('softmax-linear'),
    file: z.literal(CLASSIFIER_WEIGHTS),
    dtype: z.literal('float32'),
    byteOrder: z.literal('little-endian'),
    shape: z.tuple([z.number().int().min(2), z.number().int().min(2)]),
    biasFeature: z.number(),
    sha256: Sha256,
  }),
  /** The privacy of the training (the certificate beside the folder states it in full). */
  privacy: z.strictObject({
    epsilon: z.number().min(0),
    delta: z.number().gt(0).lt(1),
    sigma: z.number().positive(),
    sampleRate: z.number().gt(0).lte(1),
    steps: z.number().int().min(0),
    clip: z.number().positive(),
    accountant: z.string(),
    mechanism: z.string(),
    adjacency: z.literal('add-remove'),
  }),
  software: z.string(),
  created: z.string(),
});
export type ModelCard = z.infer<typeof ModelCard>;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** What a classifier folder is written from (all public or noised). */
export interface ClassifierRelease {
  /** The linear model on the per-record features (whitening folded in). */
  model: LinearModel;
  classes: readonly string[];
  image: { height: number; width: number; channels: number };
  prior: { name: string; weights_sha256: string; statement: string };
  readout: FeatureReadout;
  perRecord: PerRecordOptions;
  /** Where the folded whitening came from (public images). */
  whitening: string;
  privacy: ModelCard['privacy'];
  software: string;
}

/**
 * Writes the classifier folder (`dir`: weights, then the card naming their
 * SHA-256); returns the weights' bytes.
 */
export async function writeClassifier(dir: string, r: ClassifierRelease): Promise<number> {
  if (r.image.channels !== 1 && r.image.channels !== 3) {
    throw new UserError(
      'UNSUPPORTED',
      `A private classifier takes grey or colour images; these have ${r.image.channels} channels.`,
    );
  }
  await mkdir(dir, { recursive: true });
  const w = r.model.weights;
  const bytes = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
  await writeWholeFile(join(dir, CLASSIFIER_WEIGHTS), bytes, 'The released classifier');
  const { height, width, channels } = r.image;
  const card: ModelCard = {
    format: 'dp2-classifier',
    version: 1,
    method: 'randp',
    classes: [...r.classes],
    input: {
      height,
      width,
      channels: channels as 1 | 3,
      pixels: 'uint8 0–255 (NHWC), divided by 255',
      otherImages: `Images of another size are resized (bilinear) to ${height}×${width}; ${channels === 1 ? 'colour images are averaged to grey' : 'grey images are repeated to three channels'}. Only grey or colour (RGB) images are taken.`,
    },
    prior: r.prior,
    features: {
      layers: [...r.readout.layers],
      grid: r.readout.grid,
      dims: r.model.dims,
      power: r.perRecord.power ?? null,
      groups: r.perRecord.groups ? [...r.perRecord.groups] : null,
      whitening: `folded into the weights (${r.whitening})`,
    },
    model: {
      kind: 'softmax-linear',
      file: CLASSIFIER_WEIGHTS,
      dtype: 'float32',
      byteOrder: 'little-endian',
      shape: [r.model.dims + 1, r.model.classes],
      biasFeature: r.model.biasFeature,
      sha256: sha256(bytes),
    },
    privacy: r.privacy,
    software: r.software,
    created: new Date().toISOString(),
  };
  await writeWholeFile(
    join(dir, MODEL_CARD),
    new TextEncoder().encode(`${JSON.stringify(card, null, 2)}\n`),
    'The released classifier',
  );
  return bytes.byteLength;
}

/** A classifier folder read back and verified. */
export interface LoadedClassifier {
  card: ModelCard;
  model: LinearModel;
}

/**
 * Reads a classifier folder; refuses in plain words a folder without a valid
 * card, or whose weights are not the ones the card names (altered or
 * damaged: their SHA-256 differs).
 */
export async function readClassifier(dir: string): Promise<LoadedClassifier> {
  let text: string;
  try {
    text = await readFile(join(dir, MODEL_CARD), 'utf8');
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `${dir} holds no ${MODEL_CARD}, so it is not a classifier made by DP² Studio. Give --model the classifier folder of an exported randp run.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const r = ModelCard.safeParse(parsed);
  if (!r.success) {
    throw new UserError(
      'CORRUPT_DATA',
      `The model card ${join(dir, MODEL_CARD)} is damaged or not of this version (${r.error.issues[0]?.path.join('.') || 'format'}). Export the run again.`,
    );
  }
  const card = r.data;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(join(dir, CLASSIFIER_WEIGHTS)));
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The classifier's weights ${join(dir, CLASSIFIER_WEIGHTS)} are missing. Export the run again.`,
    );
  }
  if (sha256(bytes) !== card.model.sha256) {
    throw new UserError(
      'CORRUPT_DATA',
      `The weights in ${dir} are not the ones its model card names (their SHA-256 differs): the folder was altered or damaged, so it is not used. Export the run again.`,
    );
  }
  const [rows, classes] = card.model.shape;
  if (bytes.byteLength !== rows * classes * 4 || rows !== card.features.dims + 1) {
    throw new UserError(
      'CORRUPT_DATA',
      `The weights in ${dir} do not have the shape its model card states. Export the run again.`,
    );
  }
  if (classes !== card.classes.length) {
    throw new UserError(
      'CORRUPT_DATA',
      `The model card in ${dir} names ${card.classes.length} classes for a model of ${classes}. Export the run again.`,
    );
  }
  const weights = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  return {
    card,
    model: { weights, dims: card.features.dims, classes, biasFeature: card.model.biasFeature },
  };
}

/**
 * Images brought to the model's input: resized (bilinear) to the card's size
 * and converted to its channels (grey repeated, colour averaged).
 * @throws UserError INVALID_INPUT for images other than grey or colour.
 */
export function toModelInput(images: ImageBytes, card: ModelCard): ImageBytes {
  const { height, width, channels } = card.input;
  if (images.channels !== 1 && images.channels !== 3) {
    throw new UserError(
      'INVALID_INPUT',
      `The classifier takes grey or colour (RGB) images; these have ${images.channels} channels. Convert them to grey or RGB first.`,
    );
  }
  if (images.height === height && images.width === width && images.channels === channels) {
    return images;
  }
  const per = height * width * channels;
  const out = new Uint8Array(images.count * per);
  const inPer = images.height * images.width * images.channels;
  for (let s = 0; s < images.count; s += 256) {
    const n = Math.min(256, images.count - s);
    const t = tf.tidy(() => {
      let x: tf.Tensor4D = tf.tensor4d(
        Float32Array.from(images.x.subarray(s * inPer, (s + n) * inPer)),
        [n, images.height, images.width, images.channels],
      );
      if (images.height !== height || images.width !== width) {
        x = tf.image.resizeBilinear(x, [height, width], true);
      }
      if (images.channels !== channels) {
        x = channels === 3 ? tf.tile(x, [1, 1, 1, 3]) : tf.mean(x, 3, true);
      }
      return tf.clipByValue(tf.round(x), 0, 255);
    });
    out.set(Uint8Array.from(t.dataSync()), s * per);
    t.dispose();
  }
  return { x: out, count: images.count, height, width, channels };
}

/** Class probabilities [count × K] and the most probable class of each image. */
export async function predictImages(
  net: FoldedNet,
  loaded: LoadedClassifier,
  images: ImageBytes,
  onProgress?: (done: number, total: number) => void,
): Promise<{ pred: Uint8Array; prob: Float32Array }> {
  const { card, model } = loaded;
  if (model.classes > 256) {
    throw new UserError('UNSUPPORTED', 'This classifier has more than 256 classes.');
  }
  const input = toModelInput(images, card);
  const readout = { layers: card.features.layers, grid: card.features.grid };
  const f = await extractFeatures(net, input, { readout, ...(onProgress ? { onProgress } : {}) });
  if (f.dims !== model.dims) {
    throw new UserError(
      'CORRUPT_DATA',
      `The prior gives ${f.dims} features per image, the classifier takes ${model.dims}: it was made with another prior.`,
    );
  }
  const perRecord: PerRecordOptions = {
    power: card.features.power ?? undefined,
    groups: card.features.groups ?? undefined,
  };
  const x = perRecordTransform(f.features, input.count, f.dims, perRecord);
  const prob = linearLogits(model, x, input.count);
  const k = model.classes;
  const pred = new Uint8Array(input.count);
  for (let i = 0; i < input.count; i++) {
    const o = i * k;
    let m = -Infinity;
    let best = 0;
    for (let c = 0; c < k; c++) {
      const z = prob[o + c] as number;
      if (z > m) {
        m = z;
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((prob[o + c] as number) - m);
      prob[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) prob[o + c] = (prob[o + c] as number) / sum;
    pred[i] = best;
  }
  return { pred, prob };
}
