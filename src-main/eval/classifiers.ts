/**
 * The three downstream classifiers of DP²-VAE's utility protocol (Jiang et
 * al., arXiv 2208.03409, Appendix B.4 and Table 1; the same three as
 * DP-Sinkhorn and GS-WGAN):
 *
 * - `lr`  logistic regression: flattened pixels → linear → softmax;
 * - `mlp` 784 → 100 → 10 (ReLU), for other sizes H·W·C → 100 → K; while
 *   training, dropout 0.3 on the hidden layer (ours, protocol v3);
 * - `cnn` Conv 32 filters stride 2 → ReLU → Conv 64 stride 2 → ReLU →
 *   dense 128 (ReLU, dropout 0.5) → linear. The paper gives filters and
 *   strides, not the kernel: we use 3×3 kernels with 'same' padding
 *   (28 → 14 → 7), which keeps any H×W working (the dense layer takes
 *   ⌈H/4⌉·⌈W/4⌉·64 inputs). Until protocol v2 the CNN had the paper's
 *   dropout 0.5 after each convolution and no hidden dense layer: on 20 000
 *   real MNIST images and 1 570 Adam steps it reached 98.0 %, against 98.55 %
 *   for this one (docs/evaluation.md).
 *
 * Parameters are plain tf.Variables initialised from a seeded generator
 * (Glorot-uniform weights, zero biases), and dropout masks are drawn from
 * seeds given by the caller, so a trained classifier depends only on its seed.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../engine/rng';
import {
  conv2dSame,
  dropoutMask,
  filterGradient,
  geometryOf,
  hasSubPixelGradient,
  im2colColumns,
  inputGradient,
} from './conv';
import type { ImageGeometry } from './images';

export type ClassifierKind = 'lr' | 'mlp' | 'cnn';

/** Every classifier, in the order the paper's Table 1 lists them. */
export const CLASSIFIER_KINDS: readonly ClassifierKind[] = ['lr', 'mlp', 'cnn'];

/** Width of the MLP's hidden layer (Appendix B.4: 784 → 100 → 10). */
export const MLP_HIDDEN = 100;
/** Dropout rate on the MLP's hidden layer while training (ours; regularises small sets). */
export const MLP_DROPOUT: number = 0.3;
/** Filters of the CNN's two convolutions (Appendix B.4). */
export const CNN_FILTERS: readonly [number, number] = [32, 64];
/** Kernel side of the CNN's convolutions (our choice; not given in the paper). */
export const CNN_KERNEL = 3;
/**
 * Dropout rate after each of the CNN's convolutions: 0 since protocol v3 (the
 * paper's 0.5 slowed training more than it helped; module comment).
 */
