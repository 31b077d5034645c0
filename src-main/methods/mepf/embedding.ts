/**
 * The per-record embedding φ(x) of method `mepf` (issue #19): what one
 * training image contributes to the released class sums.
 *
 * Three feature sources, one contract ({@link Embedding}):
 * - `prior`: perceptual features of the random-process prior's folded
 *   network (issue #18), as in DP-MEPF (Harder, Jalali Asadabadi, Sutherland,
 *   Park, TMLR 2023, arXiv 2205.12900): for each chosen layer, the first
 *   moments (each channel's mean over positions) and the second moments
 *   (each channel's mean over positions of its squared activation).
 * - `random-net`: the same network at random initialisation (an ablation: it
 *   says what the pre-training on procedural images is worth).
 * - `rff`: random Fourier features of the pixels, as in DP-MERF (Harder,
 *   Adamczewski, Park, AISTATS 2021): an approximation of the mean embedding
 *   under a Gaussian kernel.
 *
 * Every φ is differentiable in the pixels (tfjs ops only), because the
 * generator (generator.ts) is trained through the same map: the release and
 * the generator must see one and the same φ, normalisation included.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../../engine/rng';
import { PRIOR_FAMILIES } from '../../priors/families';
import { networkSize } from '../../priors/features';
import {
  featureLayers,
  layerChannels,
  type FeatureNetSpec,
} from '../../priors/network/architecture';
import { disposeNet, poolLayer, type FoldedNet } from '../../priors/network/feature-net';
import { UserError } from '../../contract/errors';
import { networkInput, runStages } from '../../priors/network/feature-net';
import { convSpecs } from '../../priors/network/architecture';
import { geometryOf, inputGradient, samePadding } from '../../eval/conv';
import { pretrainPrior } from '../../priors/pretrain/pretrain';
import type { LoadedPrior } from '../../priors/prior-file';

/** Where φ comes from (module comment). */
export type FeatureSource = 'prior' | 'random-net' | 'rff';

/** All feature sources, the default first. */
export const FEATURE_SOURCES: readonly FeatureSource[] = ['prior', 'random-net', 'rff'];

/**
 * Guard inside each block's norm, √(‖v‖² + ε²): keeps the map smooth at
 * v = 0 (the generator differentiates through it) and keeps ‖φ‖ ≤ 1 there.
 * Activations are of order 1, so the norm differs from 1 by about 1e-12 —
 * below float32's resolution.
 */
const NORM_GUARD = 1e-6;

/**
 * A per-record embedding: `embed` maps images to rows of norm 1.
 *
 * Sensitivity: every row of `embed` has L2 norm 1 (to float32 rounding; at
 * most 1 in any case, see {@link NORM_GUARD}), so adding or removing one
 * record moves its class's sum of φ by at most 1. The release re-checks each
 * row in float64 before summing (release.ts), so the bound holds whatever
 * the rounding.
 */
export interface Embedding {
  /** The map in data form, for certificates and for rebuilding it (no tensors). */
  description: EmbeddingDescription;
  /** Length of φ. */
  dims: number;
  /** The image shape `embed` takes [H, W, C] (images of the data set / the generator). */
  image: { height: number; width: number; channels: number };
  /**
   * φ of images x [N, H, W, C] with values in [0, 1] → [N, dims], each row of
   * norm 1. Differentiable; call inside tf.tidy or a gradient.
   */
  embed(x: tf.Tensor4D): tf.Tensor2D;
  /** Frees the tensors the map holds (not the prior's network, which the caller owns). */
  dispose(): void;
}

/** Which statistics of each layer enter φ. */
export type Moments = 'first' | 'both';

/**
 * How φ is scaled to norm 1:
 * - `blocks` (default): φ is cut into blocks (each layer's first moments,
 *   each layer's second moments), each block is scaled to norm 1/√B, so φ
 *   has norm exactly 1 and every block weighs the same in the generator's
 *   loss, whatever its layer's scale (deep layers' activations are larger
 *   and would otherwise dominate). DP-MEPF's per-layer bound, made exact.
 * - `whole`: φ = v/‖v‖ on the concatenation (DP-MEPF's default `norm`).
 */
