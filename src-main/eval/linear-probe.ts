/**
 * Linear probe: how much a frozen feature space knows about the classes
 * (the standard test of self-supervised features, e.g. SimCLR, Chen et al.
 * 2020, §4). Each feature is standardised with the training set's mean and
 * standard deviation, then multinomial logistic regression is trained with
 * Adam (cosine step size, small weight decay) on the training features and
 * scored on the test features.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../engine/rng';

/** Features [count × dims] with one label each. */
export interface FeatureSet {
  features: Float32Array;
  labels: ArrayLike<number>;
  count: number;
  dims: number;
}

/** Settings of the probe (defaults in brackets). */
export interface ProbeOptions {
  /** Passes over the training features [20]. */
  epochs?: number;
  /** Features per Adam step [256]. */
  batchSize?: number;
  /** Adam's peak step size [1e-3]. */
  learningRate?: number;
  /** L2 penalty on the weights [1e-4]. */
  weightDecay?: number;
  seed?: number;
}

/** Per-feature mean and standard deviation of a set. */
function moments(set: FeatureSet): { mean: Float32Array; std: Float32Array } {
  const mean = new Float64Array(set.dims);
  const sq = new Float64Array(set.dims);
  for (let i = 0; i < set.count; i++) {
    for (let d = 0; d < set.dims; d++) {
      const v = set.features[i * set.dims + d] as number;
      mean[d] = (mean[d] as number) + v;
      sq[d] = (sq[d] as number) + v * v;
    }
  }
  const m = new Float32Array(set.dims);
  const s = new Float32Array(set.dims);
  for (let d = 0; d < set.dims; d++) {
    m[d] = (mean[d] as number) / set.count;
    s[d] = Math.sqrt(Math.max(0, (sq[d] as number) / set.count - (m[d] as number) ** 2)) + 1e-6;
  }
  return { mean: m, std: s };
}

/** Test accuracy (%) of logistic regression trained on `train`'s features. */
export async function linearProbe(
  train: FeatureSet,
  test: FeatureSet,
  options: ProbeOptions = {},
): Promise<number> {
  const epochs = options.epochs ?? 20;
  const batch = options.batchSize ?? 256;
  const peak = options.learningRate ?? 1e-3;
  const decay = options.weightDecay ?? 1e-4;
  const classes = Math.max(...Array.from(train.labels), ...Array.from(test.labels)) + 1;
  const { mean, std } = moments(train);
  // Standardised in JS; each step's batch is copied out row by row (tfjs's
  // gather on a large tensor costs tens of ms a step on the wasm backend).
  const standardise = (set: FeatureSet): Float32Array => {
    const out = new Float32Array(set.count * set.dims);
    for (let i = 0; i < set.count; i++) {
      for (let d = 0; d < set.dims; d++) {
        const k = i * set.dims + d;
        out[k] = ((set.features[k] as number) - (mean[d] as number)) / (std[d] as number);
      }
    }
    return out;
  };
  const xTrain = standardise(train);
  const w = tf.variable(tf.zeros([train.dims, classes]));
  const b = tf.variable(tf.zeros([classes]));
  const optimizer = tf.train.adam(peak);
  const rng = SeededRng.fromSeed(options.seed ?? 0, 0x70726f62);
  const order = new Uint32Array(train.count).map((_, i) => i);
  const perEpoch = Math.ceil(train.count / batch);
  const total = epochs * perEpoch;
  const rows = new Float32Array(batch * train.dims);
  const labels = new Int32Array(batch);
  try {
    for (let e = 0; e < epochs; e++) {
      rng.shuffle(order);
      for (let s = 0; s < perEpoch; s++) {
        const step = e * perEpoch + s;
        // tfjs's Adam keeps its step size in a field we set each step (cosine schedule).
        (optimizer as unknown as { learningRate: number }).learningRate =
          0.5 * peak * (1 + Math.cos((Math.PI * step) / total));
        const picked = order.subarray(s * batch, (s + 1) * batch);
        picked.forEach((j, r) => {
          rows.set(xTrain.subarray(j * train.dims, (j + 1) * train.dims), r * train.dims);
          labels[r] = train.labels[j] as number;
        });
        const n = picked.length;
        tf.tidy(() => {
          const xb = tf.tensor2d(rows.subarray(0, n * train.dims), [n, train.dims]);
          const yb = tf.oneHot(tf.tensor1d(labels.subarray(0, n), 'int32'), classes);
          optimizer.minimize(() => {
            const logits = tf.add(tf.matMul(xb, w), b);
            const ce = tf.losses.softmaxCrossEntropy(yb, logits);
            return tf.add(ce, tf.mul(decay, tf.sum(tf.square(w)))) as tf.Scalar;
          });
        });
      }
      await new Promise((r) => setImmediate(r));
    }
    const predicted = tf.tidy(() =>
      tf.argMax(
        tf.add(tf.matMul(tf.tensor2d(standardise(test), [test.count, test.dims]), w), b),
        1,
      ),
    );
    const p = await predicted.data();
    predicted.dispose();
    let right = 0;
    for (let i = 0; i < test.count; i++) if (p[i] === test.labels[i]) right++;
    return (100 * right) / test.count;
  } finally {
    for (const t of [w, b]) t.dispose();
    optimizer.dispose();
  }
}
