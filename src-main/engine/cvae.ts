/**
 * The conditional VAE of DP²-VAE (Jiang et al., arXiv 2208.03409, §2 and
 * Appendix B.1) over stacked plain-tensor parameters (params.ts): forward
 * pass, the negative ELBO and its gradients.
 *
 * For a record (x, y) with one-hot label y, encoder q_θ(z | x, y) =
 * N(μ, diag(exp(log σ²))), decoder p_φ(x | z, y) = Bernoulli(sigmoid(logits)):
 *
 *   −ELBO = E_q[−log p_φ(x | z, y)] + KL(q_θ(z | x, y) ‖ N(0, I))
 *
 * estimated with one reparameterised sample z = μ + σ ⊙ ε, ε ~ N(0, I). The
 * reconstruction term is the sigmoid cross-entropy with logits summed over
 * pixels, max(l, 0) − l·x + log(1 + e^{−|l|}); the KL term is
 * −½ Σ (1 + log σ² − μ² − σ²). Both are in nats per record.
 *
 * Every tensor carries a leading group axis G: G independent models, each
 * with its own batch, computed by 3-D batched matmuls `[G, B, in] × [G, in, out]`.
 */
import * as tf from '@tensorflow/tfjs';
import {
  convBottleneck,
  imageSize,
  type Architecture,
  type ConvCvaeArchitecture,
} from './architecture';

/** One training batch for G models. */
export interface CvaeBatch {
  /** [G, B, D] pixel intensities in [0, 1] (row-major H×W×C per record). */
  x: tf.Tensor3D;
  /** [G, B, classes] one-hot labels. */
  y: tf.Tensor3D;
  /** [G, B] 1 for a real record, 0 for padding (blocks smaller than the batch). */
  mask: tf.Tensor2D;
  /** [G, B, latent] standard normal reparameterisation noise. */
  eps: tf.Tensor3D;
}

/** Per-model mean loss terms, each [G]. */
export interface LossTerms {
  recon: tf.Tensor1D;
  kl: tf.Tensor1D;
}

function denseLayer(h: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const g = w.shape[0] as number;
  const out = w.shape[2] as number;
  return tf.add(tf.matMul(h, w as tf.Tensor3D), tf.reshape(b, [g, 1, out]));
}

function take(params: readonly tf.Tensor[], i: number): tf.Tensor {
  const t = params[i];
  if (!t) throw new RangeError(`Missing parameter ${i}.`);
  return t;
}

/** Encoder forward pass: (μ, log σ²), each [G, B, latent]. */
export function encode(
  arch: Architecture,
  enc: readonly tf.Tensor[],
  x: tf.Tensor3D,
  y: tf.Tensor3D,
): { mu: tf.Tensor3D; logvar: tf.Tensor3D } {
  let h: tf.Tensor3D;
  let p = 0;
  if (arch.kind === 'mlp-cvae') {
    h = tf.concat([x, y], 2);
    for (let i = 0; i < arch.encoderHidden.length; i++) {
      h = tf.relu(denseLayer(h, take(enc, p), take(enc, p + 1)));
      p += 2;
    }
  } else {
    const feats = convEncoderFeatures(arch, enc, x);
    p = 2 * arch.convChannels.length;
    h = tf.relu(denseLayer(tf.concat([feats, y], 2), take(enc, p), take(enc, p + 1)));
    p += 2;
  }
  const out = denseLayer(h, take(enc, p), take(enc, p + 1));
  const [mu, logvar] = tf.split(out, 2, 2) as [tf.Tensor3D, tf.Tensor3D];
  return { mu, logvar };
}

/** Decoder forward pass: Bernoulli logits [G, B, D]. */
export function decodeLogits(
  arch: Architecture,
  dec: readonly tf.Tensor[],
  z: tf.Tensor3D,
  y: tf.Tensor3D,
): tf.Tensor3D {
  let h: tf.Tensor3D = tf.concat([z, y], 2);
  if (arch.kind === 'mlp-cvae') {
    let p = 0;
    for (let i = 0; i < arch.decoderHidden.length; i++) {
      h = tf.relu(denseLayer(h, take(dec, p), take(dec, p + 1)));
      p += 2;
    }
    return denseLayer(h, take(dec, p), take(dec, p + 1));
  }
  h = tf.relu(denseLayer(h, take(dec, 0), take(dec, 1)));
  h = tf.relu(denseLayer(h, take(dec, 2), take(dec, 3)));
  return convDecoderPixels(arch, dec, h);
}