export type Normalisation = 'blocks' | 'whole';

/** Settings of a network embedding (the `prior` and `random-net` sources). */
export interface NetworkEmbeddingOptions {
  /** Layers whose moments enter φ (`stage<k>`); default every stage. */
  layers?: readonly string[];
  /** First moments only, or first and second (default, as DP-MEPF). */
  moments?: Moments;
  /**
   * Moments over the whole map (1), over each cell of a g×g grid (default
   * 4), or `full`: every position's activation (no pooling; DP-MEPF's choice:
   * H·W times as many features). A g×g grid gives g² times as many as 1.
   * Measured (bench/mepf.ts, docs/methods.md): with whole-map moments the
   * generator paints textures and strokes that match the channel statistics
   * anywhere in the image; the grid ties them to where they are.
   */
  grid?: number | 'full';
  normalisation?: Normalisation;
  /**
   * Binomial low-pass passes before the network (default 1; 0 = none): each pass is the
   * 3×3 filter [1 2 1]ᵀ[1 2 1]/16, which removes the highest frequency (the
   * two-pixel checkerboard). The gradient of a network with stride-2
   * convolutions is itself periodic at 2, 4, 8 pixels, and a generator
   * trained through it paints those patterns; the blur takes them out of
   * both the features and the gradient.
   */
  blur?: number;
}

/** Settings of the random-Fourier-feature embedding (the `rff` source). */
export interface RffEmbeddingOptions {
  /** Frequencies F; φ has 2F entries (a cosine and a sine per frequency). Default 5000. */
  frequencies?: number;
  /**
   * Length scale ℓ of the Gaussian kernel exp(−‖x − x′‖² / 2ℓ²) on pixels in
   * [0, 1]. Default 0.35·√(H·W·C) (≈ 9.8 at 28×28): about the typical
   * distance between two MNIST digits. Data-independent on purpose: a median
   * heuristic on the private images would itself leak.
   */
  lengthScale?: number;
  /** Seed of the frequencies (public: they are part of the description). */
  seed?: number;
  /**
   * Side reduction before the projection: the images are average-pooled by
   * this factor (the features of a smaller view). Default
   * {@link defaultRffPool}: 1 up to 32 pixels, 2 at 64, 4 at 128, so Ω
   * stays d × F ≤ 3 072 × 5 000 (61 MB) instead of 983 MB at 128×128×3,
   * which with its transpose passes the WebAssembly backend's memory.
   */
  pool?: number;
}

/** A network embedding in data form. */
export type NetworkEmbeddingDescription = {
  source: 'prior' | 'random-net';
} & Required<NetworkEmbeddingOptions> & {
    image: Embedding['image'];
    /** The network's input side after resizing (networkSize of the image). */
    inputSize: { height: number; width: number };
    /** For `prior`: which prior, by name and the SHA-256 of its weights. */
    prior?: { name: string; sha256: string };
    /** For `random-net`: the network's settings and the seed of its weights. */
    randomInit?: { spec: FeatureNetSpec; seed: number; imagesPerFamily: number };
  };

/** A random-Fourier-feature embedding in data form. */
export type RffEmbeddingDescription = { source: 'rff' } & Required<
  Omit<RffEmbeddingOptions, 'pool'>
> & {
    image: Embedding['image'];
    /** Absent in releases made before pooling existed: 1. */
    pool?: number;
  };

/** An embedding in data form (what a release records about its φ). */
export type EmbeddingDescription =
  NetworkEmbeddingDescription | RffEmbeddingDescription | CombinedEmbeddingDescription;

type ImageShape = Embedding['image'];

function checkImage(image: ImageShape): void {
  for (const [what, v] of [
    ['height', image.height],
    ['width', image.width],
    ['channels', image.channels],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`The image ${what} must be a whole number ≥ 1, not ${v}.`);
    }
  }
}

function checkShape(x: tf.Tensor4D, image: ImageShape): void {
  const [, h, w, c] = x.shape;
  if (h !== image.height || w !== image.width || c !== image.channels) {
    throw new RangeError(
      `This embedding takes ${image.height}×${image.width}×${image.channels} images, not ${h}×${w}×${c}.`,
    );
  }
}