export const CNN_DROPOUT: number = 0;
/** Width of the CNN's hidden dense layer (protocol v3; 0 would mean none). */
export const CNN_HIDDEN: number = 128;
/** Dropout rate on the CNN's hidden dense layer while training. */
export const CNN_HIDDEN_DROPOUT = 0.5;

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
   * Gradients of the mean softmax cross-entropy of `logits(x, dropout)`
   * against one-hot labels `y`, in the order of `variables`, written out by
   * hand: fewer and faster kernels than tfjs's tape (tf.variableGrads gives
   * the same numbers, conv.test.ts). `pixels` are x's values (NHWC), from
   * which the CNN's first-layer im2col is built in JS; `dropout` draws the
   * CNN's masks exactly as `logits` does.
   */
  gradients?(x: tf.Tensor4D, pixels: Float32Array, y: tf.Tensor2D, dropout: SeededRng): tf.Tensor[];
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
  /** d/dlogits of the mean softmax cross-entropy against one-hot `y`: (softmax − y)/B. */
  const dLogitsOf = (logits: tf.Tensor, y: tf.Tensor2D): tf.Tensor2D =>
    tf.div(tf.sub(tf.softmax(logits), y), logits.shape[0] as number);
  if (kind === 'lr') {
    const w = glorot(rng, [inputs, classes], inputs, classes);
    const b = zeros([classes]);
    const logits = (x: tf.Tensor4D): tf.Tensor2D =>
      tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [-1, inputs]), w), b));
    return {
      ...base,
      variables: [w, b],
      logits,
      // dW = xᵀ·dlogits, db = Σ_rows dlogits.
      gradients: (x, _pixels, y) =>
        tf.tidy(() => {
          const flatX = tf.reshape(x, [-1, inputs]) as tf.Tensor2D;
          const d = dLogitsOf(tf.fused.matMul({ a: flatX, b: w as tf.Tensor2D, bias: b }), y);
          return [tf.matMul(tf.transpose(flatX), d), tf.sum(d, 0)];
        }),
      features: logits,
      dispose: () => tf.dispose([w, b]),
    };
  }
  if (kind === 'mlp') {
    const w1 = glorot(rng, [inputs, MLP_HIDDEN], inputs, MLP_HIDDEN);
    const b1 = zeros([MLP_HIDDEN]);
    const w2 = glorot(rng, [MLP_HIDDEN, classes], MLP_HIDDEN, classes);
    const b2 = zeros([classes]);
    const hiddenOf = (x: tf.Tensor4D): tf.Tensor2D =>
      tf.fused.matMul({
        a: tf.reshape(x, [-1, inputs]) as tf.Tensor2D,
        b: w1 as tf.Tensor2D,
        bias: b1,
        activation: 'relu',
      }) as tf.Tensor2D;
    const hidden = (x: tf.Tensor4D): tf.Tensor2D => tf.tidy(() => hiddenOf(x));
    const keep = 1 / (1 - MLP_DROPOUT);
    const maskBuffer: { values?: Float32Array } = {};
    /** The hidden layer, with dropout when `rng` is given (masks drawn from it). */
    const droppedHidden = (x: tf.Tensor4D, rng?: SeededRng): tf.Tensor2D => {
      const h = hiddenOf(x);
      if (rng === undefined || MLP_DROPOUT === 0) return h;
      const size = h.size;
      if (maskBuffer.values === undefined || maskBuffer.values.length < size)
        maskBuffer.values = new Float32Array(size);
      const mask = dropoutMask(rng, size, MLP_DROPOUT, maskBuffer.values.subarray(0, size));
      return tf.mul(h, tf.tensor2d(mask, h.shape));
    };
    return {
      ...base,
      variables: [w1, b1, w2, b2],
      logits: (x, rng) => tf.tidy(() => tf.add(tf.matMul(droppedHidden(x, rng), w2), b2)),
      // Backpropagation through logits = (mask ⊙ relu(x·W1 + b1))·W2 + b2:
      // d/da = mask·[a > 0] = keep·[h > 0] for the dropped h (mask is 0 or keep).
      gradients: (x, _pixels, y, rng) =>
        tf.tidy(() => {
          const flatX = tf.reshape(x, [-1, inputs]) as tf.Tensor2D;
          const h = droppedHidden(x, rng);
          const d = dLogitsOf(tf.fused.matMul({ a: h, b: w2 as tf.Tensor2D, bias: b2 }), y);
          const dH = tf.matMul(d, tf.transpose(w2));
          const dA =
            MLP_DROPOUT === 0 ? tf.mul(dH, tf.step(h)) : tf.mul(dH, tf.mul(tf.step(h), keep));
          return [
            tf.matMul(tf.transpose(flatX), dA),
            tf.sum(dA, 0),
            tf.matMul(tf.transpose(h), d),
            tf.sum(d, 0),
          ];
        }),
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
  const hid = CNN_HIDDEN;
  const w3 = hid > 0 ? glorot(rng, [flat, hid], flat, hid) : undefined;
  const b3 = hid > 0 ? zeros([hid]) : undefined;
  const top = hid > 0 ? hid : flat;
  const w = glorot(rng, [top, classes], top, classes);
  const b = zeros([classes]);
  // One mask buffer per dropout layer, reused from step to step (each step's
  // mask tensor is disposed before the next step refills the buffer).
  const masks: Float32Array[] = [];
  const maskOf = (layer: number, shape: number[], rate: number, rng: SeededRng): tf.Tensor => {
    const size = shape.reduce((a, b) => a * b, 1);
    let buffer = masks[layer];
    if (buffer === undefined || buffer.length < size)
      masks[layer] = buffer = new Float32Array(size);
    return tf.tensor(dropoutMask(rng, size, rate, buffer.subarray(0, size)), shape);
  };
  // relu(dropout(a)) = mask ⊙ relu(a), since the mask is ≥ 0: the bias and the
  // ReLU fuse into the convolution (XNNPACK clamps its output).
  const layer = (x: tf.Tensor4D, f: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D =>
    tf.fused.conv2d({ x, filter: f, strides: 2, pad: 'same', bias, activation: 'relu' });
  const dropped = <T extends tf.Tensor>(
    h: T,
    i: number,
    rate: number,
    rng: SeededRng | undefined,
  ): T => (rng === undefined || rate === 0 ? h : (tf.mul(h, maskOf(i, h.shape, rate, rng)) as T));
  const trunk = (x: tf.Tensor4D, rng?: SeededRng): tf.Tensor4D =>
    tf.tidy(() => {
      if (rng === undefined) {
        const h1 = layer(x, c1 as tf.Tensor4D, cb1 as tf.Tensor1D);
        return layer(h1, c2 as tf.Tensor4D, cb2 as tf.Tensor1D);
      }
      // With dropout, as the architecture reads (the reference for `gradients`).
      const a1 = tf.add(tf.conv2d(x, c1 as tf.Tensor4D, 2, 'same'), cb1) as tf.Tensor4D;
      const h1 = tf.relu(dropped(a1, 0, CNN_DROPOUT, rng));
      const a2 = tf.add(conv2dSame(h1, c2 as tf.Tensor4D, 2), cb2) as tf.Tensor4D;
      return tf.relu(dropped(a2, 1, CNN_DROPOUT, rng));
    });
  /** The input of the last linear layer: the flattened trunk, or the hidden dense layer on it. */
  const head = (h2: tf.Tensor4D, rng?: SeededRng): tf.Tensor2D => {
    const flatH2 = tf.reshape(h2, [-1, flat]) as tf.Tensor2D;
    if (w3 === undefined || b3 === undefined) return flatH2;
    const h3 = tf.fused.matMul({
      a: flatH2,
      b: w3 as tf.Tensor2D,
      bias: b3,
      activation: 'relu',
    }) as tf.Tensor2D;
    return dropped(h3, 2, CNN_HIDDEN_DROPOUT, rng);
  };
  /** d/da of h = mask ⊙ relu(a), from h alone: [h > 0]/(1 − rate) (the mask is 0 or 1/(1 − rate)). */
  const through = (dh: tf.Tensor, h: tf.Tensor, rate: number): tf.Tensor =>
    rate === 0 ? tf.mul(dh, tf.step(h)) : tf.mul(dh, tf.mul(tf.step(h), 1 / (1 - rate)));
  const im2col: { buffer?: Float32Array } = {};
  const gradients = (
    x: tf.Tensor4D,
    pixels: Float32Array,
    y: tf.Tensor2D,
    rng: SeededRng,
  ): tf.Tensor[] =>
    tf.tidy(() => {
      const batch = x.shape[0];
      const g1 = geometryOf(x.shape, k, 2);
      const h1 = dropped(layer(x, c1 as tf.Tensor4D, cb1 as tf.Tensor1D), 0, CNN_DROPOUT, rng);
      const g2 = geometryOf(h1.shape, k, 2);
      const h2 = dropped(layer(h1, c2 as tf.Tensor4D, cb2 as tf.Tensor1D), 1, CNN_DROPOUT, rng);
      const flatH2 = tf.reshape(h2, [batch, flat]) as tf.Tensor2D;
      const h3 = head(h2, rng);
      const dLogits = dLogitsOf(tf.add(tf.matMul(h3, w), b), y);
      // (A product's right operand is packed anew by XNNPACK whenever it is a
      // new tensor: costly for large ones, so large fresh tensors go on the left.)
      const dW = tf.matMul(tf.transpose(h3), dLogits);
      const dTop = tf.matMul(dLogits, tf.transpose(w));
      const dense: tf.Tensor[] = [];
      let dFlat = dTop;
      if (w3 !== undefined) {
        const dA3 = through(dTop, h3, CNN_HIDDEN_DROPOUT);
        dense.push(tf.matMul(tf.transpose(flatH2), dA3), tf.sum(dA3, 0));
        dFlat = tf.matMul(dA3, tf.transpose(w3));
      }
      const dH2 = tf.reshape(dFlat, h2.shape);
      const dA2 = through(dH2, h2, CNN_DROPOUT) as tf.Tensor4D;
      const dC2 = filterGradient(h1, dA2, g2);
      // Right operand dA2 again: XNNPACK reuses the packing of the product above.
      const positions2 = batch * g2.outH * g2.outW;
      const dCb2 = tf.reshape(
        tf.matMul(tf.ones([1, positions2]), tf.reshape(dA2, [positions2, f2])),
        [f2],
      );
      const dH1 = hasSubPixelGradient(g2)
        ? inputGradient(dA2, c2 as tf.Tensor4D, g2)
        : tf.conv2dTranspose(dA2, c2 as tf.Tensor4D, h1.shape, 2, 'same');
      const dA1 = through(dH1, h1, CNN_DROPOUT) as tf.Tensor4D;
      // First layer: dW = im2col(x)ᵀ × dA1 and db = 1ᵀ × dA1, [k·k·C, P] × [P, F]
      // (the second product reuses the first's packing of dA1; measured cheaper
      // than transposing dA1 to put the small im2col matrix on the right).
      const taps = k * k * channels;
      const positions = batch * g1.outH * g1.outW;
      if (im2col.buffer === undefined || im2col.buffer.length < taps * positions)
        im2col.buffer = new Float32Array(taps * positions);
      const colsT = im2col.buffer.subarray(0, taps * positions);
      im2colColumns(pixels, g1, colsT);
      const dA1r = tf.reshape(dA1, [positions, f1]);
      const dC1 = tf.reshape(tf.matMul(tf.tensor2d(colsT, [taps, positions]), dA1r), [
        k,
        k,
        channels,
        f1,
      ]);
      const dCb1 = tf.reshape(tf.matMul(tf.ones([1, positions]), dA1r), [f1]);
      return [dC1, dCb1, dC2, dCb2, ...dense, dW, tf.sum(dLogits, 0)];
    });
  const variables = [c1, cb1, c2, cb2, ...(w3 && b3 ? [w3, b3] : []), w, b];
  return {
    ...base,
    variables,
    logits: (x, rng) => tf.tidy(() => tf.add(tf.matMul(head(trunk(x, rng), rng), w), b)),
    gradients,
    features: (x) => tf.tidy(() => tf.mean(trunk(x), [1, 2])),
    dispose: () => tf.dispose(variables),
  };
}
