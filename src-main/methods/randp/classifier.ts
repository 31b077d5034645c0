/**
 * The released classifier of a `randp` run as a folder anyone can use
 * offline: `model.json` and `weights.bin`, one TensorFlow.js graph model
 * from pixels to class probabilities (graph-model.ts: the prior's
 * convolutions, the read-out, the per-record operations and the linear model
 * with the public whitening folded in), and `model-card.json` (what the
 * model takes and returns, the prior it starts from, its privacy, the
 * SHA-256 of both model files). The card holds nothing computed from the
 * private images without noise: no counts, no accuracies.
 *
 * Prediction (`predictImages`): each image is brought to the training
 * images' size and channels (bilinear resize; grey repeated to colour, or
 * colour averaged to grey), then through the graph model, the same way any
 * TensorFlow.js user runs it.
 */
import { yieldToEvents } from '../../engine/cooperate';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from '../../contract/errors';
import { writeWholeFile } from '../../io/whole-file';
import type { ImageBytes } from '../../priors/features';
import type { FeatureReadout, FoldedNet } from '../../priors/network/feature-net';
import type { LinearModel } from './dp-linear';
import { classifierGraph, GRAPH_INPUT, GRAPH_OUTPUT, priorWeights } from './graph-model';
import type { PerRecordOptions } from './normalise';