/** Each row of `v` [N, d] scaled to norm `scale` (guarded at 0, see {@link NORM_GUARD}). */
function scaleRows(v: tf.Tensor2D, scale: number): tf.Tensor2D {
  const norm = tf.sqrt(tf.add(tf.sum(tf.square(v), 1, true), NORM_GUARD * NORM_GUARD));
  return tf.mul(v, tf.div(scale, norm));
}

/**
 * conv2d(x, kernel, stride, 'same') + bias, then ReLU, for a frozen kernel:
 * the gradient flows to x only, through the sub-pixel input gradient of
 * eval/conv.ts (stride-1 convolutions on XNNPACK), because tfjs-backend-wasm
 * 4.22's Conv2DBackpropInput loops in plain code: measured at batch 100 on
 * 28×28 images, the prior's backward pass took ≈ 740 ms of its kernel time
 * there. Same numbers as tfjs's own gradient (mepf-embedding.test.ts).
 */
function frozenConvRelu(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D,
  stride: number,
): tf.Tensor4D {
  const forward = (h: tf.Tensor4D): tf.Tensor4D =>
    tf.fused.conv2d({
      x: h,
      filter: kernel,
      strides: stride,
      pad: 'same',
      bias,
      activation: 'relu',
    });
  const k = kernel.shape[0];
  if (kernel.shape[1] !== k) return forward(x);
  const [, height, width] = x.shape;
  const rows = alignedPadding(height, k, stride);
  const cols = alignedPadding(width, k, stride);
  if (!rows || !cols) return forward(x);
  const padded =
    rows[0] + rows[1] + cols[0] + cols[1] > 0 ? tf.pad(x, [[0, 0], rows, cols, [0, 0]]) : x;
  const g = geometryOf(padded.shape, k, stride);
  const op = tf.customGrad((xIn, save) => {
    const y = forward(xIn as tf.Tensor4D);
    (save as tf.GradSaveFunc)([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        inputGradient(tf.mul(dy, tf.step(saved[0] as tf.Tensor)) as tf.Tensor4D, kernel, g),
    };
  });
  return op(padded) as tf.Tensor4D;
}

/**
 * Zeros [before, after] to add to a side of `size` so that conv2d 'same' with
 * this kernel and stride gives the same outputs on the padded side, and the
 * padded side is a multiple of the stride (what the sub-pixel gradient
 * needs; e.g. 7 → 8 with one zero before, at stride 2); null if none does.
 */
function alignedPadding(size: number, kernel: number, stride: number): [number, number] | null {
  if (kernel < stride) return null;
  const want = samePadding(size, kernel, stride);
  for (let before = 0; before < stride; before++) {
    for (let after = 0; after < stride; after++) {
      const padded = size + before + after;
      if (padded % stride !== 0) continue;
      const got = samePadding(padded, kernel, stride);
      if (got.out === want.out && got.before + before === want.before) return [before, after];
    }
  }
  return null;
}

/**
 * The folded network's stage outputs (as priors/network/feature-net.ts
 * foldedStages: the stem, then per stage a stride-2 convolution and a
 * residual one), up to stage `stages`, with {@link frozenConvRelu}.
 */
export function frozenStages(net: FoldedNet, x: tf.Tensor4D, stages: number): tf.Tensor4D[] {
  const specs = convSpecs(net.spec);
  const conv = (i: number, h: tf.Tensor4D): tf.Tensor4D =>
    frozenConvRelu(
      h,
      net.kernels[i] as tf.Tensor4D,
      net.biases[i] as tf.Tensor1D,
      specs[i]?.stride ?? 1,
    );
  return runStages(net.spec, networkInput(x), conv, stages);
}

/** The binomial 3×3 blur [1 2 1]ᵀ[1 2 1]/16 for `channels` channels, as a depthwise filter. */
export function blurFilter(channels: number): tf.Tensor4D {
  const k1 = [1, 2, 1];
  const k = new Float32Array(9 * channels);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let ch = 0; ch < channels; ch++) {
        k[(i * 3 + j) * channels + ch] = ((k1[i] as number) * (k1[j] as number)) / 16;
      }
    }
  }
  return tf.tensor4d(k, [3, 3, channels, 1]);
}

