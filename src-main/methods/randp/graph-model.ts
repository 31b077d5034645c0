/**
 * A released `randp` classifier as one TensorFlow.js graph model (the format
 * tfjs-converter writes: `model.json` with a GraphDef in JSON, and a weights
 * file), from pixels to class probabilities: the prior's convolutions, the
 * grid pooling of the read-out, the per-record operations and the linear
 * model with the public whitening folded in. Anyone can then run it offline
 * with TensorFlow.js alone (`tf.loadGraphModel`, `tf.loadGraphModelSync`),
 * without DP² Studio or its prior.
 *
 * Every operation is a stock TensorFlow op the converter's executor runs
 * (`_FusedConv2D` with BiasAdd and Relu, as the converter itself emits for a
 * convolution, bias and ReLU), computing what priors/network/feature-net.ts
 * and normalise.ts compute (a test compares them).
 */
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../contract/errors';
import { networkSize } from '../../priors/features';
import { convSpecs, featureLayers } from '../../priors/network/architecture';
import {
  featureCount,
  gridPoolWeights,
  type FeatureReadout,
} from '../../priors/network/feature-net';
import type { FeatureNetSpec } from '../../priors/network/architecture';
import type { LinearModel } from './dp-linear';
import type { PerRecordOptions } from './normalise';

/** The graph's input node: images [N, H, W, C], float32 pixel values 0–255. */
export const GRAPH_INPUT = 'images';
/** The graph's output node: class probabilities [N, K]. */
export const GRAPH_OUTPUT = 'prob';

/** The prior's weights as plain arrays (kernels [3, 3, in, out] row-major, biases [out]). */
export interface PriorWeights {
  spec: FeatureNetSpec;
  kernels: Float32Array[];
  biases: Float32Array[];
}

/** What the graph is built from: all public or noised. */
export interface ClassifierGraphInput {
  prior: PriorWeights;
  readout: FeatureReadout;
  perRecord: PerRecordOptions;
  /** The linear model on the per-record features (whitening folded in). */
  model: LinearModel;
  image: { height: number; width: number; channels: number };
  /** Stored in the model's metadata (`model.metadata.classes`). */
  classes: readonly string[];
  /** `generatedBy` of model.json. */
  software: string;
}

/** `model.json` of a graph model (the subset of tfjs' ModelJSON this writes). */
export interface GraphModelJson {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: {
    node: GraphNode[];
    library: Record<string, never>;
    versions: { producer: number };
  };
  weightsManifest: {
    paths: string[];
    weights: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  }[];
  userDefinedMetadata: { classes: string[]; input: string; output: string };
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const FLOAT = { type: 'DT_FLOAT' };
const ints = (v: readonly number[]) => ({ list: { i: v.map(String) } });
const dims = (shape: readonly number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });

