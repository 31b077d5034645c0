/**
 * The feature network in TensorFlow.js: its trainable form (convolutions with
 * batch normalisation, Ioffe and Szegedy 2015, used while pre-training), the
 * folded form that ships (batch normalisation merged into each convolution's
 * weights and bias), and the read-out of features from its layers.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../../engine/rng';
import { conv2dSame } from '../../eval/conv';
import { convSpecs, featureLayers, type FeatureNetSpec } from './architecture';

/** Batch normalisation's ε (added to the variance). */
const BN_EPSILON = 1e-5;

/**
 * The network while pre-training: convolutions with batch normalisation.
 * `params` holds, for each convolution in convSpecs order, its kernel
 * [3, 3, in, out], then batch normalisation's γ and β [out]: plain tensors,
 * so that the optimiser (engine/optim.ts) can replace them each step.
 */
export interface TrainableNet {
  spec: FeatureNetSpec;
  params: tf.Tensor[];
}

/** The shipped network: each convolution's kernel [3, 3, in, out] and bias [out]. */
export interface FoldedNet {
  spec: FeatureNetSpec;
  kernels: tf.Tensor4D[];
  biases: tf.Tensor1D[];
}

/** He-normal kernels (He et al., ICCV 2015), γ = 1, β = 0; everything from `seed`. */
export function createTrainableNet(spec: FeatureNetSpec, seed: number): TrainableNet {
  const rng = SeededRng.fromSeed(seed, 0x6e657477);
  const params = convSpecs(spec).flatMap((c) => {
    const k = new Float32Array(9 * c.inChannels * c.outChannels);
    rng.fillNormal(k, Math.sqrt(2 / (9 * c.inChannels)));
    return [
      tf.tensor4d(k, [3, 3, c.inChannels, c.outChannels]),
      tf.ones([c.outChannels]),
      tf.zeros([c.outChannels]),
    ];
  });
  return { spec, params };
}

/** Images [N, H, W, 1 or 3] in [0, 1] → the network's input: three channels in [−1, 1]. */
export function networkInput(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const rgb = c === 3 ? x : tf.tile(x, [1, 1, 1, 3]);
    return tf.sub(tf.mul(rgb, 2), 1);
  });
}

/**
 * Runs `x` (already {@link networkInput}) through the network, calling
 * `conv(i, h)` for the i-th convolution of convSpecs order, and returns every
 * stage's output.
 */
export function runStages(
  spec: FeatureNetSpec,
  x: tf.Tensor4D,
  conv: (i: number, h: tf.Tensor4D) => tf.Tensor4D,
  stages = spec.widths.length - 1,
): tf.Tensor4D[] {
  let h = conv(0, x);
  const out: tf.Tensor4D[] = [];
  for (let k = 1; k <= stages; k++) {
    h = conv(2 * k - 1, h);
    h = tf.add(h, conv(2 * k, h));
    out.push(h);
  }
  return out;
}

/**
 * Convolution i, then batch normalisation over the batch's own statistics and
 * ReLU; `fold` receives the folded kernel and bias.
 */
function trainConv(
  spec: FeatureNetSpec,
  params: readonly tf.Tensor[],
  i: number,
  h: tf.Tensor4D,
  fold?: (kernel: tf.Tensor4D, bias: tf.Tensor1D) => void,
): tf.Tensor4D {
  const kernel = params[3 * i] as tf.Tensor4D;
  const gamma = params[3 * i + 1] as tf.Tensor1D;
  const beta = params[3 * i + 2] as tf.Tensor1D;
  const y = conv2dSame(h, kernel, convSpecs(spec)[i]?.stride ?? 1);
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  fold?.(tf.mul(kernel, scale), tf.sub(beta, tf.mul(mean, scale)));
  return tf.relu(tf.add(tf.mul(tf.sub(y, mean), scale), beta));
}

/**
 * Every stage's output in training mode (batch statistics) for parameters
 * `params` laid out as {@link TrainableNet.params}; call inside a tidy or a
 * gradient.
 */
export function trainStages(
  spec: FeatureNetSpec,
  params: readonly tf.Tensor[],
  x: tf.Tensor4D,
): tf.Tensor4D[] {
  return runStages(spec, networkInput(x), (i, h) => trainConv(spec, params, i, h));
}

/**
 * Folds batch normalisation into the convolutions, with the statistics of
 * `calibration` (a large batch of training images): each layer's mean and
 * variance are those its batch normalisation computes on that batch, so the
 * folded network gives the same outputs for it as training mode does.
 * W' = W·γ/√(σ² + ε), b' = β − μ·γ/√(σ² + ε).
 */