/** `passes` blurs of x [N, H, W, C] with `filter` ({@link blurFilter}, 'same', zero padding). */
export function lowPass(x: tf.Tensor4D, filter: tf.Tensor4D, passes: number): tf.Tensor4D {
  // The filter is symmetric and zero-padded 'same', so the blur is its own
  // adjoint: the gradient is the same blur (the WebAssembly backend has no
  // kernel for the depthwise convolution's input gradient).
  const blurOnce = tf.customGrad((xIn) => ({
    value: tf.depthwiseConv2d(xIn as tf.Tensor4D, filter, 1, 'same'),
    gradFunc: (dy: tf.Tensor) => tf.depthwiseConv2d(dy as tf.Tensor4D, filter, 1, 'same'),
  }));
  let h = x;
  for (let p = 0; p < passes; p++) h = blurOnce(h) as tf.Tensor4D;
  return h;
}

/** Height and width of each stage's maps for an input of `input` (TensorFlow's 'same' padding). */
function stageSizes(
  spec: FeatureNetSpec,
  input: { height: number; width: number },
): { height: number; width: number }[] {
  let h = Math.ceil(input.height / spec.stemStride);
  let w = Math.ceil(input.width / spec.stemStride);
  return spec.widths.slice(1).map(() => {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
    return { height: h, width: w };
  });
}

/**
 * φ from a feature network (the `prior` and `random-net` sources): for each
 * layer in `layers`, its first moments (poolLayer of the maps) and, with
 * `moments: 'both'`, its second moments (poolLayer of the squared maps), then
 * scaled to norm 1 ({@link Normalisation}). Images whose sides fall outside
 * 28…128 pixels are resized (bilinear) as the prior's features are
 * (priors/features.ts networkSize), before the network. The caller keeps
 * ownership of `net`.
 */
export function networkEmbedding(
  net: FoldedNet,
  image: ImageShape,
  options: NetworkEmbeddingOptions = {},
  source: 'prior' | 'random-net' = 'prior',
): Embedding {
  checkImage(image);
  const names = featureLayers(net.spec);
  const layers = [...(options.layers ?? names)];
  if (layers.length === 0) throw new RangeError('Choose at least one layer of the network.');
  for (const l of layers) {
    if (!names.includes(l)) {
      throw new RangeError(`The network has no layer "${l}"; it has ${names.join(', ')}.`);
    }
  }
  const moments = options.moments ?? 'both';
  const grid = options.grid ?? 4;
  if (grid !== 'full' && (!Number.isInteger(grid) || grid < 1 || grid > 4)) {
    throw new RangeError(`The pooling grid is a whole number 1 to 4 or 'full', not ${grid}.`);
  }
  const normalisation = options.normalisation ?? 'blocks';
  const blur = options.blur ?? 1;
  if (!Number.isInteger(blur) || blur < 0 || blur > 4) {
    throw new RangeError(`The number of blur passes is a whole number 0 to 4, not ${blur}.`);
  }
  // Held for the embedding's life: gradients run after embed's tidy has ended.
  const filter = blur > 0 ? blurFilter(image.channels) : undefined;
  const inputSize = networkSize(image.height, image.width);
  const blockCount = layers.length * (moments === 'both' ? 2 : 1);
  const sizes = stageSizes(net.spec, inputSize);
  const dims =
    layers.reduce((n, l) => {
      const c = layerChannels(net.spec, l);
      const size = sizes[names.indexOf(l)] as { height: number; width: number };
      return n + (grid === 'full' ? c * size.height * size.width : c * grid * grid);
    }, 0) * (moments === 'both' ? 2 : 1);
  const deepest = Math.max(...layers.map((l) => names.indexOf(l) + 1));
  return {
    description: {
      source,
      layers,
      moments,
      grid,
      normalisation,
      blur,
      image: { ...image },
      inputSize,
    },
    dims,
    image: { ...image },
    embed(x) {
      checkShape(x, image);
      return tf.tidy(() => {
        const input =
          inputSize.height !== image.height || inputSize.width !== image.width
            ? tf.image.resizeBilinear(x, [inputSize.height, inputSize.width], true)
            : x;
        const maps = frozenStages(net, filter ? lowPass(input, filter, blur) : input, deepest);
        const blocks: tf.Tensor2D[] = [];
        for (const l of layers) {
          const m = maps[names.indexOf(l)] as tf.Tensor4D;
          const pool = (t: tf.Tensor4D): tf.Tensor2D =>
            grid === 'full' ? tf.reshape(t, [t.shape[0], -1]) : poolLayer(t, grid);
          blocks.push(pool(m));
          if (moments === 'both') blocks.push(pool(tf.square(m)));
        }
        if (normalisation === 'blocks') {
          const scale = 1 / Math.sqrt(blockCount);
          const scaled = blocks.map((b) => scaleRows(b, scale));
          return scaled.length === 1 ? (scaled[0] as tf.Tensor2D) : tf.concat(scaled, 1);
        }
        return scaleRows(
          blocks.length === 1 ? (blocks[0] as tf.Tensor2D) : tf.concat(blocks, 1),
          1,
        );
      });
    },
    dispose() {
      filter?.dispose();
    },
  };
}

