/**
 * Per-example gradient clipping for DP-SGD (Abadi et al. 2016) on the
 * conditional VAE of cvae.ts, encoder and decoder together: for a batch of B
 * records, the sum over records of each record's gradient of its own −ELBO
 * (all encoder and decoder parameters as ONE vector) clipped to norm C:
 *
 *   Σ_i g_i · min(1, C/‖g_i‖),   g_i = ∇_{θ,φ} −ELBO(x_i, y_i; ε_i)
 *
 * For the MLP model no per-example gradient is materialised (the "norm trick"
 * of Goodfellow 2015, as in Opacus' ghost clipping): every dense layer
 * s = a·W + b gets a zero "probe" tensor added to its pre-activation s, one
 * backward pass of Σ_i loss_i with respect to the probes gives the
 * per-example output gradients ∂L_i/∂s_i (a record only affects its own row),
 * and with the layer inputs a_i kept from the forward pass
 *
 *   ‖∇W L_i‖² = ‖a_i‖² · ‖∂L_i/∂s_i‖²,   ‖∇b L_i‖² = ‖∂L_i/∂s_i‖²,
 *
 * so ‖g_i‖² = Σ_layers (‖a_i‖² + 1)·‖∂L_i/∂s_i‖². With c_i = min(1, C/‖g_i‖)
 * the clipped sum is, per layer, ∇W = Aᵀ·(c ⊙ G) and ∇b = Σ_i c_i·G_i: one
 * product per layer, so a private step costs about what a non-private one does.
 *
 * For the conv variant the same probes give the per-example output gradients
 * of every (transposed) convolution; its per-example weight gradient is small
 * (k·k·C_in·C_out), so it is materialised from im2col patches (strided
 * slices, exact for tfjs' 'same' padding): ∇W_i = P_iᵀ·G_i for a convolution,
 * and ∇W_i = P(G_i)ᵀ·a_i for a transposed one (whose filter gradient is the
 * forward convolution's with input and output exchanged); ∇b_i = Σ_positions G_i.
 * Dense layers keep the norm trick. An exact per-record loop (one tf.grads
 * per record, {@link clippedSumLoop}) is the reference both are tested against.
 *
 * Float safety: c_i carries a 1e-5 relative margin, so float32 rounding of
 * the norm cannot let a record's contribution exceed C.
 */
import * as tf from '@tensorflow/tfjs';
import {
  convBottleneck,
  imageSize,
  type Architecture,
  type ConvCvaeArchitecture,
  type MlpCvaeArchitecture,
} from './architecture';
import { gaussianKl, lossTerms, sigmoidCrossEntropy } from './cvae';
import { logImportanceWeights, normalisedWeights, sampleRowIndex } from './importance';

/** Relative margin below C for the clip factor (covers float32 rounding of the norms). */
export const CLIP_MARGIN = 1e-5;

/** One DP-SGD batch for a single model: 2-D tensors (no group axis). */
export interface FlatBatch {
  /** [B, D] pixel intensities in [0, 1]. */
  x: tf.Tensor2D;
  /** [B, classes] one-hot labels. */
  y: tf.Tensor2D;
  /** [B, latent] reparameterisation noise ε ~ N(0, I) (data-independent, seeded). */
  eps: tf.Tensor2D;
  /**
   * Each record's own posterior (per-record encoders, posterior.ts): the
   * encoder network is not run, `params.encoder` must be empty and only the
   * decoder's per-example gradients are clipped and summed.
   */
  posterior?: { mu: tf.Tensor2D; logvar: tf.Tensor2D };
  /**
   * Fixed cotangents c_i ([B, latent]) of a batch-coupled regulariser: row i's
   * loss gets ⟨c_i, z_i⟩ added (MLP model only). This is how a per-example
   * clipper sees a coupled loss (the naive DP-SGD of termwise.ts: its
   * sensitivity grows with B).
   */
  zCotangent?: tf.Tensor2D;
  /**
   * A term added to the clipped sum without clipping (term-wise DP-SGD's
   * divergence term, termwise-terms.ts; MLP model with an encoder network):
   * from the encoder's activations of this pass, each encoder layer's
   * output gradient of the term, [B, out] per layer. Its weight gradients
   * join the clipped sum's products, one product per layer; with `apart`
   * they are returned separately (ClippedSum.added), for the tests that
   * measure each term.
   */
  added?: { outputGradients(act: EncoderActivations): tf.Tensor2D[]; apart: boolean };
  /**
   * Importance samples K per record (per-record posteriors only; default
   * 1): `eps` then has K rows per record, record-major, and each record's
   * decoder gradient is the importance-weighted one of IWAE (importance.ts),
   * still one vector per record, clipped as a whole.
   */
  samples?: number;
  /** Fixed weights of the rows' terms (set internally for importance samples). */
  rowWeights?: tf.Tensor1D;
}