/** The model card's file name inside a classifier folder. */
export const MODEL_CARD = 'model-card.json';
/** The graph model's file name inside a classifier folder. */
export const CLASSIFIER_GRAPH = 'model.json';
/** The graph model's weights file inside a classifier folder. */
export const CLASSIFIER_WEIGHTS = 'weights.bin';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The model card of a released classifier (strict: a card with anything else is refused). */
export const ModelCard = z.strictObject({
  format: z.literal('dp2-classifier'),
  version: z.literal(2),
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
  /** The model: one TensorFlow.js graph model, pixels in, class probabilities out. */
  model: z.strictObject({
    format: z.literal('tfjs-graph-model'),
    file: z.literal(CLASSIFIER_GRAPH),
    weights: z.literal(CLASSIFIER_WEIGHTS),
    input: z.strictObject({
      name: z.literal(GRAPH_INPUT),
      shape: z.tuple([z.null(), z.number().int(), z.number().int(), z.number().int()]),
      dtype: z.literal('float32'),
      values: z.string(),
    }),
    output: z.strictObject({
      name: z.literal(GRAPH_OUTPUT),
      shape: z.tuple([z.null(), z.number().int().min(2)]),
    }),
    sha256: z.strictObject({ graph: Sha256, weights: Sha256 }),
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
  /** The prior whose features the model reads (its weights go into the graph). */
  net: FoldedNet;
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
 * Writes the classifier folder (`dir`: the graph model, then the card naming
 * both files' SHA-256); returns the bytes of the model files.
 */
export async function writeClassifier(dir: string, r: ClassifierRelease): Promise<number> {
  if (r.image.channels !== 1 && r.image.channels !== 3) {
    throw new UserError(
      'UNSUPPORTED',
      `A private classifier takes grey or colour images; these have ${r.image.channels} channels.`,
    );
  }
  const { json, weights } = classifierGraph(
    {
      prior: priorWeights(r.net),
      readout: r.readout,
      perRecord: r.perRecord,
      model: r.model,
      image: r.image,
      classes: r.classes,
      software: r.software,
    },
    CLASSIFIER_WEIGHTS,
  );
  const graph = new TextEncoder().encode(`${JSON.stringify(json)}\n`);
  await mkdir(dir, { recursive: true });
  await writeWholeFile(join(dir, CLASSIFIER_WEIGHTS), weights, 'The released classifier');
  await writeWholeFile(join(dir, CLASSIFIER_GRAPH), graph, 'The released classifier');
  const { height, width, channels } = r.image;
  const card: ModelCard = {
    format: 'dp2-classifier',
    version: 2,
    method: 'randp',
    classes: [...r.classes],
    input: {
      height,
      width,
      channels: channels as 1 | 3,
      pixels: 'NHWC, the 0–255 pixel values as float32 (the model scales them)',
      otherImages: `Images of another size are resized (bilinear) to ${height}×${width}; ${channels === 1 ? 'colour images are averaged to grey' : 'grey images are repeated to three channels'}. Only grey or colour (RGB) images are taken.`,
    },
    prior: r.prior,
    features: {
      layers: [...r.readout.layers],
      grid: r.readout.grid,
      dims: r.model.dims,
      power: r.perRecord.power ?? null,
      groups: r.perRecord.groups ? [...r.perRecord.groups] : null,
      whitening: `folded into the linear weights (${r.whitening})`,
    },
    model: {
      format: 'tfjs-graph-model',
      file: CLASSIFIER_GRAPH,
      weights: CLASSIFIER_WEIGHTS,
      input: {
        name: GRAPH_INPUT,
        shape: [null, height, width, channels],
        dtype: 'float32',
        values: 'pixel values 0–255',
      },
      output: { name: GRAPH_OUTPUT, shape: [null, r.model.classes] },
      sha256: { graph: sha256(graph), weights: sha256(weights) },
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
  return weights.byteLength + graph.byteLength;
}

/** A classifier folder read back and verified; `model.dispose()` when done. */
export interface LoadedClassifier {
  card: ModelCard;
  model: tf.GraphModel<tf.io.IOHandlerSync>;
}

async function readModelFile(dir: string, name: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(dir, name)));
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `The classifier's ${name} is missing from ${dir}. Export the run again.`,
    );
  }
}

/**
 * Reads a classifier folder; refuses in plain words a folder without a valid
 * card, or whose model files are not the ones the card names (altered or
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
  const graph = await readModelFile(dir, CLASSIFIER_GRAPH);
  const weights = await readModelFile(dir, CLASSIFIER_WEIGHTS);
  if (sha256(graph) !== card.model.sha256.graph || sha256(weights) !== card.model.sha256.weights) {
    throw new UserError(
      'CORRUPT_DATA',
      `The model in ${dir} is not the one its model card names (the SHA-256 of ${sha256(graph) !== card.model.sha256.graph ? CLASSIFIER_GRAPH : CLASSIFIER_WEIGHTS} differs): the folder was altered or damaged, so it is not used. Export the run again.`,
    );
  }
  const [, height, width, channels] = card.model.input.shape;
  if (
    height !== card.input.height ||
    width !== card.input.width ||
    channels !== card.input.channels ||
    card.model.output.shape[1] !== card.classes.length
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      `The model card in ${dir} contradicts itself (input or classes). Export the run again.`,
    );
  }
  let model: tf.GraphModel<tf.io.IOHandlerSync>;
  try {
    const json = JSON.parse(new TextDecoder().decode(graph)) as tf.io.ModelJSON;
    model = tf.loadGraphModelSync([json, weights.slice().buffer]);
  } catch (e) {
    throw new UserError(
      'CORRUPT_DATA',
      `The model in ${dir} cannot be loaded (${e instanceof Error ? e.message : String(e)}). Export the run again.`,
    );
  }
  return { card, model };
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

/** Class probabilities [count × K] and the most probable class of each image, through the graph model. */
export async function predictImages(
  loaded: LoadedClassifier,
  images: ImageBytes,
  onProgress?: (done: number, total: number) => void,
): Promise<{ pred: Uint8Array; prob: Float32Array }> {
  const { card, model } = loaded;
  const k = card.classes.length;
  if (k > 256) throw new UserError('UNSUPPORTED', 'This classifier has more than 256 classes.');
  const input = toModelInput(images, card);
  const { height, width, channels } = input;
  const per = height * width * channels;
  const prob = new Float32Array(input.count * k);
  const pred = new Uint8Array(input.count);
  for (let s = 0; s < input.count; s += PREDICT_BATCH) {
    const n = Math.min(PREDICT_BATCH, input.count - s);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(input.x.subarray(s * per, (s + n) * per)), [
        n,
        height,
        width,
        channels,
      ]);
      return model.execute({ [GRAPH_INPUT]: x }, GRAPH_OUTPUT) as tf.Tensor2D;
    });
    const p = (await out.data()) as Float32Array;
    out.dispose();
    prob.set(p, s * k);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++)
        if ((p[i * k + c] as number) > (p[i * k + best] as number)) best = c;
      pred[s + i] = best;
    }
    onProgress?.(s + n, input.count);
    await yieldToEvents();
  }
  return { pred, prob };
}

/** Images per batch of {@link predictImages}. */
const PREDICT_BATCH = 256;