/**
 * {@link networkEmbedding} of a loaded, verified prior (source `prior`); the
 * description names the prior and the SHA-256 of its weights, for the
 * certificate.
 */
export function priorEmbedding(
  prior: LoadedPrior,
  image: ImageShape,
  options: NetworkEmbeddingOptions = {},
): Embedding {
  const embedding = networkEmbedding(prior.net, image, options, 'prior');
  return {
    ...embedding,
    description: {
      ...(embedding.description as NetworkEmbeddingDescription),
      prior: { name: prior.manifest.name, sha256: prior.manifest.weights.sha256 },
    },
  };
}

/**
 * Default pooling factor of {@link rffEmbedding}: the smallest power of two
 * that brings the longer side to 32 pixels or less (and divides both sides).
 */
export function defaultRffPool(image: ImageShape): number {
  let f = 1;
  while (
    Math.max(image.height, image.width) / f > 32 &&
    image.height % (2 * f) === 0 &&
    image.width % (2 * f) === 0
  ) {
    f *= 2;
  }
  return f;
}

/** Default length scale of {@link rffEmbedding} for images of `d` numbers. */
export function defaultLengthScale(d: number): number {
  return 0.35 * Math.sqrt(d);
}

/** Stream tag of the random frequencies (kept apart from other uses of a seed). */
const RFF_STREAM = 0x726666;

/**
 * Random Fourier features of the pixels (DP-MERF): φ(x) = √(1/F)·[cos(Wᵀx),
 * sin(Wᵀx)] with W [d, F] drawn N(0, 1/ℓ²) from `seed`. φ(x)ᵀφ(x′)
 * approximates the Gaussian kernel exp(−‖x − x′‖²/2ℓ²) (Rahimi and Recht
 * 2007), and ‖φ(x)‖² = (1/F)·Σ (cos² + sin²) = 1 exactly, for every x.
 */