/** The encoder's forward pass, as a term added after clipping needs it. */
export interface EncoderActivations {
  /** Each encoder layer's input, [B, in]. */
  inputs: readonly tf.Tensor2D[];
  /** 1 where each hidden encoder layer's pre-activation is positive, else 0, [B, width]. */
  masks: readonly tf.Tensor2D[];
  /** ∂z/∂log σ² = ½·e^{log σ²/2}·ε, [B, latent]. */
  d: tf.Tensor2D;
  /** Each encoder layer's weights W, [in, out]. */
  weights: readonly tf.Tensor2D[];
}

export interface ClippedSum {
  /** Σ_i clipped g_i, one tensor per parameter shaped like the parameter ([1, ...]); encoder (if any) then decoder. */
  grads: tf.Tensor[];
  /** The added term's gradients (FlatBatch.added, apart), one per encoder parameter. */
  added?: tf.Tensor[];
  /** ‖g_i‖ before clipping, per record. */
  norms: Float64Array;
  /** Σ_i of the −ELBO terms over the batch (nats; private figures). */
  reconSum: number;
  klSum: number;
}

/** The clip factor of a record with gradient norm `norm`: min(1, C/‖g‖) with the safety margin. */
export function clipFactor(norm: number, clip: number): number {
  if (!Number.isFinite(norm)) {
    throw new RangeError('A per-example gradient is not finite; training has diverged.');
  }
  const limit = clip * (1 - CLIP_MARGIN);
  return norm > limit ? limit / norm : 1;
}

/**
 * The clipped sum for one batch; chooses the norm trick for the MLP model and
 * the per-record loop otherwise. `params` are the encoder's then the
 * decoder's tensors, each [1, ...spec shape] (params.ts with G = 1).
 */
export function clippedSum(
  arch: Architecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  batch: FlatBatch,
  clip: number,
): ClippedSum {
  if ((batch.posterior !== undefined) !== (params.encoder.length === 0)) {
    throw new RangeError('Give either the encoder or each record’s posterior, not both.');
  }
  if (arch.kind === 'mlp-cvae') return clippedSumTrick(arch, params, batch, clip);
  if (batch.zCotangent || batch.added)
    throw new RangeError('Coupled cotangents need the MLP model.');
  return clippedSumConvTrick(arch, params, batch, clip);
}

interface Dense {
  w: tf.Tensor2D;
  b: tf.Tensor2D;
}

/** Every dense layer's (W, b) as 2-D tensors: encoder layers, then decoder layers. */
function denseLayers(
  arch: MlpCvaeArchitecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
): Dense[] {
  const all = [...params.encoder, ...params.decoder];
  const layers: Dense[] = [];
  for (let i = 0; i + 1 < all.length; i += 2) {
    const w = all[i] as tf.Tensor;
    const b = all[i + 1] as tf.Tensor;
    layers.push({
      w: tf.reshape(w, [w.shape[1] as number, w.shape[2] as number]) as tf.Tensor2D,
      b: tf.reshape(b, [1, b.size]) as tf.Tensor2D,
    });
  }
  const encoderLayers = params.encoder.length > 0 ? arch.encoderHidden.length + 1 : 0;
  if (layers.length !== encoderLayers + arch.decoderHidden.length + 1) {
    throw new RangeError('The parameters do not match the architecture.');
  }
  return layers;
}

