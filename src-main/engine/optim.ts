/**
 * Optimisers and gradient clipping over stacked plain tensors ([G, ...], see
 * params.ts). Adam (Kingma and Ba 2015) keeps its moments as tensors of the
 * same shape as the parameters, so G models are updated at once, each with
 * its own state; the state is plain data, saved exactly in checkpoints.
 *
 * Clipping treats all of one model's parameters as one vector: the per-batch
 * clipping of Algorithm 1 and the clipping of the batch-mean decoder gradient
 * to norm C in Algorithm 2 of DP²-VAE (Jiang et al., arXiv 2208.03409).
 */
import * as tf from '@tensorflow/tfjs';

export type OptimizerKind = 'adam' | 'sgd';

export interface OptimizerConfig {
  kind: OptimizerKind;
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Optimiser state for a group of models; `m`/`v` are empty for SGD. */
export interface OptimizerState {
  kind: OptimizerKind;
  /** Updates applied so far (Adam's bias-correction step count). */
  t: number;
  m: tf.Tensor[];
  v: tf.Tensor[];
}

/** A fresh state for parameters shaped like `params`. */
export function initOptimizer(kind: OptimizerKind, params: readonly tf.Tensor[]): OptimizerState {
  if (kind === 'sgd') return { kind, t: 0, m: [], v: [] };
  return {
    kind,
    t: 0,
    m: params.map((p) => tf.zerosLike(p)),
    v: params.map((p) => tf.zerosLike(p)),
  };
}

/** Disposes the moment tensors of a state. */
export function disposeOptimizer(state: OptimizerState): void {
  for (const t of state.m) t.dispose();
  for (const t of state.v) t.dispose();
}

/**
 * One update. Returns new parameter tensors and state; disposes the old
 * parameters and moments (not the gradients).
 *   Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·m̂/(√v̂ + ε).
 *   SGD:  p ← p − lr·g.
 */
export function optimizerStep(
  params: readonly tf.Tensor[],
  grads: readonly tf.Tensor[],
  state: OptimizerState,
  config: OptimizerConfig,
): { params: tf.Tensor[]; state: OptimizerState } {
  if (grads.length !== params.length) throw new RangeError('One gradient per parameter is needed.');
  const lr = config.lr;
  if (state.kind === 'sgd') {
    const next = tf.tidy(() => params.map((p, i) => tf.sub(p, tf.mul(grads[i] as tf.Tensor, lr))));
    for (const p of params) p.dispose();
    return { params: next, state: { ...state, t: state.t + 1 } };
  }
  const b1 = config.beta1 ?? 0.9;
  const b2 = config.beta2 ?? 0.999;
  const eps = config.epsilon ?? 1e-8;
  const t = state.t + 1;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const out = tf.tidy(() => {
    const ps: tf.Tensor[] = [];
    const ms: tf.Tensor[] = [];
    const vs: tf.Tensor[] = [];
    params.forEach((p, i) => {
      const g = grads[i] as tf.Tensor;
      const m = tf.add(tf.mul(state.m[i] as tf.Tensor, b1), tf.mul(g, 1 - b1));
      const v = tf.add(tf.mul(state.v[i] as tf.Tensor, b2), tf.mul(tf.square(g), 1 - b2));
      const mhat = tf.div(m, c1);
      const vhat = tf.div(v, c2);
      ps.push(tf.sub(p, tf.mul(tf.div(mhat, tf.add(tf.sqrt(vhat), eps)), lr)));
      ms.push(m);
      vs.push(v);
    });
    return { ps, ms, vs };
  });
  for (const p of params) p.dispose();
  disposeOptimizer(state);
  return { params: out.ps, state: { kind: 'adam', t, m: out.ms, v: out.vs } };
}

/** Per-model global L2 norm of a list of stacked gradients ([G, ...] each) → [G]. */
export function groupNorms(grads: readonly tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const sq = grads.map((g) => {
      const models = g.shape[0] as number;
      return tf.sum(tf.square(tf.reshape(g, [models, -1])), 1);
    });
    return tf.sqrt(sq.length === 1 ? (sq[0] as tf.Tensor) : tf.addN(sq)) as tf.Tensor1D;
  });
}

/**
 * Scales each model's gradient (all its parameters as one vector) to norm at
 * most `clip`: g ← g · min(1, C/‖g‖). Returns new tensors and the norms
 * before clipping; does not dispose the inputs.
 */
export function clipByGroupNorm(
  grads: readonly tf.Tensor[],
  clip: number,
): { grads: tf.Tensor[]; norms: Float32Array } {
  if (!(clip > 0) || !Number.isFinite(clip)) {
    throw new RangeError(`The clipping norm must be a positive number, not ${clip}.`);
  }
  const norms = groupNorms(grads);
  const normValues = Float32Array.from(norms.dataSync() as Float32Array);
  const clipped = tf.tidy(() => {
    const scale = tf.div(clip, tf.maximum(norms, clip)); // min(1, C/‖g‖)
    return grads.map((g) => {
      const shape = [g.shape[0] as number, ...g.shape.slice(1).map(() => 1)];
      return tf.mul(g, tf.reshape(scale, shape));
    });
  });
  norms.dispose();
  return { grads: clipped, norms: normValues };
}