export function rffEmbedding(image: ImageShape, options: RffEmbeddingOptions = {}): Embedding {
  checkImage(image);
  const pool = options.pool ?? defaultRffPool(image);
  if (
    !Number.isInteger(pool) ||
    pool < 1 ||
    image.height % pool !== 0 ||
    image.width % pool !== 0
  ) {
    throw new RangeError(
      `The pooling factor must be a whole number that divides the image sides, not ${pool}.`,
    );
  }
  const d = (image.height / pool) * (image.width / pool) * image.channels;
  const frequencies = options.frequencies ?? 5000;
  if (!Number.isInteger(frequencies) || frequencies < 1 || frequencies > 100_000) {
    throw new RangeError(
      `The number of frequencies is a whole number 1 to 100000, not ${frequencies}.`,
    );
  }
  const lengthScale = options.lengthScale ?? defaultLengthScale(d);
  if (!(lengthScale > 0) || !Number.isFinite(lengthScale)) {
    throw new RangeError(`The length scale must be a positive number, not ${lengthScale}.`);
  }
  const seed = options.seed ?? 0;
  const w = new Float32Array(d * frequencies);
  SeededRng.fromSeed(seed, RFF_STREAM).fillNormal(w, 1 / lengthScale);
  const omega = tf.tensor2d(w, [d, frequencies]);
  // Ωᵀ kept apart: the gradient's product with a transposed operand is
  // several times slower on the WebAssembly backend than a plain one.
  const omegaT = tf.transpose(omega) as tf.Tensor2D;
  const scale = Math.sqrt(1 / frequencies);
  // φ and its gradient in one op: the gradient reuses the forward pass's
  // cosines and sines (d cos = −sin, d sin = cos) instead of recomputing them.
  const features = tf.customGrad((xIn, save) => {
    const proj = tf.matMul(xIn as tf.Tensor2D, omega);
    const cos = tf.cos(proj);
    const sin = tf.sin(proj);
    (save as tf.GradSaveFunc)([cos, sin]);
    return {
      value: tf.mul(tf.concat([cos, sin], 1), scale),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [c, s] = saved as [tf.Tensor2D, tf.Tensor2D];
        const [dc, ds] = tf.split(dy as tf.Tensor2D, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
        const dProj = tf.mul(tf.sub(tf.mul(ds, c), tf.mul(dc, s)), scale) as tf.Tensor2D;
        return tf.matMul(dProj, omegaT);
      },
    };
  });
  return {
    description: { source: 'rff', frequencies, lengthScale, seed, image: { ...image }, pool },
    dims: 2 * frequencies,
    image: { ...image },
    embed(x) {
      checkShape(x, image);
      return tf.tidy(() => {
        const view = pool > 1 ? tf.avgPool(x, pool, pool, 'valid') : x;
        return features(tf.reshape(view, [x.shape[0], d])) as tf.Tensor2D;
      });
    },
    dispose() {
      omega.dispose();
      omegaT.dispose();
    },
  };
}

/** A combination of embeddings in data form. */
export interface CombinedEmbeddingDescription {
  source: 'combined';
  /** The parts, in order, each weighing 1/√(parts) of φ's norm. */
  parts: EmbeddingDescription[];
}

/**
 * Several embeddings of the same images side by side, each scaled by 1/√m
 * (m parts), so φ still has norm 1: e.g. the prior's perceptual features with
 * random Fourier features of the pixels, which tie the generator's images to
 * pixel space where the network's features alone leave room for textures
 * that match them. `dispose` frees the parts.
 */
export function combinedEmbedding(parts: readonly Embedding[]): Embedding {
  const first = parts[0];
  if (!first) throw new RangeError('Combine at least one embedding.');
  for (const p of parts) {
    const a = p.image;
    if (
      a.height !== first.image.height ||
      a.width !== first.image.width ||
      a.channels !== first.image.channels
    ) {
      throw new RangeError('Combined embeddings must take images of one shape.');
    }
  }
  const scale = 1 / Math.sqrt(parts.length);
  return {
    description: { source: 'combined', parts: parts.map((p) => p.description) },
    dims: parts.reduce((n, p) => n + p.dims, 0),
    image: { ...first.image },
    embed(x) {
      return tf.tidy(
        () =>
          tf.mul(
            tf.concat(
              parts.map((p) => p.embed(x)),
              1,
            ),
            scale,
          ) as tf.Tensor2D,
      );
    },
    dispose() {
      for (const p of parts) p.dispose();
    },
  };
}

/** Procedural images per family for a random network's batch-normalisation statistics. */
const RANDOM_NET_IMAGES = 256;

/**
 * The prior's network at random initialisation (the `random-net` source):
 * He-normal weights from `seed`, batch normalisation folded with the
 * statistics of procedural images (public, no real data), exactly as the
 * prior is made but with no training steps (pretrainPrior with steps 0), so
 * that the comparison with the prior isolates the pre-training.
 * `imagesPerFamily` (default 256) sets how many procedural images of each
 * family are made for those statistics.
 */
export async function randomInitNetwork(
  spec: FeatureNetSpec,
  seed: number,
  imagesPerFamily = RANDOM_NET_IMAGES,
): Promise<FoldedNet> {
  const result = await pretrainPrior({
    spec,
    seed,
    families: PRIOR_FAMILIES,
    imagesPerFamily,
    imageSize: 32,
    viewSize: 28,
    steps: 0,
    batchSize: 256,
    temperature: 0.2,
    learningRate: 0,
    warmupSteps: 0,
    projectionDims: 64,
  });
  return result.net;
}