/** Per-record −ELBO terms ([B] each) of the MLP CVAE, with probes on every pre-activation. */
function forwardWithProbes(
  arch: MlpCvaeArchitecture,
  layers: readonly Dense[],
  batch: FlatBatch,
  probes: readonly tf.Tensor[],
  inputs: tf.Tensor2D[],
): { recon: tf.Tensor1D; kl: tf.Tensor1D; coupled?: tf.Tensor1D } {
  const nEnc = arch.encoderHidden.length + 1;
  let l = 0;
  const dense = (h: tf.Tensor2D, relu: boolean): tf.Tensor2D => {
    const layer = layers[l] as Dense;
    inputs.push(h);
    const s = tf.add(tf.add(tf.matMul(h, layer.w), layer.b), probes[l] as tf.Tensor);
    l++;
    return (relu ? tf.relu(s) : s) as tf.Tensor2D;
  };
  const { mu, logvar } = batch.posterior ?? encodeDense();
  function encodeDense(): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    let e = tf.concat([batch.x, batch.y], 1) as tf.Tensor2D;
    for (let i = 0; i + 1 < nEnc; i++) e = dense(e, true);
    const [m, lv] = tf.split(dense(e, false), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu: m, logvar: lv };
  }
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), batch.eps)) as tf.Tensor2D;
  let h = tf.concat([z, batch.y], 1) as tf.Tensor2D;
  for (let i = 0; i < arch.decoderHidden.length; i++) h = dense(h, true);
  const logits = dense(h, false);
  const { recon, kl } = weighted(batch, {
    recon: tf.sum(sigmoidCrossEntropy(logits, batch.x), 1) as tf.Tensor1D,
    kl: gaussianKl(mu, logvar, 1) as tf.Tensor1D,
  });
  if (batch.zCotangent) {
    return { recon, kl, coupled: tf.sum(tf.mul(z, batch.zCotangent), 1) as tf.Tensor1D };
  }
  return { recon, kl };
}

function sumOf(t: tf.Tensor): number {
  const v = t.dataSync();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  return s;
}

/** What one backward pass to the probes gives: each layer's input and per-record output gradient. */
interface ProbedPass<I extends tf.Tensor> {
  /** outGrads[l]: ∂(Σ_i loss_i)/∂probe_l, i.e. row i is record i's gradient at layer l's output. */
  outGrads: tf.Tensor[];
  /** inputs[l]: layer l's input activations (kept alive until `dispose`). */
  inputs: I[];
  reconSum: number;
  klSum: number;
  dispose(): void;
}

/**
 * Runs `forward` with zero probes added to every layer's pre-activation and
 * differentiates the summed loss with respect to the probes (the shared
 * first half of both norm tricks). The caller disposes the result.
 */
function probedPass<I extends tf.Tensor>(
  probes: tf.Tensor[],
  forward: (
    ps: readonly tf.Tensor[],
    inputs: I[],
  ) => { recon: tf.Tensor1D; kl: tf.Tensor1D; coupled?: tf.Tensor1D },
): ProbedPass<I> {
  let kept: { inputs: I[]; recon: tf.Tensor1D; kl: tf.Tensor1D } | null = null;
  const f = (...ps: tf.Tensor[]): tf.Scalar => {
    const inputs: I[] = [];
    const terms = forward(ps, inputs);
    kept = {
      inputs: inputs.map((t) => tf.keep(t)),
      recon: tf.keep(terms.recon),
      kl: tf.keep(terms.kl),
    };
    const own: tf.Scalar = tf.sum(tf.add(terms.recon, terms.kl));
    return terms.coupled ? (tf.add(own, tf.sum(terms.coupled)) as tf.Scalar) : own;
  };
  const { value, grads: outGrads } = tf.valueAndGrads(f)(probes);
  value.dispose();
  const k = kept as unknown as { inputs: I[]; recon: tf.Tensor1D; kl: tf.Tensor1D };
  const reconSum = sumOf(k.recon);
  const klSum = sumOf(k.kl);
  k.recon.dispose();
  k.kl.dispose();
  return {
    outGrads,
    inputs: k.inputs,
    reconSum,
    klSum,
    dispose: () => {
      for (const t of outGrads) t.dispose();
      for (const t of k.inputs) t.dispose();
    },
  };
}

/** Per-record norms ‖g_i‖ from their squares (disposed here) and the clip factors min(1, C/‖g_i‖). */
function normsAndFactors(
  squared: tf.Tensor,
  clip: number,
): { norms: Float64Array; factors: Float32Array } {
  const sqv = squared.dataSync();
  squared.dispose();
  const norms = new Float64Array(sqv.length);
  const factors = new Float32Array(sqv.length);
  for (let i = 0; i < sqv.length; i++) {
    norms[i] = Math.sqrt(Math.max(0, sqv[i] as number));
    factors[i] = clipFactor(norms[i] as number, clip);
  }
  return { norms, factors };
}

