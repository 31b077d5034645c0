/**
 * The importance-weighted bound (IWAE: Burda, Grosse & Salakhutdinov 2016,
 * eq. 8) for per-record posteriors (posterior.ts). With K samples
 * z_k = μ_i + σ_i ⊙ ε_k from record i's own posterior q_i,
 *
 *   L_K(x_i) = log (1/K) Σ_k w_k,   log w_k = log p(x_i | z_k, y_i) + log p(z_k) − log q_i(z_k),
 *
 * a tighter bound than the ELBO (K = 1). Its gradient with respect to the
 * decoder is Σ_k w̃_k ∇ log p(x_i | z_k, y_i) with the self-normalised
 * weights w̃_k = w_k / Σ_l w_l held fixed (eq. 14). Both depend on record i,
 * its own ε draws and the decoder only, so the per-record rules of
 * posterior.ts hold unchanged: one record still moves one clipped gradient.
 *
 * Rows are record-major: record i's K samples are rows iK … iK + K − 1.
 * With z_k = μ + σ ⊙ ε_k, log p(z_k) − log q(z_k) = −½‖z_k‖² + ½‖ε_k‖² + ½ Σ log σ²
 * (the 2π terms cancel). The functions here make intermediate tensors: call
 * them inside tf.tidy (or a gradient function).
 */
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture';
import { decodeLogits, sigmoidCrossEntropy } from './cvae';

/** Row indices that repeat each of `records` rows `samples` times (record-major). */
export function sampleRowIndex(records: number, samples: number): tf.Tensor1D {
  return tf.tensor1d(
    Int32Array.from({ length: records * samples }, (_, r) => Math.floor(r / samples)),
    'int32',
  );
}

/**
 * log w_k of every row ([B·K]): Σ_pixels −BCE(x, sigmoid(logits(z_k, y)))
 * − ½‖z_k‖² + ½‖ε_k‖² + ½ Σ log σ². `rows` has one row per sample (x and y
 * repeated K times, each record's K draws of ε); the posteriors one row per
 * record, broadcast over the K samples (no gather, whose gradient the
 * WebAssembly backend lacks).
 */
export function logImportanceWeights(
  arch: Architecture,
  decoder: readonly tf.Tensor[],
  rows: { x: tf.Tensor2D; y: tf.Tensor2D; eps: tf.Tensor2D },
  posterior: { mu: tf.Tensor2D; logvar: tf.Tensor2D },
): tf.Tensor1D {
  const n = rows.x.shape[0];
  const [B, k] = posterior.mu.shape;
  const K = n / B;
  const eps3 = tf.reshape(rows.eps, [B, K, k]);
  const z3 = tf.add(
    tf.reshape(posterior.mu, [B, 1, k]),
    tf.mul(tf.reshape(tf.exp(tf.mul(posterior.logvar, 0.5)), [B, 1, k]), eps3),
  );
  const logits = decodeLogits(
    arch,
    decoder,
    tf.reshape(z3, [1, n, k]) as tf.Tensor3D,
    tf.reshape(rows.y, [1, n, rows.y.shape[1]]) as tf.Tensor3D,
  );
  const x3 = tf.reshape(rows.x, [1, n, rows.x.shape[1]]);
  const logLik = tf.reshape(tf.neg(tf.sum(sigmoidCrossEntropy(logits, x3), -1)), [B, K]);
  const prior = tf.mul(tf.sub(tf.sum(tf.square(eps3), 2), tf.sum(tf.square(z3), 2)), 0.5);
  const entropy = tf.reshape(tf.mul(tf.sum(posterior.logvar, 1), 0.5), [B, 1]);
  return tf.reshape(tf.add(tf.add(logLik, prior), entropy), [n]) as tf.Tensor1D;
}

/** The self-normalised weights w̃ ([B·K]): a softmax of log w over each record's K rows. */
export function normalisedWeights(logW: tf.Tensor1D, samples: number): tf.Tensor1D {
  return tf.reshape(tf.softmax(tf.reshape(logW, [-1, samples]), 1), [-1]);
}

/** −L_K summed over records ([B·K] log weights in, a scalar out): the refinement's loss. */
export function negativeBound(logW: tf.Tensor1D, samples: number): tf.Scalar {
  const perRecord = tf.sub(tf.logSumExp(tf.reshape(logW, [-1, samples]), 1), Math.log(samples));
  return tf.neg(tf.sum(perRecord));
}