/**
 * {@link networkEmbedding} of the network `spec` at random initialisation
 * ({@link randomInitNetwork} from `seed`, batch-normalisation statistics from
 * `imagesPerFamily` procedural images of each family; source `random-net`);
 * the description records all three, so the same map can be rebuilt.
 * `dispose` frees the network too.
 */
export async function randomNetEmbedding(
  spec: FeatureNetSpec,
  seed: number,
  image: ImageShape,
  options: NetworkEmbeddingOptions = {},
  imagesPerFamily = RANDOM_NET_IMAGES,
): Promise<Embedding> {
  const net = await randomInitNetwork(spec, seed, imagesPerFamily);
  const embedding = networkEmbedding(net, image, options, 'random-net');
  return {
    ...embedding,
    description: {
      ...(embedding.description as NetworkEmbeddingDescription),
      randomInit: {
        spec: { widths: [...spec.widths], stemStride: spec.stemStride },
        seed,
        imagesPerFamily,
      },
    },
    dispose() {
      embedding.dispose();
      disposeNet(net);
    },
  };
}

/**
 * The embedding a description stands for, rebuilt (to train a generator
 * again from a stored release). `prior` is the prior the app has now: a
 * description made under another prior (its SHA-256 differs) is refused in
 * plain words, since its φ would not be the released one.
 */
export async function embeddingFromDescription(
  description: EmbeddingDescription,
  prior?: LoadedPrior,
): Promise<Embedding> {
  switch (description.source) {
    case 'rff': {
      const { frequencies, lengthScale, seed, image } = description;
      return rffEmbedding(image, { frequencies, lengthScale, seed, pool: description.pool ?? 1 });
    }
    case 'combined': {
      const parts: Embedding[] = [];
      for (const d of description.parts) parts.push(await embeddingFromDescription(d, prior));
      return combinedEmbedding(parts);
    }
    case 'prior':
    case 'random-net': {
      const { layers, moments, grid, normalisation, blur, image } = description;
      const options = { layers, moments, grid, normalisation, blur };
      if (description.source === 'random-net') {
        if (!description.randomInit) {
          throw new UserError(
            'CORRUPT_DATA',
            'The release does not say which random network it used.',
          );
        }
        const { spec, seed, imagesPerFamily } = description.randomInit;
        return randomNetEmbedding(spec, seed, image, options, imagesPerFamily);
      }
      const want = description.prior;
      if (!prior || !want || prior.manifest.weights.sha256 !== want.sha256) {
        throw new UserError(
          'INVALID_INPUT',
          `This release was made with the random-process prior ${want ? `"${want.name}" (SHA-256 ${want.sha256.slice(0, 12)}…)` : '(not recorded)'}, ` +
            `but this installation has ${prior ? `"${prior.manifest.name}" (SHA-256 ${prior.manifest.weights.sha256.slice(0, 12)}…)` : 'no prior'}. ` +
            'A generator must be trained with the features the release was made with: use the version of DP² Studio that made it, or make a new release.',
        );
      }
      return priorEmbedding(prior, image, options);
    }
  }
}

/**
 * The embedding of rows of bytes (N·H·W·C, values 0…255) in batches as one
 * Float32Array [N × dims]; for tests and small sets. The release sums φ batch
 * by batch instead (release.ts classStatistic) and never holds all of it.
 */
export function embedBytes(embedding: Embedding, bytes: Uint8Array, count: number): Float32Array {
  const { height, width, channels } = embedding.image;
  const per = height * width * channels;
  const out = new Float32Array(count * embedding.dims);
  const batch = 256;
  for (let s = 0; s < count; s += batch) {
    const n = Math.min(batch, count - s);
    const rows = tf.tidy(() =>
      embedding.embed(
        tf.div(
          tf.tensor4d(Float32Array.from(bytes.subarray(s * per, (s + n) * per)), [
            n,
            height,
            width,
            channels,
          ]),
          255,
        ),
      ),
    );
    out.set(rows.dataSync() as Float32Array, s * embedding.dims);
    rows.dispose();
  }
  return out;
}