/** The norm trick (module comment) for the MLP model. */
export function clippedSumTrick(
  arch: MlpCvaeArchitecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  batch: FlatBatch,
  clip: number,
): ClippedSum {
  const B = batch.x.shape[0];
  const K = batch.samples ?? 1;
  const layers = denseLayers(arch, params);
  const rows = K > 1 ? importanceRows(arch, params.decoder, batch, K) : batch;
  const probes = layers.map((ly) => tf.zeros([B * K, ly.w.shape[1]]));
  try {
    const pass = probedPass<tf.Tensor2D>(probes, (ps, inputs) =>
      forwardWithProbes(arch, layers, rows, ps, inputs),
    );
    const { outGrads, inputs } = pass;
    try {
      const { norms, factors } = normsAndFactors(
        tf.tidy(() => tf.addN(layers.map((_, i) => layerNormSquares(inputs[i], outGrads[i], K)))),
        clip,
      );
      const added = batch.added ? addedOutputGradients(arch, layers, inputs, batch) : [];
      try {
        const apart = batch.added?.apart === true;
        const product = (i: number, g: tf.Tensor): tf.Tensor[] => {
          const ly = layers[i] as Dense;
          const gw = tf.matMul(inputs[i] as tf.Tensor2D, g as tf.Tensor2D, true, false);
          return [tf.reshape(gw, [1, ...ly.w.shape]), tf.reshape(tf.sum(g, 0), [1, ly.b.shape[1]])];
        };
        const grads = tf.tidy(() => {
          const c = rowFactors(factors, K);
          return layers.flatMap((_, i) => {
            const cg = tf.mul(outGrads[i] as tf.Tensor, c);
            // The added term joins the clipped sum after clipping: one product for both.
            const more = apart ? undefined : added[i];
            return product(i, more ? tf.add(cg, more) : cg);
          });
        });
        return {
          grads,
          ...(apart ? { added: tf.tidy(() => added.flatMap((g, i) => product(i, g))) } : {}),
          norms,
          reconSum: pass.reconSum,
          klSum: pass.klSum,
        };
      } finally {
        tf.dispose(added);
      }
    } finally {
      pass.dispose();
    }
  } finally {
    for (const p of probes) p.dispose();
    if (rows !== batch) disposeRows(rows);
    for (const ly of layers) {
      ly.w.dispose();
      ly.b.dispose();
    }
  }
}

/**
 * The added term's output gradient at each encoder layer (FlatBatch.added),
 * from the probed pass's layer inputs: a hidden layer's ReLU mask is where
 * the next layer's input is positive, and log σ² is the output layer's
 * second half, computed again from its input. The caller disposes them.
 */
function addedOutputGradients(
  arch: MlpCvaeArchitecture,
  layers: readonly Dense[],
  inputs: readonly tf.Tensor[],
  batch: FlatBatch,
): tf.Tensor2D[] {
  const n = arch.encoderHidden.length + 1;
  if (!batch.added || batch.posterior || (batch.samples ?? 1) > 1)
    throw new RangeError('An added term needs the encoder network and one sample per record.');
  const L = arch.latent;
  const encoderInputs = inputs.slice(0, n) as tf.Tensor2D[];
  const masks = encoderInputs
    .slice(1)
    .map((a) => tf.cast(tf.greater(a, 0), 'float32') as tf.Tensor2D);
  const out = layers[n - 1] as Dense;
  const d = tf.tidy(() => {
    const s = tf.add(tf.matMul(encoderInputs[n - 1] as tf.Tensor2D, out.w), out.b);
    const lv = tf.slice(s, [0, L], [-1, L]);
    return tf.mul(tf.mul(tf.exp(tf.mul(lv, 0.5)), batch.eps), 0.5) as tf.Tensor2D;
  });
  try {
    return batch.added.outputGradients({
      inputs: encoderInputs,
      masks,
      d,
      weights: layers.slice(0, n).map((ly) => ly.w),
    });
  } finally {
    tf.dispose([...masks, d]);
  }
}

/**
 * One layer's share of every record's squared gradient norm ([B]). One row
 * per record: (‖a_i‖² + 1)·‖G_i‖². K rows per record (importance samples),
 * whose gradients add up to the record's: ‖Σ_k a_k ⊗ G_k‖² + ‖Σ_k G_k‖²
 * = Σ_{k,l} (a_k·a_l + 1)(G_k·G_l), from two K×K Gram matrices per record.
 */
