/**
 * Model architectures as data: a JSON-serialisable description stored with
 * every run, from which parameter shapes, initialisation and the forward pass
 * are derived (cvae.ts). Two families:
 *
 * - `mlp-cvae`: the conditional VAE of DP²-VAE's Appendix B.1 (Jiang et al.,
 *   arXiv 2208.03409) for 28×28×1 MNIST: encoder (784+10)→512→256→(μ, log σ²)
 *   with 8 latent dimensions; decoder (8+10)→256→512→784; ReLU; Bernoulli
 *   likelihood with sigmoid logits.
 * - `conv-cvae`: a modest convolutional family for 32, 64 and 128-pixel grey
 *   or colour images (stride-2 4×4 convolutions down, a dense bottleneck,
 *   stride-2 transposed convolutions up; label one-hot concatenated to the
 *   flattened features and to z). The number of down-sampling layers grows
 *   with the side so the bottleneck stays 8×8×64 (4 096 features) and the
 *   dense layers, which hold most parameters, stay the same size: 32 px two
 *   layers, 64 px three, 128 px four (2.2 to 2.45 M parameters in all).
 */
import { UserError } from '../contract/errors';

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

interface CommonArchitecture {
  /** Format version of this description. */
  version: 1;
  image: ImageShape;
  /** Number of classes (the one-hot condition). */
  classes: number;
  /** Latent dimensions. */
  latent: number;
  activation: 'relu';
  /** p(x | z, y): independent Bernoulli per pixel intensity in [0, 1], sigmoid logits. */
  likelihood: 'bernoulli';
}

export interface MlpCvaeArchitecture extends CommonArchitecture {
  kind: 'mlp-cvae';
  /** Hidden widths of the encoder, input side first. */
  encoderHidden: number[];
  /** Hidden widths of the decoder, latent side first. */
  decoderHidden: number[];
}

export interface ConvCvaeArchitecture extends CommonArchitecture {
  kind: 'conv-cvae';
  /** Output channels of the stride-2 convolutions of the encoder (mirrored in the decoder). */
  convChannels: number[];
  /** Square kernel size of every (transposed) convolution. */
  kernelSize: number;
  /** Width of the dense layer between the convolutional features and (μ, log σ²) / z. */
  hidden: number;
}

export type Architecture = MlpCvaeArchitecture | ConvCvaeArchitecture;
export type ModelPart = 'encoder' | 'decoder';

/** Shape and initialisation of one parameter tensor (for a single model, no group axis). */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Glorot-uniform for weights (limit √(6 / (fanIn + fanOut))), zeros for biases. */
  init: 'glorot-uniform' | 'zeros';
  fanIn: number;
  fanOut: number;
}

/** The default model: Appendix B.1's conditional VAE for 28×28×1 images and 10 classes. */
export function defaultArchitecture(classes = 10): MlpCvaeArchitecture {
  return {
    kind: 'mlp-cvae',
    version: 1,
    image: { height: 28, width: 28, channels: 1 },
    classes,
    latent: 8,
    encoderHidden: [512, 256],
    decoderHidden: [256, 512],
    activation: 'relu',
    likelihood: 'bernoulli',
  };
}

/**
 * Stride-2 layers of the convolutional family for images of this shape: two
 * below 64 pixels, three below 128, four from 128 on, so 32, 64 and 128-pixel
 * images all reach an 8×8 bottleneck. Runs store their architecture, so a
 * run made before a size gained a layer keeps its own (parseArchitecture).
 */
export function convDepthFor(image: ImageShape): number {
  const side = Math.max(image.height, image.width);
  return side >= 128 ? 4 : side >= 64 ? 3 : 2;
}

/**
 * The convolutional variant for this image shape: `convDepthFor` stride-2
 * layers of 32, 64, 64, 64 channels; any side divisible by 2^layers works.
 */
export function convArchitecture(image: ImageShape, classes = 10): ConvCvaeArchitecture {
  const convChannels = [32, 64, 64, 64].slice(0, convDepthFor(image));
  const arch: ConvCvaeArchitecture = {
    kind: 'conv-cvae',
    version: 1,
    image: { ...image },
    classes,
    latent: 16,
    convChannels,
    kernelSize: 4,
    hidden: 256,
    activation: 'relu',
    likelihood: 'bernoulli',
  };
  return parseArchitecture(arch) as ConvCvaeArchitecture;
}

/** Pixels × channels of one image: the size of x and of the decoder's output. */
export function imageSize(arch: Architecture): number {
  return arch.image.height * arch.image.width * arch.image.channels;
}

/** Spatial size of the conv variant's bottleneck feature map. */
export function convBottleneck(arch: ConvCvaeArchitecture): ImageShape {
  const f = 2 ** arch.convChannels.length;
  return {
    height: arch.image.height / f,
    width: arch.image.width / f,
    channels: arch.convChannels[arch.convChannels.length - 1] as number,
  };
}

function dense(name: string, nIn: number, nOut: number): ParamSpec[] {
  return [
    { name: `${name}.w`, shape: [nIn, nOut], init: 'glorot-uniform', fanIn: nIn, fanOut: nOut },
    { name: `${name}.b`, shape: [nOut], init: 'zeros', fanIn: nIn, fanOut: nOut },
  ];
}

/**
 * Parameter tensors of the encoder or decoder, in the fixed order used by the
 * forward pass, optimiser state, checkpoints and the flattened gradient vector.
 */
