/**
 * DP-RandP phase 3 (Tang et al., NeurIPS 2023, §3): the whole classifier —
 * the prior's convolutions and the linear model on its read-out — trained
 * with DP-SGD (Abadi et al. 2016). This module gives one step's sum of
 * per-record gradients, each clipped to norm C, without a backward pass per
 * record:
 *
 * - zero "probe" tensors are added to every convolution's output before its
 *   ReLU; one backward pass of Σ_i loss_i to the probes gives each record's
 *   gradient at each convolution's output, G_i (a record only moves its own
 *   row: the network has no batch statistics, batch normalisation being
 *   folded);
 * - a convolution's per-record kernel gradient is P_iᵀ·G_i, P_i the im2col
 *   patches of the record's input to it (built on the wasm heap there,
 *   engine/dpsgd-clip.ts `convPatches` elsewhere), its bias gradient
 *   Σ_positions G_i; the linear model's is x̃_i ⊗ (p_i − y_i) with norm
 *   ‖x̃_i‖·‖p_i − y_i‖ (x̃_i its input with the bias feature);
 * - with c_i = min(1, C/‖g_i‖), the clipped sum is Σ_i c_i·g_i: one [1, B]
 *   product per convolution parameter over the kept per-record gradients,
 *   and x̃ᵀ·(c ⊙ (P − Y)) for the linear model.
 *
 * Parts can be held fixed (the linear model; the convolutions before a
 * given one): they get no probe, no norm and a zero sum. An exact
 * per-record loop (`networkClippedSumLoop`) is the reference the test
 * compares against. Not a method setting yet (docs/classifier.md, phase 3).
 */
import * as tf from '@tensorflow/tfjs';
import { clipFactor, convPatches } from '../../engine/dpsgd-clip';
import { geometryOf, hasSubPixelGradient, inputGradient } from '../../eval/conv';
import { im2colColumnsOnWasm, onWasm } from '../../eval/wasm-kernels';
import { convSpecs, featureLayers, type FeatureNetSpec } from '../../priors/network/architecture';
import { poolLayer, type FeatureReadout } from '../../priors/network/feature-net';
import { standardiseGroups, type PerRecordOptions } from '../../priors/feature-map';

/** The trainable classifier: the prior's convolutions and the linear model. */
export interface NetworkParams {
  spec: FeatureNetSpec;
  /** Kernels [3, 3, in, out] in convSpecs order; the stem's `in` is the images' channels (1: summed over RGB). */
  kernels: tf.Tensor4D[];
  biases: tf.Tensor1D[];
  /** [D + 1, K]: the last row multiplies the bias feature. */
  head: tf.Tensor2D;
  biasFeature: number;
}

/** How the network reads features (fixed during training). */
export interface NetworkReadout {
  readout: FeatureReadout;
  perRecord: PerRecordOptions;
}

/** The parameters as one list: kernels, then biases, then the head. */
export function paramList(p: NetworkParams): tf.Tensor[] {
  return [...p.kernels, ...p.biases, p.head];
}

/** x^p for x ≥ 0 with a gradient that stays finite at 0 (the pooled maps can be exactly 0). */
const safePower = (p: number) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    save([x]);
    return {
      value: tf.pow(tf.relu(x), p),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
        tf.mul(dy as tf.Tensor, tf.mul(p, tf.pow(tf.maximum(saved[0] as tf.Tensor, 1e-6), p - 1))),
      ],
    };
  });

/**
 * conv2d(x, w, s, 'same') differentiated with respect to x only (w held
 * fixed): the probe pass needs nothing else, and tfjs would otherwise also
 * compute every filter gradient. The input gradient is eval/conv.ts's
 * sub-pixel one where it applies (tfjs-backend-wasm's own loops in plain
 * code).
 */
function convToInput(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  const g = geometryOf(x.shape, w.shape[0], stride);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.conv2d(args[0] as tf.Tensor4D, w, stride, 'same'),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [
      hasSubPixelGradient(g)
        ? inputGradient(dy as tf.Tensor4D, w, g)
        : tf.conv2dTranspose(dy as tf.Tensor4D, w, x.shape, stride, 'same'),
    ],
  }));
  return op(x) as tf.Tensor4D;
}