function layerNormSquares(
  input: tf.Tensor | undefined,
  outGrad: tf.Tensor | undefined,
  K: number,
): tf.Tensor {
  const a = input as tf.Tensor2D;
  const g = outGrad as tf.Tensor2D;
  if (K === 1) return tf.mul(tf.add(tf.sum(tf.square(a), 1), 1), tf.sum(tf.square(g), 1));
  const a3 = tf.reshape(a, [-1, K, a.shape[1]]) as tf.Tensor3D;
  const g3 = tf.reshape(g, [-1, K, g.shape[1]]) as tf.Tensor3D;
  const aa = tf.add(tf.matMul(a3, a3, false, true), 1);
  return tf.sum(tf.mul(aa, tf.matMul(g3, g3, false, true)), [1, 2]);
}

/**
 * The batch with K rows per record (importance samples, record-major) and
 * each row's self-normalised weight w̃, computed by one forward pass of the
 * decoder and then held fixed (importance.ts). The caller disposes it.
 */
function importanceRows(
  arch: Architecture,
  decoder: readonly tf.Tensor[],
  batch: FlatBatch,
  K: number,
): FlatBatch {
  const post = batch.posterior;
  if (!post) throw new RangeError('Importance samples need per-record posteriors.');
  if (batch.zCotangent)
    throw new RangeError('Importance samples and coupled cotangents do not mix.');
  const B = batch.x.shape[0];
  if (batch.eps.shape[0] !== B * K) throw new RangeError('Give K noise rows per record.');
  return tf.tidy(() => {
    const idx = sampleRowIndex(B, K);
    const rows = {
      x: tf.gather(batch.x, idx),
      y: tf.gather(batch.y, idx),
      mu: tf.gather(post.mu, idx),
      logvar: tf.gather(post.logvar, idx),
      eps: tf.clone(batch.eps),
    };
    const w = normalisedWeights(logImportanceWeights(arch, decoder, rows, post), K);
    return {
      x: rows.x,
      y: rows.y,
      eps: rows.eps,
      posterior: { mu: rows.mu, logvar: rows.logvar },
      rowWeights: w,
    };
  });
}

/** Frees the rows importanceRows made. */
function disposeRows(rows: FlatBatch): void {
  tf.dispose([rows.x, rows.y, rows.eps, rows.rowWeights as tf.Tensor]);
  tf.dispose([rows.posterior?.mu as tf.Tensor, rows.posterior?.logvar as tf.Tensor]);
}

/** Sums each record's K consecutive rows ([B·K, …] → [B, …]); K = 1 returns `t`. */
function sumPerRecord(t: tf.Tensor, K: number): tf.Tensor {
  if (K === 1) return t;
  const [n, ...rest] = t.shape;
  return tf.sum(tf.reshape(t, [(n as number) / K, K, ...rest]), 1);
}

/** Each record's clip factor repeated over its K rows, as a column [B·K, 1]. */
function rowFactors(factors: Float32Array, K: number): tf.Tensor2D {
  const out =
    K === 1
      ? factors
      : Float32Array.from(
          { length: factors.length * K },
          (_, r) => factors[Math.floor(r / K)] as number,
        );
  return tf.tensor2d(out, [out.length, 1]);
}

/**
 * The exact reference: one tf.grads per record (a microbatch of 1), each
 * record's full gradient clipped to C, summed. Used for the conv variant and
 * to test the norm trick.
 */