/** Accumulates nodes and the constant tensors of one weights file. */
class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly specs: GraphModelJson['weightsManifest'][0]['weights'] = [];
  private readonly chunks: Uint8Array[] = [];

  private addConst(
    name: string,
    bytes: Uint8Array,
    shape: number[],
    dtype: 'float32' | 'int32',
  ): string {
    const type = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({
      name,
      op: 'Const',
      attr: { dtype: { type }, value: { tensor: { dtype: type, tensorShape: dims(shape) } } },
    });
    this.specs.push({ name, shape, dtype });
    this.chunks.push(bytes);
    return name;
  }

  floats(name: string, values: Float32Array | readonly number[], shape: number[]): string {
    const a = Float32Array.from(values);
    return this.addConst(name, new Uint8Array(a.buffer), shape, 'float32');
  }

  int32s(name: string, values: readonly number[]): string {
    const a = Int32Array.from(values);
    return this.addConst(
      name,
      new Uint8Array(a.buffer),
      values.length === 1 ? [] : [values.length],
      'int32',
    );
  }

  op(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  weightData(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}

/** The stem's kernel summed over its three input channels: the same convolution of a grey image repeated to RGB. */
function greyStem(kernel: Float32Array, out: number): Float32Array {
  const k = new Float32Array(9 * out);
  for (let p = 0; p < 9; p++) {
    for (let c = 0; c < 3; c++) {
      for (let o = 0; o < out; o++)
        k[p * out + o] = (k[p * out + o] as number) + (kernel[(p * 3 + c) * out + o] as number);
    }
  }
  return k;
}

/**
 * The classifier as a graph model: `model.json` (as an object) and the bytes
 * of its weights file (`weightsFile`, float32 and int32 little-endian).
 * Input: images [N, H, W, C] of the training images' size and channels,
 * float32 0–255; output: probabilities [N, K].
 * @throws UserError when the parts do not fit together (another prior or read-out).
 */
export function classifierGraph(
  input: ClassifierGraphInput,
  weightsFile: string,
): { json: GraphModelJson; weights: Uint8Array } {
  const { prior, readout, perRecord, model, image } = input;
  const spec = prior.spec;
  const d = featureCount(spec, readout);
  if (d !== model.dims) {
    throw new UserError(
      'CORRUPT_DATA',
      `The prior gives ${d} features per image, the classifier takes ${model.dims}: it was made with another prior.`,
    );
  }
  const g = new GraphBuilder();
  const { height, width, channels } = image;
  g.nodes.push({
    name: GRAPH_INPUT,
    op: 'Placeholder',
    attr: { dtype: FLOAT, shape: { shape: dims([-1, height, width, channels]) } },
  });

  // Pixels to [0, 1], resized into the prior's range as extractFeatures does, then to [−1, 1].
  let x = g.op('unit', 'Mul', [GRAPH_INPUT, g.floats('unit/scale', [1 / 255], [])], { T: FLOAT });
  const size = networkSize(height, width);
  if (size.height !== height || size.width !== width) {
    x = g.op('resize', 'ResizeBilinear', [x, g.int32s('resize/size', [size.height, size.width])], {
      T: FLOAT,
      align_corners: { b: true },
      half_pixel_centers: { b: false },
    });
  }
  x = g.op('centred', 'Mul', [x, g.floats('centred/scale', [2], [])], { T: FLOAT });
  x = g.op('network_input', 'Sub', [x, g.floats('centred/shift', [1], [])], { T: FLOAT });

  // The prior's convolutions (folded batch normalisation: kernel, bias, ReLU).
  const convs = convSpecs(spec);
  const names = featureLayers(spec);
  const deepest = Math.max(...readout.layers.map((l) => names.indexOf(l) + 1));
  const mapSide = { h: size.height, w: size.width };
  const conv = (i: number, h: string): string => {
    const c = convs[i]!;
    const grey = i === 0 && channels === 1;
    const kernel = grey ? greyStem(prior.kernels[0]!, c.outChannels) : prior.kernels[i]!;
    const name = `prior/${c.name}`;
    const w = g.floats(`${name}/kernel`, kernel, [3, 3, grey ? 1 : c.inChannels, c.outChannels]);
    const b = g.floats(`${name}/bias`, prior.biases[i]!, [c.outChannels]);
    return g.op(name, '_FusedConv2D', [h, w, b], {
      T: FLOAT,
      num_args: { i: '1' },
      fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } },
      strides: ints([1, c.stride, c.stride, 1]),
      padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') },
      dilations: ints([1, 1, 1, 1]),
      epsilon: { f: 0 },
    });
  };
  const stride = (s: number): void => {
    mapSide.h = Math.ceil(mapSide.h / s);
    mapSide.w = Math.ceil(mapSide.w / s);
  };
  let h = conv(0, x);
  stride(spec.stemStride);
  const stages: { name: string; h: number; w: number; c: number }[] = [];
  for (let k = 1; k <= deepest; k++) {
    h = conv(2 * k - 1, h);
    stride(2);
    h = g.op(`prior/stage${k}`, 'AddV2', [h, conv(2 * k, h)], { T: FLOAT });
    stages.push({ name: h, ...mapSide, c: convs[2 * k]!.outChannels });
  }

  // The read-out: each layer's maps averaged over a grid of regions, channel-major.
  const grid = readout.grid;
  const parts = readout.layers.map((layer) => {
    const s = stages[names.indexOf(layer)]!;
    const p = `features/${layer}`;
    if (grid === 1) {
      return g.op(p, 'Mean', [s.name, g.int32s(`${p}/axes`, [1, 2])], {
        T: FLOAT,
        keep_dims: { b: false },
      });
    }
    const pool = gridPoolWeights(s.h, s.w, grid);
    const flat = g.op(
      `${p}/flat`,
      'Reshape',
      [s.name, g.int32s(`${p}/flat/shape`, [-1, s.h * s.w, s.c])],
      { T: FLOAT },
    );
    const perChannel = g.op(
      `${p}/per_channel`,
      'Transpose',
      [flat, g.int32s(`${p}/perm`, [0, 2, 1])],
      { T: FLOAT },
    );
    const rows = g.op(
      `${p}/rows`,
      'Reshape',
      [perChannel, g.int32s(`${p}/rows/shape`, [-1, s.h * s.w])],
      { T: FLOAT },
    );
    const pooled = g.op(
      `${p}/pooled`,
      'MatMul',
      [rows, g.floats(`${p}/grid`, pool, [s.h * s.w, grid * grid])],
      {
        T: FLOAT,
        transpose_a: { b: false },
        transpose_b: { b: false },
      },
    );
    return g.op(p, 'Reshape', [pooled, g.int32s(`${p}/shape`, [-1, s.c * grid * grid])], {
      T: FLOAT,
    });
  });
  const concat = (name: string, list: string[]): string =>
    list.length === 1
      ? list[0]!
      : g.op(name, 'ConcatV2', [...list, g.int32s(`${name}/axis`, [1])], {
          T: FLOAT,
          N: { i: String(list.length) },
        });
  let f = concat('features', parts);

  // Per-record operations (normalise.ts perRecordTransform): the features are
  // averages of ReLU outputs, never negative, so sign(x)·|x|^p is x^p.
  if (perRecord.power !== undefined && perRecord.power !== 1) {
    f = g.op('features/power', 'Pow', [f, g.floats('features/power/p', [perRecord.power], [])], {
      T: FLOAT,
    });
  }
  if (perRecord.groups) {
    const groups = perRecord.groups;
    if (groups.reduce((a, b) => a + b, 0) !== d) {
      throw new UserError(
        'CORRUPT_DATA',
        `The feature groups add up to ${groups.reduce((a, b) => a + b, 0)} features, but the prior gives ${d}.`,
      );
    }
    let start = 0;
    const blocks = groups.map((size, i) => {
      const p = `features/group${i}`;
      const part = g.op(
        `${p}/slice`,
        'Slice',
        [f, g.int32s(`${p}/begin`, [0, start]), g.int32s(`${p}/size`, [-1, size])],
        {
          T: FLOAT,
        },
      );
      start += size;
      const axis = g.int32s(`${p}/axis`, [1]);
      const mean = g.op(`${p}/mean`, 'Mean', [part, axis], { T: FLOAT, keep_dims: { b: true } });
      const centred = g.op(`${p}/centred`, 'Sub', [part, mean], { T: FLOAT });
      const square = g.op(`${p}/square`, 'Square', [centred], { T: FLOAT });
      const variance = g.op(`${p}/variance`, 'Mean', [square, axis], {
        T: FLOAT,
        keep_dims: { b: true },
      });
      const guarded = g.op(`${p}/guarded`, 'AddV2', [variance, g.floats(`${p}/eps`, [1e-6], [])], {
        T: FLOAT,
      });
      const scale = g.op(`${p}/scale`, 'Rsqrt', [guarded], { T: FLOAT });
      return g.op(p, 'Mul', [centred, scale], { T: FLOAT });
    });
    f = concat('features/standardised', blocks);
  }

  // The linear model: logits = x·W[:D] + β·W[D], then softmax.
  const k = model.classes;
  const bias = model.weights.slice(d * k).map((v) => v * model.biasFeature);
  const logits = g.op(
    'logits',
    'MatMul',
    [f, g.floats('linear/weights', model.weights.subarray(0, d * k), [d, k])],
    {
      T: FLOAT,
      transpose_a: { b: false },
      transpose_b: { b: false },
    },
  );
  const biased = g.op('logits/biased', 'BiasAdd', [logits, g.floats('linear/bias', bias, [k])], {
    T: FLOAT,
    data_format: { s: b64('NHWC') },
  });
  g.op(GRAPH_OUTPUT, 'Softmax', [biased], { T: FLOAT });

  return {
    json: {
      format: 'graph-model',
      generatedBy: input.software,
      convertedBy: null,
      modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: [weightsFile], weights: g.specs }],
      userDefinedMetadata: {
        classes: [...input.classes],
        input: GRAPH_INPUT,
        output: GRAPH_OUTPUT,
      },
    },
    weights: g.weightData(),
  };
}

/** The folded network's weights as arrays (for {@link classifierGraph}). */
export function priorWeights(net: {
  spec: FeatureNetSpec;
  kernels: tf.Tensor[];
  biases: tf.Tensor[];
}): PriorWeights {
  return {
    spec: net.spec,
    kernels: net.kernels.map((t) => t.dataSync() as Float32Array),
    biases: net.biases.map((t) => t.dataSync() as Float32Array),
  };
}