/**
 * Each record's kernel gradient [B, k·k·C_in, C_out] from the layer's input
 * [B, H, W, C_in] and the record's output gradients [B, OH, OW, C_out]:
 * P_iᵀ·G_i with P_i its im2col patches (built on the wasm heap there).
 */
function perRecordKernelGradients(input: tf.Tensor4D, g: tf.Tensor4D, stride: number): tf.Tensor3D {
  const [B, oh, ow, cout] = g.shape;
  return tf.tidy(() => {
    const gi = tf.reshape(g, [B, oh * ow, cout]) as tf.Tensor3D;
    if (onWasm()) {
      const cols = im2colColumnsOnWasm(input, geometryOf(input.shape, 3, stride)); // [9·C_in, B·OH·OW]
      const perRecord = tf.transpose(tf.reshape(cols, [cols.shape[0], B, oh * ow]), [1, 0, 2]);
      return tf.matMul(perRecord as tf.Tensor3D, gi);
    }
    return tf.matMul(convPatches(input, 3, stride, oh, ow), gi, true, false);
  });
}

/** What {@link networkForward} gives back besides the logits. */
interface Forward {
  logits: tf.Tensor2D;
  /** The linear model's input x̃ [B, D + 1]. */
  features: tf.Tensor2D;
  /** Each convolution's input, convSpecs order (to the deepest read layer). */
  inputs: tf.Tensor4D[];
}

/**
 * Images [B, H, W, C] in [0, 1] (already at the network's size) → logits,
 * as priors/network/feature-net.ts readFeatures then normalise.ts
 * perRecordTransform then the linear model compute them; `probes[i]` (when
 * given) is added to convolution i's output before its ReLU.
 */
export function networkForward(
  p: NetworkParams,
  how: NetworkReadout,
  x: tf.Tensor4D,
  probes?: readonly (tf.Tensor | undefined)[],
): Forward {
  const specs = convSpecs(p.spec);
  const names = featureLayers(p.spec);
  const { readout, perRecord } = how;
  const deepest = deepestStage(p.spec, readout);
  const inputs: tf.Tensor4D[] = [];
  const conv = (i: number, h: tf.Tensor4D): tf.Tensor4D => {
    inputs.push(h);
    const s = specs[i]?.stride ?? 1;
    const w = p.kernels[i] as tf.Tensor4D;
    const probe = probes?.[i];
    if (!probe) {
      return tf.relu(tf.add(tf.conv2d(h, w, s, 'same'), p.biases[i] as tf.Tensor1D)) as tf.Tensor4D;
    }
    const y = tf.add(tf.add(convToInput(h, w, s), p.biases[i] as tf.Tensor1D), probe);
    return tf.relu(y) as tf.Tensor4D;
  };
  let h = conv(0, tf.sub(tf.mul(x, 2), 1));
  const stages: tf.Tensor4D[] = [];
  for (let k = 1; k <= deepest; k++) {
    const a = conv(2 * k - 1, h);
    h = tf.add(a, conv(2 * k, a));
    stages.push(h);
  }
  const parts = readout.layers.map((l) =>
    poolLayer(stages[names.indexOf(l)] as tf.Tensor4D, readout.grid),
  );
  let f: tf.Tensor2D = parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 1);
  if (perRecord.power !== undefined && perRecord.power !== 1)
    f = safePower(perRecord.power)(f) as tf.Tensor2D;
  if (perRecord.groups) f = standardiseGroups(f, perRecord.groups);
  const features = tf.concat([f, tf.fill([f.shape[0], 1], p.biasFeature) as tf.Tensor2D], 1);
  return { logits: tf.matMul(features, p.head), features, inputs };
}

/** Per-record cross-entropy [B] of logits and one-hot labels. */
function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, y), 1)) as tf.Tensor1D;
}

/** One step's clipped sum: gradients in {@link paramList} order, and each record's norm before clipping. */
export interface NetworkClippedSum {
  grads: tf.Tensor[];
  norms: Float64Array;
  /** Σ_i loss_i (nats; a private figure). */
  lossSum: number;
}