export function clippedSumLoop(
  arch: Architecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  batch: FlatBatch,
  clip: number,
): ClippedSum {
  const B = batch.x.shape[0];
  const nEnc = params.encoder.length;
  const all = [...params.encoder, ...params.decoder];
  let acc: tf.Tensor[] = all.map((p) => tf.zerosLike(p));
  const norms = new Float64Array(B);
  let reconSum = 0;
  let klSum = 0;
  const rows = (t: tf.Tensor2D, i: number): tf.Tensor3D =>
    tf.reshape(tf.slice(t, [i, 0], [1, t.shape[1]]), [1, 1, t.shape[1]]);
  for (let i = 0; i < B; i++) {
    let recon = 0;
    let kl = 0;
    const { grads } = tf.tidy(() => {
      const one = {
        x: rows(batch.x, i),
        y: rows(batch.y, i),
        eps: rows(batch.eps, i),
        mask: tf.ones([1, 1]) as tf.Tensor2D,
      };
      const f = (...ps: tf.Tensor[]): tf.Scalar => {
        const t = lossTerms(arch, ps.slice(0, nEnc), ps.slice(nEnc), one);
        recon = t.recon.dataSync()[0] as number;
        kl = t.kl.dataSync()[0] as number;
        return tf.sum(tf.add(t.recon, t.kl));
      };
      const r = tf.valueAndGrads(f)(all as tf.Tensor[]);
      return { grads: r.grads };
    });
    const sq = tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
    const norm = Math.sqrt(sq.dataSync()[0] as number);
    sq.dispose();
    norms[i] = norm;
    const c = clipFactor(norm, clip);
    const next = tf.tidy(() => acc.map((a, j) => tf.add(a, tf.mul(grads[j] as tf.Tensor, c))));
    for (const t of acc) t.dispose();
    for (const g of grads) g.dispose();
    acc = next;
    reconSum += recon;
    klSum += kl;
  }
  return { grads: acc, norms, reconSum, klSum };
}

/** One layer of the conv model as the trick sees it. */
type ConvLayer =
  | { kind: 'dense'; w: tf.Tensor2D; b: tf.Tensor2D }
  | { kind: 'conv' | 'deconv'; w: tf.Tensor4D; b: tf.Tensor1D; relu: boolean };

/**
 * im2col of a stride-s, k×k, 'same' convolution from `x` [B, H, W, C] to an
 * [oh, ow] output: [B, oh·ow, k·k·C], columns ordered (kh, kw, c) like a
 * filter [k, k, C, ·]; zero outside the image, with tfjs' 'same' padding.
 * Built on the CPU (strided slices are slow on the WebAssembly backend).
 */
export function convPatches(
  x: tf.Tensor4D,
  k: number,
  s: number,
  oh: number,
  ow: number,
): tf.Tensor3D {
  const [B, H, W, C] = x.shape;
  const info = tf.backend_util.computeConv2DInfo([B, H, W, C], [k, k, C, 1], s, 1, 'same');
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const src = x.dataSync() as Float32Array;
  const cols = k * k * C;
  const out = new Float32Array(B * oh * ow * cols);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const row = ((b * oh + oy) * ow + ox) * cols;
        for (let kh = 0; kh < k; kh++) {
          const iy = oy * s + kh - top;
          if (iy < 0 || iy >= H) continue;
          for (let kw = 0; kw < k; kw++) {
            const ix = ox * s + kw - left;
            if (ix < 0 || ix >= W) continue;
            const from = ((b * H + iy) * W + ix) * C;
            out.set(src.subarray(from, from + C), row + (kh * k + kw) * C);
          }
        }
      }
    }
  }
  return tf.tensor3d(out, [B, oh * ow, cols]);
}

/** The layers of the conv model in forward order (encoder convs, dense…, decoder dense…, deconvs). */
function convLayers(
  arch: ConvCvaeArchitecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
): ConvLayer[] {
  const sq = (t: tf.Tensor): tf.Tensor => tf.reshape(t, t.shape.slice(1));
  const dense = (w: tf.Tensor, b: tf.Tensor): ConvLayer => ({
    kind: 'dense',
    w: sq(w) as tf.Tensor2D,
    b: tf.reshape(b, [1, b.size]) as tf.Tensor2D,
  });
  const e = params.encoder;
  const d = params.decoder;
  const n = arch.convChannels.length;
  const layers: ConvLayer[] = [];
  if (e.length > 0) {
    for (let i = 0; i < n; i++) {
      layers.push({
        kind: 'conv',
        w: sq(e[2 * i] as tf.Tensor) as tf.Tensor4D,
        b: sq(e[2 * i + 1] as tf.Tensor) as tf.Tensor1D,
        relu: true,
      });
    }
    layers.push(dense(e[2 * n] as tf.Tensor, e[2 * n + 1] as tf.Tensor));
    layers.push(dense(e[2 * n + 2] as tf.Tensor, e[2 * n + 3] as tf.Tensor));
  }
  layers.push(dense(d[0] as tf.Tensor, d[1] as tf.Tensor));
  layers.push(dense(d[2] as tf.Tensor, d[3] as tf.Tensor));
  for (let i = 0; i < n; i++) {
    layers.push({
      kind: 'deconv',
      w: sq(d[4 + 2 * i] as tf.Tensor) as tf.Tensor4D,
      b: sq(d[5 + 2 * i] as tf.Tensor) as tf.Tensor1D,
      relu: i + 1 < n,
    });
  }
  return layers;
}