export function parameterSpecs(arch: Architecture, part: ModelPart): ParamSpec[] {
  const d = imageSize(arch);
  const specs: ParamSpec[] = [];
  if (arch.kind === 'mlp-cvae') {
    const widths =
      part === 'encoder'
        ? [d + arch.classes, ...arch.encoderHidden, 2 * arch.latent]
        : [arch.latent + arch.classes, ...arch.decoderHidden, d];
    const prefix = part === 'encoder' ? 'enc' : 'dec';
    for (let i = 0; i + 1 < widths.length; i++) {
      const name = i + 2 === widths.length ? `${prefix}.out` : `${prefix}.fc${i}`;
      specs.push(...dense(name, widths[i] as number, widths[i + 1] as number));
    }
    return specs;
  }
  const k = arch.kernelSize;
  const bottleneck = convBottleneck(arch);
  const flat = bottleneck.height * bottleneck.width * bottleneck.channels;
  if (part === 'encoder') {
    let cin = arch.image.channels;
    arch.convChannels.forEach((cout, i) => {
      specs.push(
        {
          name: `enc.conv${i}.w`,
          shape: [k, k, cin, cout],
          init: 'glorot-uniform',
          fanIn: k * k * cin,
          fanOut: k * k * cout,
        },
        {
          name: `enc.conv${i}.b`,
          shape: [cout],
          init: 'zeros',
          fanIn: k * k * cin,
          fanOut: k * k * cout,
        },
      );
      cin = cout;
    });
    specs.push(...dense('enc.fc0', flat + arch.classes, arch.hidden));
    specs.push(...dense('enc.out', arch.hidden, 2 * arch.latent));
    return specs;
  }
  specs.push(...dense('dec.fc0', arch.latent + arch.classes, arch.hidden));
  specs.push(...dense('dec.fc1', arch.hidden, flat));
  // Transposed convolutions, bottleneck first; tfjs filter layout [k, k, out, in].
  const chans = [...arch.convChannels].reverse();
  for (let i = 0; i < chans.length; i++) {
    const cin = chans[i] as number;
    const cout = i + 1 < chans.length ? (chans[i + 1] as number) : arch.image.channels;
    specs.push(
      {
        name: `dec.deconv${i}.w`,
        shape: [k, k, cout, cin],
        init: 'glorot-uniform',
        fanIn: k * k * cin,
        fanOut: k * k * cout,
      },
      {
        name: `dec.deconv${i}.b`,
        shape: [cout],
        init: 'zeros',
        fanIn: k * k * cin,
        fanOut: k * k * cout,
      },
    );
  }
  return specs;
}

/** Number of scalar parameters of one encoder or decoder. */
export function parameterCount(arch: Architecture, part: ModelPart): number {
  return parameterSpecs(arch, part).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

function positiveInt(v: unknown, what: string, max = 1 << 20): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new UserError(
      'INVALID_INPUT',
      `The model description has an invalid ${what}: ${String(v)}.`,
    );
  }
  return v;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 8) {
    throw new UserError('INVALID_INPUT', `The model description needs 1 to 8 ${what}.`);
  }
  return v.map((x) => positiveInt(x, what, 8192));
}

/**
 * Checks a stored or user-supplied description and returns a clean copy.
 * Throws `UserError('INVALID_INPUT' | 'UNSUPPORTED')` in plain words.
 */
export function parseArchitecture(value: unknown): Architecture {
  if (typeof value !== 'object' || value === null) {
    throw new UserError('INVALID_INPUT', 'The model description is missing or not an object.');
  }
  const v = value as Record<string, unknown>;
  if (v.version !== 1) {
    throw new UserError(
      'UNSUPPORTED',
      `This version of DP² Studio cannot read model descriptions of version ${String(v.version)}.`,
    );
  }
  if (v.activation !== 'relu' || v.likelihood !== 'bernoulli') {
    throw new UserError(
      'UNSUPPORTED',
      'Only ReLU models with a Bernoulli likelihood are supported.',
    );
  }
  const img = v.image as Record<string, unknown> | undefined;
  if (typeof img !== 'object' || img === null) {
    throw new UserError('INVALID_INPUT', 'The model description lacks the image shape.');
  }
  const image: ImageShape = {
    height: positiveInt(img.height, 'image height', 4096),
    width: positiveInt(img.width, 'image width', 4096),
    channels: positiveInt(img.channels, 'number of channels', 4),
  };
  const classes = positiveInt(v.classes, 'number of classes', 1000);
  const latent = positiveInt(v.latent, 'latent size', 4096);
  if (v.kind === 'mlp-cvae') {
    return {
      kind: 'mlp-cvae',
      version: 1,
      image,
      classes,
      latent,
      encoderHidden: intList(v.encoderHidden, 'encoder widths'),
      decoderHidden: intList(v.decoderHidden, 'decoder widths'),
      activation: 'relu',
      likelihood: 'bernoulli',
    };
  }
  if (v.kind === 'conv-cvae') {
    const convChannels = intList(v.convChannels, 'convolution channel counts');
    const f = 2 ** convChannels.length;
    if (image.height % f !== 0 || image.width % f !== 0) {
      throw new UserError(
        'INVALID_INPUT',
        `A convolutional model with ${convChannels.length} down-sampling layers needs image sides divisible by ${f}; these images are ${image.height}×${image.width}.`,
      );
    }
    return {
      kind: 'conv-cvae',
      version: 1,
      image,
      classes,
      latent,
      convChannels,
      kernelSize: positiveInt(v.kernelSize, 'kernel size', 15),
      hidden: positiveInt(v.hidden, 'hidden width', 8192),
      activation: 'relu',
      likelihood: 'bernoulli',
    };
  }
  throw new UserError('UNSUPPORTED', `Unknown model kind ${String(v.kind)}.`);
}
