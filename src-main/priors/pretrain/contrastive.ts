/**
 * The self-supervised objective of the prior's pre-training: SimCLR's
 * normalised-temperature cross-entropy (NT-Xent; Chen et al., ICML 2020,
 * eq. 1). Two views of each of B images pass through the network and a
 * projection head; each of the 2B embeddings must pick its partner out of
 * the other 2B − 1 by cosine similarity over temperature τ.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../../engine/rng';

/** The projection head: dense c → c, ReLU, dense c → d (SimCLR's g(·)). */
export function createHead(channels: number, dims: number, seed: number): tf.Tensor[] {
  const rng = SeededRng.fromSeed(seed, 0x68656164);
  const w1 = new Float32Array(channels * channels);
  const w2 = new Float32Array(channels * dims);
  rng.fillNormal(w1, Math.sqrt(2 / channels));
  rng.fillNormal(w2, Math.sqrt(1 / channels));
  return [
    tf.tensor2d(w1, [channels, channels]),
    tf.zeros([channels]),
    tf.tensor2d(w2, [channels, dims]),
    tf.zeros([dims]),
  ];
}

/** Head output for pooled features [n, c], with head parameters [w1, b1, w2, b2]. */
export function project(features: tf.Tensor2D, head: readonly tf.Tensor[]): tf.Tensor2D {
  const [w1, b1, w2, b2] = head as [tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor1D];
  const h = tf.relu(tf.add(tf.matMul(features, w1), b1));
  return tf.add(tf.matMul(h, w2), b2);
}

/**
 * NT-Xent over embeddings z [2B, d], where rows i and i + B are the two
 * views of image i: the mean over rows of −log softmax(sim_i / τ) at the
 * partner, with sim the cosine similarity and row i's own entry left out.
 */
export function ntXent(z: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const n = z.shape[0];
    const b = n / 2;
    const unit = tf.div(z, tf.add(tf.norm(z, 2, 1, true), 1e-8));
    const sim = tf.div(tf.matMul(unit, unit, false, true), temperature);
    const masked = tf.sub(sim, tf.mul(tf.eye(n), 1e9));
    const partner = Array.from({ length: n }, (_, i) => (i < b ? i + b : i - b));
    const target = tf.oneHot(tf.tensor1d(partner, 'int32'), n);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(masked), target), 1))) as tf.Scalar;
  });
}