/**
 * tf.unstack along the group axis. For G = 1 it is a reshape instead: tfjs 4.22
 * hands the gradient of a one-output Unpack to `stack` as a bare tensor and fails.
 */
function unstackGroup(t: tf.Tensor): tf.Tensor[] {
  return t.shape[0] === 1 ? [tf.reshape(t, t.shape.slice(1))] : tf.unstack(t);
}

/**
 * Conv encoder trunk for G models: a loop over the group (tfjs has no grouped
 * convolution), stride-2 'same' convolutions with ReLU; returns flattened
 * features [G, B, F].
 */
function convEncoderFeatures(
  arch: ConvCvaeArchitecture,
  enc: readonly tf.Tensor[],
  x: tf.Tensor3D,
): tf.Tensor3D {
  const [g, b] = x.shape;
  const { height, width, channels } = arch.image;
  const perModel: tf.Tensor[] = [];
  const xs = unstackGroup(x);
  const ws = arch.convChannels.map((_, i) => unstackGroup(take(enc, 2 * i)));
  const bs = arch.convChannels.map((_, i) => unstackGroup(take(enc, 2 * i + 1)));
  for (let m = 0; m < g; m++) {
    let h = tf.reshape(xs[m] as tf.Tensor, [b, height, width, channels]) as tf.Tensor4D;
    arch.convChannels.forEach((_, i) => {
      const w = (ws[i] as tf.Tensor[])[m] as tf.Tensor4D;
      const bias = (bs[i] as tf.Tensor[])[m] as tf.Tensor1D;
      h = tf.relu(tf.add(tf.conv2d(h, w, 2, 'same'), bias));
    });
    perModel.push(tf.reshape(h, [b, -1]));
  }
  return tf.stack(perModel) as tf.Tensor3D;
}

/** Conv decoder head for G models: dense features [G, B, F] → logits [G, B, D]. */
function convDecoderPixels(
  arch: ConvCvaeArchitecture,
  dec: readonly tf.Tensor[],
  h: tf.Tensor3D,
): tf.Tensor3D {
  const [g, b] = h.shape;
  const bottleneck = convBottleneck(arch);
  const layers = arch.convChannels.length;
  const hs = unstackGroup(h);
  const ws = Array.from({ length: layers }, (_, i) => unstackGroup(take(dec, 4 + 2 * i)));
  const bs = Array.from({ length: layers }, (_, i) => unstackGroup(take(dec, 5 + 2 * i)));
  const perModel: tf.Tensor[] = [];
  for (let m = 0; m < g; m++) {
    let a = tf.reshape(hs[m] as tf.Tensor, [
      b,
      bottleneck.height,
      bottleneck.width,
      bottleneck.channels,
    ]) as tf.Tensor4D;
    for (let i = 0; i < layers; i++) {
      const w = (ws[i] as tf.Tensor[])[m] as tf.Tensor4D;
      const bias = (bs[i] as tf.Tensor[])[m] as tf.Tensor1D;
      const outC = w.shape[2];
      const [, ih, iw] = a.shape;
      const pre = tf.add(tf.conv2dTranspose(a, w, [b, ih * 2, iw * 2, outC], 2, 'same'), bias);
      a = (i + 1 < layers ? tf.relu(pre) : pre) as tf.Tensor4D;
    }
    perModel.push(tf.reshape(a, [b, imageSize(arch)]));
  }
  return tf.stack(perModel) as tf.Tensor3D;
}

/**
 * Bernoulli negative log-likelihood of x under sigmoid(logits), element-wise:
 * the sigmoid cross-entropy in its numerically stable form
 * max(l, 0) − l·x + log(1 + e^−|l|).
 */