/**
 * Σ_i clip_C(∇ loss_i) over the batch (module comment), images x [B, H, W, C]
 * in [0, 1] and one-hot labels y [B, K]. With `head` false the linear model
 * is held fixed, and convolutions before `from` (convSpecs order; default 0)
 * are too: their gradients are neither counted in the norms nor summed
 * (returned as zeros).
 */
export function networkClippedSum(
  p: NetworkParams,
  how: NetworkReadout,
  batch: { x: tf.Tensor4D; y: tf.Tensor2D },
  clip: number,
  options: { head?: boolean; from?: number } = {},
): NetworkClippedSum {
  const withHead = options.head ?? true;
  const from = options.from ?? 0;
  const specs = convSpecs(p.spec);
  const B = batch.x.shape[0];
  // Output shapes of the convolutions actually run (up to the deepest read layer).
  const shapes: number[][] = [];
  {
    let hh = batch.x.shape[1];
    let ww = batch.x.shape[2];
    for (let i = 0; i < convsUsed(p.spec, how.readout); i++) {
      const s = specs[i]?.stride ?? 1;
      hh = Math.ceil(hh / s);
      ww = Math.ceil(ww / s);
      shapes.push([B, hh, ww, specs[i]?.outChannels ?? 0]);
    }
  }
  const trained = shapes.map((_, i) => i).filter((i) => i >= from);
  const probes = trained.map((i) => tf.zeros(shapes[i] as number[]));
  interface Kept {
    inputs: tf.Tensor4D[];
    features: tf.Tensor2D;
    residual: tf.Tensor2D;
    loss: tf.Tensor1D;
  }
  let kept: Kept | null = null;
  const f = (...ps: tf.Tensor[]): tf.Scalar => {
    const byConv: (tf.Tensor | undefined)[] = [];
    trained.forEach((i, j) => (byConv[i] = ps[j]));
    const fw = networkForward(p, how, batch.x, byConv);
    const loss = crossEntropy(fw.logits, batch.y);
    kept = {
      inputs: fw.inputs.map((t) => tf.keep(t)),
      features: tf.keep(fw.features),
      residual: tf.keep(tf.sub(tf.softmax(fw.logits), batch.y)),
      loss: tf.keep(loss),
    };
    return tf.sum(loss);
  };
  const { value, grads: outGrads } = tf.valueAndGrads(f)(probes);
  value.dispose();
  tf.dispose(probes);
  const k = kept as unknown as Kept;
  try {
    const lossSum = (k.loss.dataSync() as Float32Array).reduce((a, b) => a + b, 0);
    // Per-record kernel and bias gradients, layer by layer (kept for the sums).
    const kernelsOf = outGrads.map((g, j) => {
      const i = trained[j] as number;
      return perRecordKernelGradients(
        k.inputs[i] as tf.Tensor4D,
        g as tf.Tensor4D,
        specs[i]?.stride ?? 1,
      );
    });
    const biasesOf = outGrads.map((g) => tf.sum(g, [1, 2]) as tf.Tensor2D);
    const squared = tf.tidy(() => {
      let sq: tf.Tensor1D = withHead
        ? (tf.mul(
            tf.sum(tf.square(k.features), 1),
            tf.sum(tf.square(k.residual), 1),
          ) as tf.Tensor1D)
        : tf.zeros([B]);
      kernelsOf.forEach((w, i) => {
        sq = tf.add(sq, tf.sum(tf.square(w), [1, 2]));
        sq = tf.add(sq, tf.sum(tf.square(biasesOf[i] as tf.Tensor2D), 1));
      });
      return sq;
    });
    const sqv = squared.dataSync();
    squared.dispose();
    const norms = new Float64Array(B);
    const factors = new Float32Array(B);
    for (let i = 0; i < B; i++) {
      norms[i] = Math.sqrt(Math.max(0, sqv[i] as number));
      factors[i] = clipFactor(norms[i] as number, clip);
    }
    const grads = tf.tidy(() => {
      const c = tf.tensor2d(factors, [1, B]);
      // Σ_i c_i·g_i as one product [1, B]·[B, size] per parameter.
      const weighted = (perRecord: tf.Tensor, shape: number[]) =>
        tf.reshape(tf.matMul(c, tf.reshape(perRecord, [B, -1])), shape);
      // Held or unused convolutions (before `from`, past the deepest read layer): no gradient.
      const kernels = p.kernels.map((w) => tf.zerosLike(w) as tf.Tensor);
      const biases = p.biases.map((b) => tf.zerosLike(b) as tf.Tensor);
      trained.forEach((i, j) => {
        kernels[i] = weighted(kernelsOf[j] as tf.Tensor, (p.kernels[i] as tf.Tensor4D).shape);
        biases[i] = weighted(biasesOf[j] as tf.Tensor, (p.biases[i] as tf.Tensor1D).shape);
      });
      const head = withHead
        ? tf.matMul(k.features, tf.mul(k.residual, tf.reshape(c, [B, 1])), true, false)
        : tf.zerosLike(p.head);
      return [...kernels, ...biases, head];
    });
    tf.dispose([...kernelsOf, ...biasesOf]);
    return { grads, norms, lossSum };
  } finally {
    tf.dispose(outGrads);
    tf.dispose([...k.inputs, k.features, k.residual, k.loss]);
  }
}

