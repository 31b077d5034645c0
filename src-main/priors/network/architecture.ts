/**
 * The random-process prior's feature network (issue #18): a small, fully
 * convolutional residual network, so one set of weights serves images of any
 * side from 28 to 128 pixels, grey or colour (grey is repeated into three
 * channels).
 *
 * Layout, for widths [w₀, w₁, w₂, w₃] (every convolution 3×3, 'same'
 * padding, followed by batch normalisation and ReLU):
 *
 *   stem     3 → w₀, stride `stemStride`
 *   stage k  (k = 1…): w₍ₖ₋₁₎ → wₖ with stride 2, then a residual
 *            convolution wₖ → wₖ added to its input (He et al., CVPR 2016)
 *
 * Stage k's output is the layer called `stage<k>`. A 28×28 image with the
 * default settings passes through 14×14, 7×7 and 4×4 maps. Batch
 * normalisation is used only while pre-training: afterwards its statistics
 * are folded into the convolutions (feature-net.ts), so the shipped network
 * is convolutions with biases and ReLUs.
 */

/** Settings of the feature network. */
export interface FeatureNetSpec {
  /** Channels of the stem, then of each stage (2 to 5 numbers). */
  widths: readonly number[];
  /** Stride of the stem convolution (1 or 2). */
  stemStride: 1 | 2;
}

/** The network the shipped prior uses (chosen by measurement, docs/priors.md). */
export const DEFAULT_FEATURE_NET: FeatureNetSpec = { widths: [16, 32, 64, 128], stemStride: 1 };

/** Most parameters a prior may have (issue #18: it must run on a laptop CPU). */
export const MAX_PRIOR_PARAMETERS = 3_000_000;

/** One convolution of the network. */
export interface ConvSpec {
  /** Name of the convolution: `stem`, `stage<k>.down`, `stage<k>.res`. */
  name: string;
  inChannels: number;
  outChannels: number;
  stride: 1 | 2;
}

/** The convolutions of `spec`, in the order the network applies them. */
export function convSpecs(spec: FeatureNetSpec): ConvSpec[] {
  const w = spec.widths;
  const convs: ConvSpec[] = [
    { name: 'stem', inChannels: 3, outChannels: w[0] as number, stride: spec.stemStride },
  ];
  for (let k = 1; k < w.length; k++) {
    const c = w[k] as number;
    convs.push({
      name: `stage${k}.down`,
      inChannels: w[k - 1] as number,
      outChannels: c,
      stride: 2,
    });
    convs.push({ name: `stage${k}.res`, inChannels: c, outChannels: c, stride: 1 });
  }
  return convs;
}

/** Names of the layers whose activations are features: `stage1`, `stage2`, … */
export function featureLayers(spec: FeatureNetSpec): string[] {
  return spec.widths.slice(1).map((_, i) => `stage${i + 1}`);
}

/** Channels of feature layer `stage<k>`. */
export function layerChannels(spec: FeatureNetSpec, layer: string): number {
  const k = featureLayers(spec).indexOf(layer);
  if (k < 0) throw new Error(`The feature network has no layer "${layer}".`);
  return spec.widths[k + 1] as number;
}

/** Parameters of the folded network (weights and biases of every convolution). */
export function parameterCount(spec: FeatureNetSpec): number {
  return convSpecs(spec).reduce((n, c) => n + 9 * c.inChannels * c.outChannels + c.outChannels, 0);
}

/** Throws in plain words if `spec` is not a network this module can build. */
export function checkFeatureNetSpec(spec: FeatureNetSpec): void {
  const w = spec.widths;
  if (!Array.isArray(w) || w.length < 2 || w.length > 5) {
    throw new Error('The feature network needs 2 to 5 widths (the stem, then each stage).');
  }
  for (const c of w) {
    if (!Number.isInteger(c) || c < 1 || c > 512) {
      throw new Error(
        `A width of the feature network is ${String(c)}; use whole numbers 1 to 512.`,
      );
    }
  }
  if (spec.stemStride !== 1 && spec.stemStride !== 2) {
    throw new Error('The stem stride of the feature network is 1 or 2.');
  }
  if (parameterCount(spec) > MAX_PRIOR_PARAMETERS) {
    throw new Error(
      `The feature network would have ${parameterCount(spec)} parameters; at most ${MAX_PRIOR_PARAMETERS}.`,
    );
  }
}