/** Pre-activation shape of a layer for a batch of B (the probe's shape); decoder only without an encoder. */
function probeShapes(arch: ConvCvaeArchitecture, B: number, withEncoder: boolean): number[][] {
  const { height, width } = arch.image;
  const shapes: number[][] = [];
  if (withEncoder) {
    arch.convChannels.forEach((c, i) => shapes.push([B, height >> (i + 1), width >> (i + 1), c]));
    shapes.push([B, arch.hidden], [B, 2 * arch.latent]);
  }
  const bn = convBottleneck(arch);
  shapes.push([B, arch.hidden]);
  shapes.push([B, bn.height * bn.width * bn.channels]);
  const chans = [...arch.convChannels].reverse();
  const n = chans.length;
  for (let i = 0; i < n; i++) {
    const f = 2 ** (n - i - 1);
    const out = i + 1 < n ? (chans[i + 1] as number) : arch.image.channels;
    shapes.push([B, height / f, width / f, out]);
  }
  return shapes;
}

/** The conv CVAE's per-record −ELBO terms with probes on every pre-activation (cvae.ts' forward). */
function convForwardWithProbes(
  arch: ConvCvaeArchitecture,
  layers: readonly ConvLayer[],
  batch: FlatBatch,
  probes: readonly tf.Tensor[],
  inputs: tf.Tensor[],
): { recon: tf.Tensor1D; kl: tf.Tensor1D } {
  const B = batch.x.shape[0];
  const { height, width, channels } = arch.image;
  let l = 0;
  const apply = (h: tf.Tensor, relu: boolean): tf.Tensor => {
    const layer = layers[l] as ConvLayer;
    inputs.push(h);
    let s: tf.Tensor;
    if (layer.kind === 'dense') {
      s = tf.add(tf.matMul(h as tf.Tensor2D, layer.w), layer.b);
    } else if (layer.kind === 'conv') {
      s = tf.add(tf.conv2d(h as tf.Tensor4D, layer.w, 2, 'same'), layer.b);
    } else {
      const [, ih, iw] = h.shape as number[];
      const outC = layer.w.shape[2];
      s = tf.add(
        tf.conv2dTranspose(
          h as tf.Tensor4D,
          layer.w,
          [B, (ih as number) * 2, (iw as number) * 2, outC],
          2,
          'same',
        ),
        layer.b,
      );
    }
    s = tf.add(s, probes[l] as tf.Tensor);
    l++;
    return relu ? tf.relu(s) : s;
  };
  const { mu, logvar } = batch.posterior ?? encodeConv();
  function encodeConv(): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    let e: tf.Tensor = tf.reshape(batch.x, [B, height, width, channels]);
    for (let i = 0; i < arch.convChannels.length; i++) e = apply(e, true);
    e = apply(tf.concat([tf.reshape(e, [B, -1]), batch.y], 1), true);
    const [m, lv] = tf.split(apply(e, false), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return { mu: m, logvar: lv };
  }
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), batch.eps));
  let h = apply(tf.concat([z, batch.y], 1), true);
  h = apply(h, true);
  const bn = convBottleneck(arch);
  h = tf.reshape(h, [B, bn.height, bn.width, bn.channels]);
  for (let i = 0; i < arch.convChannels.length; i++) {
    h = apply(h, i + 1 < arch.convChannels.length);
  }
  const logits = tf.reshape(h, [B, imageSize(arch)]);
  return weighted(batch, {
    recon: tf.sum(sigmoidCrossEntropy(logits, batch.x), 1) as tf.Tensor1D,
    kl: gaussianKl(mu, logvar, 1) as tf.Tensor1D,
  });
}

/** Each row's terms times its fixed importance weight w̃, when the rows carry one (importance.ts). */
function weighted(
  batch: FlatBatch,
  t: { recon: tf.Tensor1D; kl: tf.Tensor1D },
): { recon: tf.Tensor1D; kl: tf.Tensor1D } {
  const w = batch.rowWeights;
  return w ? { recon: tf.mul(t.recon, w), kl: tf.mul(t.kl, w) } : t;
}