/** Convolutions the read-out runs (up to its deepest layer), convSpecs order. */
function convsUsed(spec: FeatureNetSpec, readout: FeatureReadout): number {
  return 1 + 2 * deepestStage(spec, readout);
}

/** The deepest stage (1-based) the read-out takes features from. */
function deepestStage(spec: FeatureNetSpec, readout: FeatureReadout): number {
  const names = featureLayers(spec);
  return Math.max(...readout.layers.map((l) => names.indexOf(l) + 1));
}

/** The exact reference: one backward pass per record, each gradient clipped, then summed. */
export function networkClippedSumLoop(
  p: NetworkParams,
  how: NetworkReadout,
  batch: { x: tf.Tensor4D; y: tf.Tensor2D },
  clip: number,
  options: { head?: boolean; from?: number } = {},
): NetworkClippedSum {
  const n = p.kernels.length;
  const used = convsUsed(p.spec, how.readout);
  const from = options.from ?? 0;
  // Only what is trained and the loss depends on is differentiated; the other sums stay 0.
  const convs = Array.from({ length: used }, (_, i) => i).filter((i) => i >= from);
  const indices = [
    ...convs,
    ...convs.map((i) => n + i),
    ...((options.head ?? true) ? [2 * n] : []),
  ];
  const params = paramList(p);
  const sums = params.map((t) => tf.zerosLike(t));
  const B = batch.x.shape[0];
  const norms = new Float64Array(B);
  let lossSum = 0;
  for (let i = 0; i < B; i++) {
    tf.tidy(() => {
      const xi = tf.slice(batch.x, [i, 0, 0, 0], [1, -1, -1, -1]);
      const yi = tf.slice(batch.y, [i, 0], [1, -1]);
      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
        const all = [...params];
        indices.forEach((j, k) => (all[j] = ps[k] as tf.Tensor));
        const q: NetworkParams = {
          ...p,
          kernels: all.slice(0, n) as tf.Tensor4D[],
          biases: all.slice(n, 2 * n) as tf.Tensor1D[],
          head: all[2 * n] as tf.Tensor2D,
        };
        return tf.sum(crossEntropy(networkForward(q, how, xi).logits, yi)) as tf.Scalar;
      })(indices.map((j) => params[j] as tf.Tensor));
      lossSum += value.dataSync()[0] as number;
      let sq = 0;
      for (const g of grads) sq += tf.sum(tf.square(g)).dataSync()[0] as number;
      norms[i] = Math.sqrt(sq);
      const c = clipFactor(norms[i] as number, clip);
      grads.forEach((g, k) => {
        const j = indices[k] as number;
        const next = tf.keep(tf.add(sums[j] as tf.Tensor, tf.mul(g, c)));
        (sums[j] as tf.Tensor).dispose();
        sums[j] = next;
      });
    });
  }
  return { grads: sums, norms, lossSum };
}
