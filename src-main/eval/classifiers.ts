/**
 * The three downstream classifiers of DP²-VAE's utility protocol (Jiang et
 * al., arXiv 2208.03409, Appendix B.4 and Table 1; the same three as
 * DP-Sinkhorn and GS-WGAN):
 *
 * - `lr`  logistic regression: flattened pixels → linear → softmax;
 * - `mlp` 784 → 100 → 10 (ReLU), for other sizes H·W·C → 100 → K;
 * - `cnn` Conv 32 filters stride 2 → Dropout 0.5 → ReLU → Conv 64 stride 2
 *   → Dropout 0.5 → ReLU → linear. The paper gives filters and strides, not
 *   the kernel: we use 3×3 kernels with 'same' padding (28 → 14 → 7), which
 *   keeps any H×W working (the linear layer takes ⌈H/4⌉·⌈W/4⌉·64 inputs).
 *
 * Parameters are plain tf.Variables initialised from a seeded generator
 * (Glorot-uniform weights, zero biases), and dropout masks are drawn from
 * seeds given by the caller, so a trained classifier depends only on its seed.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../engine/rng';
import { conv2dSame, dropoutMask } from './conv';
import type { ImageGeometry } from './images';

export type ClassifierKind = 'lr' | 'mlp' | 'cnn';

/** Every classifier, in the order the paper's Table 1 lists them. */
export const CLASSIFIER_KINDS: readonly ClassifierKind[] = ['lr', 'mlp', 'cnn'];

/** Width of the MLP's hidden layer (Appendix B.4: 784 → 100 → 10). */
export const MLP_HIDDEN = 100;
/** Filters of the CNN's two convolutions (Appendix B.4). */
export const CNN_FILTERS: readonly [number, number] = [32, 64];
/** Kernel side of the CNN's convolutions (our choice; not given in the paper). */
export const CNN_KERNEL = 3;
/** Dropout rate of the CNN (Appendix B.4). */
export const CNN_DROPOUT = 0.5;

/** A classifier whose parameters are tf.Variables; dispose it when done. */
export interface Classifier {
  kind: ClassifierKind;
  geometry: ImageGeometry;
  classes: number;
  variables: tf.Variable[];
  /**
   * Logits [B, classes] for pixels [B, H, W, C] in [0, 1]. With `dropout`
   * (training), the CNN's dropout is on, its masks drawn from that
   * generator; without it (evaluation) dropout is off.
   */
  logits(x: tf.Tensor4D, dropout?: SeededRng): tf.Tensor2D;
  /**
   * The classifier's penultimate representation, used as a feature space:
   * `cnn` the global average over positions of ReLU(conv 2) (64 numbers, as
   * Inception's pool_3 features are for FID); `mlp` the ReLU hidden layer
   * (100); `lr` the logits.
   */
  features(x: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

function glorot(rng: SeededRng, shape: number[], fanIn: number, fanOut: number): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = (2 * rng.nextFloat() - 1) * limit;
  return toVariable(tf.tensor(v, shape));
}

/** A trainable variable holding `t`'s values; `t` itself is disposed. */
function toVariable(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

function zeros(shape: number[]): tf.Variable {
  return toVariable(tf.zeros(shape));
}

/** Stream tag of initialisation draws, kept apart from the other uses of a seed. */
const INIT_STREAM = 0x696e6974;

/** A freshly initialised classifier of `kind` for images of `geometry` and `classes` classes. */
export function createClassifier(
  kind: ClassifierKind,
  geometry: ImageGeometry,
  classes: number,
  seed: number,
): Classifier {
  const rng = SeededRng.fromSeed(seed, INIT_STREAM, CLASSIFIER_KINDS.indexOf(kind));
  const { height, width, channels } = geometry;
  const inputs = height * width * channels;
  const base = { kind, geometry, classes };
  if (kind === 'lr') {
    const w = glorot(rng, [inputs, classes], inputs, classes);
    const b = zeros([classes]);
    const logits = (x: tf.Tensor4D): tf.Tensor2D =>
      tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [-1, inputs]), w), b));
    return {
      ...base,
      variables: [w, b],
      logits,
      features: logits,
      dispose: () => tf.dispose([w, b]),
    };
  }
  if (kind === 'mlp') {
    const w1 = glorot(rng, [inputs, MLP_HIDDEN], inputs, MLP_HIDDEN);
    const b1 = zeros([MLP_HIDDEN]);
    const w2 = glorot(rng, [MLP_HIDDEN, classes], MLP_HIDDEN, classes);
    const b2 = zeros([classes]);
    const hidden = (x: tf.Tensor4D): tf.Tensor2D =>
      tf.tidy(() => tf.relu(tf.add(tf.matMul(tf.reshape(x, [-1, inputs]), w1), b1)));
    return {
      ...base,
      variables: [w1, b1, w2, b2],
      logits: (x) => tf.tidy(() => tf.add(tf.matMul(hidden(x), w2), b2)),
      features: hidden,
      dispose: () => tf.dispose([w1, b1, w2, b2]),
    };
  }
  const [f1, f2] = CNN_FILTERS;
  const k = CNN_KERNEL;
  const c1 = glorot(rng, [k, k, channels, f1], k * k * channels, k * k * f1);
  const cb1 = zeros([f1]);
  const c2 = glorot(rng, [k, k, f1, f2], k * k * f1, k * k * f2);
  const cb2 = zeros([f2]);
  // 'same' padding with stride 2 twice: ⌈⌈H/2⌉/2⌉ = ⌈H/4⌉.
  const flat = Math.ceil(height / 4) * Math.ceil(width / 4) * f2;
  const w = glorot(rng, [flat, classes], flat, classes);
  const b = zeros([classes]);
  const dropout = (t: tf.Tensor4D, rng: SeededRng | undefined): tf.Tensor4D =>
    rng === undefined ? t : tf.mul(t, tf.tensor(dropoutMask(rng, t.size, CNN_DROPOUT), t.shape));
  const conv1 = (x: tf.Tensor4D): tf.Tensor4D => tf.conv2d(x, c1 as tf.Tensor4D, 2, 'same');
  const trunk = (x: tf.Tensor4D, rng?: SeededRng): tf.Tensor4D =>
    tf.tidy(() => {
      const h1 = tf.relu(dropout(tf.add(conv1(x), cb1), rng));
      return tf.relu(dropout(tf.add(conv2dSame(h1, c2 as tf.Tensor4D, 2), cb2), rng));
    });
  return {
    ...base,
    variables: [c1, cb1, c2, cb2, w, b],
    logits: (x, rng) =>
      tf.tidy(() => tf.add(tf.matMul(tf.reshape(trunk(x, rng), [-1, flat]), w), b)),
    features: (x) => tf.tidy(() => tf.mean(trunk(x), [1, 2])),
    dispose: () => tf.dispose([c1, cb1, c2, cb2, w, b]),
  };
}