/** The probes trick for the conv variant (module comment). */
export function clippedSumConvTrick(
  arch: ConvCvaeArchitecture,
  params: { encoder: readonly tf.Tensor[]; decoder: readonly tf.Tensor[] },
  batch: FlatBatch,
  clip: number,
): ClippedSum {
  const B = batch.x.shape[0];
  const K = batch.samples ?? 1;
  const n = B * K;
  const k = arch.kernelSize;
  const layers = convLayers(arch, params);
  const rows = K > 1 ? importanceRows(arch, params.decoder, batch, K) : batch;
  const probes = probeShapes(arch, n, params.encoder.length > 0).map((shape) => tf.zeros(shape));
  try {
    const pass = probedPass<tf.Tensor>(probes, (ps, inputs) =>
      convForwardWithProbes(arch, layers, rows, ps, inputs),
    );
    const { outGrads, inputs } = pass;
    try {
      // Per-example weight gradients of the (transposed) convolutions, [B, rows, cols]
      // (a record's K importance-sample rows summed: its gradient is their sum).
      const perExample: (tf.Tensor3D | null)[] = layers.map((ly, i) => {
        if (ly.kind === 'dense') return null;
        return tf.tidy(() => {
          const a = inputs[i] as tf.Tensor4D;
          const g = outGrads[i] as tf.Tensor4D;
          let rowGrads: tf.Tensor3D;
          if (ly.kind === 'conv') {
            const [, oh, ow, co] = g.shape;
            const p = convPatches(a, k, 2, oh, ow);
            rowGrads = tf.matMul(p, tf.reshape(g, [n, oh * ow, co]) as tf.Tensor3D, true, false);
          } else {
            const [, ih, iw, ci] = a.shape;
            const p = convPatches(g, k, 2, ih, iw);
            rowGrads = tf.matMul(p, tf.reshape(a, [n, ih * iw, ci]) as tf.Tensor3D, true, false);
          }
          return sumPerRecord(rowGrads, K) as tf.Tensor3D;
        });
      });
      // Per-record bias gradients of the (transposed) convolutions, [B, channels].
      const convBias: (tf.Tensor2D | null)[] = layers.map((ly, i) =>
        ly.kind === 'dense'
          ? null
          : tf.tidy(
              () => sumPerRecord(tf.sum(outGrads[i] as tf.Tensor4D, [1, 2]), K) as tf.Tensor2D,
            ),
      );
      try {
        const { norms, factors } = normsAndFactors(
          tf.tidy(() =>
            tf.addN(
              layers.map((ly, i) => {
                if (ly.kind === 'dense') return layerNormSquares(inputs[i], outGrads[i], K);
                return tf.add(
                  tf.sum(tf.square(perExample[i] as tf.Tensor), [1, 2]),
                  tf.sum(tf.square(convBias[i] as tf.Tensor), 1),
                );
              }),
            ),
          ),
          clip,
        );
        const grads: tf.Tensor[] = tf.tidy(() => {
          const c2 = tf.tensor2d(factors, [B, 1]);
          const c3 = tf.reshape(c2, [B, 1, 1]);
          const cRows = rowFactors(factors, K);
          return layers.flatMap((ly, i) => {
            let gw: tf.Tensor;
            let gbias: tf.Tensor;
            if (ly.kind === 'dense') {
              const cg = tf.mul(outGrads[i] as tf.Tensor, cRows) as tf.Tensor2D;
              gw = tf.matMul(inputs[i] as tf.Tensor2D, cg, true, false);
              gbias = tf.sum(cg, 0);
            } else {
              gw = tf.reshape(tf.sum(tf.mul(perExample[i] as tf.Tensor, c3), 0), ly.w.shape);
              gbias = tf.sum(tf.mul(convBias[i] as tf.Tensor, c2), 0);
            }
            return [tf.reshape(gw, [1, ...ly.w.shape]), tf.reshape(gbias, [1, gbias.size])];
          });
        });
        // Parameter order: encoder (convs, dense, dense), decoder (dense, dense, deconvs).
        return { grads, norms, reconSum: pass.reconSum, klSum: pass.klSum };
      } finally {
        for (const t of perExample) t?.dispose();
        for (const t of convBias) t?.dispose();
      }
    } finally {
      pass.dispose();
    }
  } finally {
    for (const p of probes) p.dispose();
    if (rows !== batch) disposeRows(rows);
    for (const ly of layers) {
      ly.w.dispose();
      ly.b.dispose();
    }
  }
}