export function sigmoidCrossEntropy(logits: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.add(
    tf.sub(tf.relu(logits), tf.mul(logits, x)),
    tf.log1p(tf.exp(tf.neg(tf.abs(logits)))),
  );
}

/**
 * KL(N(μ, diag e^{log σ²}) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − e^{log σ²}),
 * summed over `axis` (Kingma and Welling 2014, Appendix B).
 */
export function gaussianKl(mu: tf.Tensor, logvar: tf.Tensor, axis: number): tf.Tensor {
  return tf.mul(
    tf.sum(tf.sub(tf.sub(tf.add(logvar, 1), tf.square(mu)), tf.exp(logvar)), axis),
    -0.5,
  );
}

/**
 * Per-model masked means of the two terms of −ELBO (nats per record), each [G].
 * Padding rows (mask 0) contribute nothing.
 */
export function lossTerms(
  arch: Architecture,
  enc: readonly tf.Tensor[],
  dec: readonly tf.Tensor[],
  batch: CvaeBatch,
): LossTerms {
  const { mu, logvar } = encode(arch, enc, batch.x, batch.y);
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), batch.eps));
  const logits = decodeLogits(arch, dec, z as tf.Tensor3D, batch.y);
  const reconPer = tf.sum(sigmoidCrossEntropy(logits, batch.x), 2); // [G, B]
  const klPer = gaussianKl(mu, logvar, 2); // [G, B]
  const count = tf.maximum(tf.sum(batch.mask, 1), 1);
  return {
    recon: tf.div(tf.sum(tf.mul(reconPer, batch.mask), 1), count) as tf.Tensor1D,
    kl: tf.div(tf.sum(tf.mul(klPer, batch.mask), 1), count) as tf.Tensor1D,
  };
}

/** Gradients of the per-model mean −ELBO, and the loss terms they came from. */
export interface ElboGradients {
  /** Gradients for each encoder parameter ([G, ...]), or null when not requested. */
  encoder: tf.Tensor[] | null;
  /** Gradients for each decoder parameter ([G, ...]), or null when not requested. */
  decoder: tf.Tensor[] | null;
  /** Per-model reconstruction term (nats/record). */
  recon: Float32Array;
  /** Per-model KL term (nats/record). */
  kl: Float32Array;
}

/**
 * Gradients of Σ_g mean_b(−ELBO_g) with respect to the requested parameter
 * sets (tf.valueAndGrads). Because the G models share nothing, the gradient
 * slice g is exactly model g's gradient of its own batch-mean loss.
 */
export function elboGradients(
  arch: Architecture,
  enc: readonly tf.Tensor[],
  dec: readonly tf.Tensor[],
  batch: CvaeBatch,
  wrt: { encoder: boolean; decoder: boolean },
): ElboGradients {
  if (!wrt.encoder && !wrt.decoder) throw new RangeError('Nothing to differentiate.');
  const xs = [...(wrt.encoder ? enc : []), ...(wrt.decoder ? dec : [])];
  let kept: LossTerms | undefined;
  const f = (...args: tf.Tensor[]): tf.Scalar => {
    const e = wrt.encoder ? args.slice(0, enc.length) : enc;
    const d = wrt.decoder ? args.slice(wrt.encoder ? enc.length : 0) : dec;
    const terms = lossTerms(arch, e, d, batch);
    kept = { recon: tf.keep(terms.recon), kl: tf.keep(terms.kl) };
    return tf.sum(tf.add(terms.recon, terms.kl));
  };
  const { value, grads } = tf.valueAndGrads(f)(xs);
  value.dispose();
  const terms = kept as LossTerms;
  const recon = terms.recon.dataSync() as Float32Array;
  const kl = terms.kl.dataSync() as Float32Array;
  terms.recon.dispose();
  terms.kl.dispose();
  return {
    encoder: wrt.encoder ? grads.slice(0, enc.length) : null,
    decoder: wrt.decoder ? grads.slice(wrt.encoder ? enc.length : 0) : null,
    recon: Float32Array.from(recon),
    kl: Float32Array.from(kl),
  };
}