export function foldBatchNorm(net: TrainableNet, calibration: tf.Tensor4D): FoldedNet {
  const kernels: tf.Tensor4D[] = [];
  const biases: tf.Tensor1D[] = [];
  tf.tidy(() => {
    runStages(net.spec, networkInput(calibration), (i, h) =>
      trainConv(net.spec, net.params, i, h, (kernel, bias) => {
        kernels.push(tf.keep(kernel));
        biases.push(tf.keep(bias));
      }),
    );
  });
  return { spec: net.spec, kernels, biases };
}

/** Every stage's output of the folded network, up to stage `stages` (default all). */
export function foldedStages(net: FoldedNet, x: tf.Tensor4D, stages?: number): tf.Tensor4D[] {
  const specs = convSpecs(net.spec);
  // A grey image is its value in all three channels: rather than repeating it
  // (tfjs's Tile costs a fifth of the forward pass on wasm), the stem's
  // kernel is summed over its input channels — the same convolution.
  const grey = x.shape[3] === 1;
  const stem = grey ? (tf.sum(net.kernels[0] as tf.Tensor4D, 2, true) as tf.Tensor4D) : undefined;
  return runStages(
    net.spec,
    grey ? tf.sub(tf.mul(x, 2), 1) : networkInput(x),
    (i, h) =>
      tf.fused.conv2d({
        x: h,
        filter: i === 0 && stem ? stem : (net.kernels[i] as tf.Tensor4D),
        strides: specs[i]?.stride ?? 1,
        pad: 'same',
        bias: net.biases[i],
        activation: 'relu',
      }),
    stages,
  );
}

/** Frees a network's tensors. */
export function disposeNet(net: TrainableNet | FoldedNet): void {
  if ('params' in net) for (const t of net.params) t.dispose();
  else for (const t of [...net.kernels, ...net.biases]) t.dispose();
}

/**
 * Adaptive average pooling to a g×g grid, as the weights of a matrix
 * [H·W, g²] (row-major): cell (i, j) averages rows ⌊iH/g⌋ … ⌈(i+1)H/g⌉ − 1
 * and likewise columns, so any map of at least g×g gives g² numbers per
 * channel.
 */
export function gridPoolWeights(height: number, width: number, grid: number): Float32Array {
  const m = new Float32Array(height * width * grid * grid);
  for (let i = 0; i < grid; i++) {
    const y0 = Math.floor((i * height) / grid);
    const y1 = Math.ceil(((i + 1) * height) / grid);
    for (let j = 0; j < grid; j++) {
      const x0 = Math.floor((j * width) / grid);
      const x1 = Math.ceil(((j + 1) * width) / grid);
      const w = 1 / ((y1 - y0) * (x1 - x0));
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) m[(y * width + x) * grid * grid + i * grid + j] = w;
      }
    }
  }
  return m;
}

/**
 * Features of one layer's maps [N, H, W, C]: with `grid` 1 the mean of each
 * channel over positions (global average pooling, C numbers); with `grid` g
 * the means over a g×g grid of regions (C·g² numbers, channel-major).
 */
export function poolLayer(maps: tf.Tensor4D, grid: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, h, w, c] = maps.shape;
    if (grid === 1) return tf.mean(maps, [1, 2]) as tf.Tensor2D;
    const pool = tf.tensor2d(gridPoolWeights(h, w, grid), [h * w, grid * grid]);
    const perChannel = tf.reshape(tf.transpose(tf.reshape(maps, [n, h * w, c]), [0, 2, 1]), [
      n * c,
      h * w,
    ]);
    return tf.reshape(tf.matMul(perChannel, pool), [n, c * grid * grid]) as tf.Tensor2D;
  });
}

/** Which features to read: layers (`stage<k>`) and the pooling grid of each. */
export interface FeatureReadout {
  layers: readonly string[];
  /** 1 = global average; g = a g×g grid of regions. */
  grid: number;
}

/** Number of features {@link readFeatures} gives per image. */
export function featureCount(spec: FeatureNetSpec, readout: FeatureReadout): number {
  const layers = featureLayers(spec);
  return readout.layers.reduce(
    (n, l) => n + (spec.widths[layers.indexOf(l) + 1] as number) * readout.grid * readout.grid,
    0,
  );
}

/** Features [N, featureCount] of images x [N, H, W, 1 or 3] in [0, 1]. */
export function readFeatures(net: FoldedNet, x: tf.Tensor4D, readout: FeatureReadout): tf.Tensor2D {
  return tf.tidy(() => {
    const names = featureLayers(net.spec);
    const deepest = Math.max(...readout.layers.map((l) => names.indexOf(l) + 1));
    const maps = foldedStages(net, x, deepest);
    const parts = readout.layers.map((l) =>
      poolLayer(maps[names.indexOf(l)] as tf.Tensor4D, readout.grid),
    );
    return parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 1);
  });
}
