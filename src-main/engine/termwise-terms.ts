/**
 * The two gradient terms of term-wise DP-SGD for a VAE whose regulariser
 * couples the records of a batch (Takahashi et al., arXiv 2006.11204; our
 * reading of it, docs/privacy.md "Term-wise DP-SGD"). The loss of a batch S
 * of B records is
 *
 *   Σ_i −ELBO(x_i)  +  λ·B·MMD²_u({z_i}, {p_m})
 *
 * with z_i = μ_i + exp(½ log σ²_i)·ε_i the record's latent code and p_m
 * samples of the prior N(0, I) (data-independent). The first sum is
 * per-record: DP-SGD clips it as usual (dpsgd-clip.ts, sensitivity C₁). The
 * second couples the records: its gradient is Σ_i J_iᵀ·λu_i with J_i = ∂z_i/∂θ
 * (encoder) and
 *
 *   u_i = 2·[ (1/(B−1))·Σ_{j≠i} g(z_i, z_j) − (1/M)·Σ_m g(z_i, p_m) ]
 *
 * where g(a, b) = ∇_a k(a, b)/κ is the kernel's gradient scaled (and clipped)
 * to norm ≤ 1, so ‖u_i‖ ≤ 4. Replacing or adding one record moves every
 * other u_i by at most 4/B, but J_i is unbounded, so clipping J_iᵀu_i after
 * the fact would not bound the change of the others' terms (a record far
 * from the rest moves all B of them: O(B) — the naive variant below).
 * Term-wise, each record's Jacobian is scaled BEFORE it meets the coupled
 * cotangent: s_i = min(1, M_J/‖J_i‖_F), a factor of record i alone, and the
 * divergence term is
 *
 *   G₂ = Σ_i s_i·J_iᵀ·(λu_i),     ‖s_i J_iᵀ λu_i‖ ≤ 4λM_J =: C₂.
 *
 * Adding record r: its own term ≤ C₂; every other term moves by at most
 * λM_J·4/B, B of them: ≤ C₂. So the add/remove sensitivity of G₂ is 2C₂
 * (replace-one: 3C₂), independent of B.
 *
 * ‖J_i‖_F is exact and cheap for the MLP encoder: with Q_l = ∂z_i/∂s_l (the
 * layer's pre-activation; L×width), ‖∂z/∂W_l‖² = ‖a_{l−1}‖²‖Q_l‖², so
 * ‖J_i‖²_F = Σ_l (‖a_{l−1}‖² + 1)·‖Q_l‖²_F, with Q_out = [I, diag(½e^{lv/2}ε)]
 * and Q_l = (Q_{l+1}W_{l+1}ᵀ) ⊙ relu′(s_l): L rows back through the encoder
 * per record, no per-record gradient materialised.
 */
import * as tf from '@tensorflow/tfjs';
import type { MlpCvaeArchitecture } from './architecture';
import { CLIP_MARGIN, type EncoderActivations } from './dpsgd-clip';

/** The kernel of the MMD (both on the Gaussian prior N(0, I)). */
export type MmdKernel = 'imq' | 'rbf';

/** A kernel's constant and the bound κ on ‖∇_a k(a, b)‖ (so g = ∇k/κ has norm ≤ 1). */
export function kernelConstants(kernel: MmdKernel, latent: number): { c: number; kappa: number } {
  if (kernel === 'imq') {
    // k = c/(c + r²), c = 2·L·σ_p² (σ_p = 1); ‖∇k‖ = 2cr/(c+r²)², largest at r² = c/3.
    const c = 2 * latent;
    return { c, kappa: 9 / (8 * Math.sqrt(3 * c)) };
  }
  // k = exp(−r²/(2h²)), h² = L; ‖∇k‖ = (r/h²)e^{−r²/2h²}, largest at r = h.
  const h2 = latent;
  return { c: h2, kappa: Math.exp(-0.5) / Math.sqrt(h2) };
}

/**
 * Σ_j g(a_i, b_j) for each row a_i ([n, L]) over the rows b_j ([m, L]):
 * g = ∇_a k(a, b)/κ, each pair's vector clipped to norm ≤ 1 (float safety;
 * analytically it already is). Returns [n, L].
 */
export function kernelGradSum(kernel: MmdKernel, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const L = a.shape[1];
  const { c, kappa } = kernelConstants(kernel, L);
  return tf.tidy(() => {
    // In matrix form ([n, m], not [n, m, L]): r² = ‖a‖² + ‖b‖² − 2a·bᵀ, each
    // pair's gradient is f_ij·(a_i − b_j), so Σ_j = a_i·Σ_j f_ij − (f·b)_i.
    const aa = tf.sum(tf.square(a), 1, true);
    const bb = tf.reshape(tf.sum(tf.square(b), 1), [1, b.shape[0]]);
    const r2 = tf.relu(tf.sub(tf.add(aa, bb), tf.mul(tf.matMul(a, b, false, true), 2)));
    const f =
      kernel === 'imq'
        ? tf.div((-2 * c) / kappa, tf.square(tf.add(r2, c)))
        : tf.mul(tf.exp(tf.mul(r2, -0.5 / c)), -1 / (c * kappa));
    // Each pair's vector has norm |f|·r ≤ 1 analytically; clip it for float safety.
    const norm = tf.mul(tf.abs(f), tf.sqrt(r2));
    const limit = 1 - CLIP_MARGIN;
    const fc = tf.mul(f, tf.minimum(1, tf.div(limit, tf.maximum(norm, 1e-30))));
    return tf.sub(tf.mul(a, tf.sum(fc, 1, true)), tf.matMul(fc, b)) as tf.Tensor2D;
  });
}

/**
 * The coupled cotangents u_i of the whole batch's codes `z` ([B, L]) against
 * the prior samples `prior` ([M, L]): ‖u_i‖ ≤ 4 (module comment). Rows are
 * processed in chunks so B×B×L is never held at once.
 */
export function coupledCotangents(
  kernel: MmdKernel,
  z: Float32Array,
  B: number,
  L: number,
  prior: tf.Tensor2D,
  chunk = 256,
): Float32Array {
  const out = new Float32Array(B * L);
  if (B === 0) return out;
  const all = tf.tensor2d(z, [B, L]);
  const M = prior.shape[0];
  try {
    for (let s = 0; s < B; s += chunk) {
      const n = Math.min(chunk, B - s);
      const u = tf.tidy(() => {
        const a = tf.slice(all, [s, 0], [n, L]);
        // g(z_i, z_i) = 0 (diff 0), so the sum over j ≠ i is the sum over all j.
        const pair = B > 1 ? tf.mul(kernelGradSum(kernel, a, all), 1 / (B - 1)) : tf.zerosLike(a);
        const pri = tf.mul(kernelGradSum(kernel, a, prior), 1 / M);
        return tf.mul(tf.sub(pair, pri), 2);
      });
      out.set(u.dataSync() as Float32Array, s * L);
      u.dispose();
    }
  } finally {
    all.dispose();
  }
  return out;
}

/**
 * {@link coupledCotangents} with the pairs taken within groups only: row i
 * is paired with the rows of its own group (`groups[i]`, a data-independent
 * label: the caller draws it from the record's index and the step, so adding
 * a record never moves another). Each group is its own MMD batch, so adding
 * a record moves only its group's cotangents, by at most 4/|group| each: the
 * sensitivity argument is unchanged, and the cost is B·G instead of B².
 */
export function groupedCotangents(
  kernel: MmdKernel,
  z: Float32Array,
  B: number,
  L: number,
  prior: tf.Tensor2D,
  groups: Uint32Array,
): Float32Array {
  const out = new Float32Array(B * L);
  const members = new Map<number, number[]>();
  for (let i = 0; i < B; i++) {
    const g = groups[i] as number;
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  }
  for (const rows of members.values()) {
    const zg = new Float32Array(rows.length * L);
    rows.forEach((r, k) => zg.set(z.subarray(r * L, (r + 1) * L), k * L));
    const ug = coupledCotangents(kernel, zg, rows.length, L, prior);
    rows.forEach((r, k) => out.set(ug.subarray(k * L, (k + 1) * L), r * L));
  }
  return out;
}

/** The unbiased MMD² estimate of the codes against the prior samples (a private figure for the curves). */
export function mmdSquared(
  kernel: MmdKernel,
  z: Float32Array,
  B: number,
  L: number,
  prior: tf.Tensor2D,
): number {
  if (B < 2) return 0;
  const { c } = kernelConstants(kernel, L);
  return tf.tidy(() => {
    const k = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor => {
      const r2 = tf.sum(tf.square(tf.sub(tf.expandDims(a, 1), tf.expandDims(b, 0))), 2);
      return kernel === 'imq' ? tf.div(c, tf.add(r2, c)) : tf.exp(tf.mul(r2, -0.5 / c));
    };
    const zz = tf.tensor2d(z, [B, L]);
    const M = prior.shape[0];
    const kzz = tf.sum(k(zz, zz)).sub(B); // the diagonal is k(z, z) = 1
    const kpp = tf.sum(k(prior, prior)).sub(M);
    const kzp = tf.sum(k(zz, prior));
    const v = tf
      .add(tf.div(kzz, B * (B - 1)), tf.div(kpp, M * (M - 1)))
      .sub(tf.div(tf.mul(kzp, 2), B * M));
    return v.dataSync()[0] as number;
  });
}

/** The MLP encoder's dense layers as 2-D tensors (W [in, out], b [1, out]); the caller disposes. */
function encoderLayers(
  arch: MlpCvaeArchitecture,
  encoder: readonly tf.Tensor[],
): { w: tf.Tensor2D; b: tf.Tensor2D }[] {
  if (encoder.length !== 2 * (arch.encoderHidden.length + 1))
    throw new RangeError('The encoder parameters do not match the architecture.');
  const out: { w: tf.Tensor2D; b: tf.Tensor2D }[] = [];
  for (let i = 0; i < encoder.length; i += 2) {
    const w = encoder[i] as tf.Tensor;
    const b = encoder[i + 1] as tf.Tensor;
    out.push({
      w: tf.reshape(w, [w.shape[1] as number, w.shape[2] as number]) as tf.Tensor2D,
      b: tf.reshape(b, [1, b.size]) as tf.Tensor2D,
    });
  }
  return out;
}

/** The encoder's codes z ([B, L]) for a batch: x [B, D], y [B, classes], eps [B, L]. */
export function encodeCodes(
  arch: MlpCvaeArchitecture,
  encoder: readonly tf.Tensor[],
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  eps: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const layers = encoderLayers(arch, encoder);
    let h = tf.concat([x, y], 1) as tf.Tensor2D;
    layers.forEach((ly, i) => {
      const s = tf.add(tf.matMul(h, ly.w), ly.b) as tf.Tensor2D;
      h = i + 1 < layers.length ? tf.relu(s) : s;
    });
    const [mu, lv] = tf.split(h, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps)) as tf.Tensor2D;
  });
}

/** ‖J_i‖_F = ‖∂z_i/∂θ_encoder‖_F per record (module comment), exactly. */
export function jacobianNorms(
  arch: MlpCvaeArchitecture,
  encoder: readonly tf.Tensor[],
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  eps: tf.Tensor2D,
): Float64Array {
  const B = x.shape[0];
  const L = arch.latent;
  const sq = tf.tidy(() => {
    const layers = encoderLayers(arch, encoder);
    const inputs: tf.Tensor2D[] = [];
    const pre: tf.Tensor2D[] = [];
    let h = tf.concat([x, y], 1) as tf.Tensor2D;
    layers.forEach((ly, i) => {
      inputs.push(h);
      const s = tf.add(tf.matMul(h, ly.w), ly.b) as tf.Tensor2D;
      pre.push(s);
      h = i + 1 < layers.length ? tf.relu(s) : s;
    });
    const lv = tf.slice(h, [0, L], [B, L]);
    const d = tf.mul(tf.mul(tf.exp(tf.mul(lv, 0.5)), eps), 0.5); // ∂z_k/∂lv_k
    const n = layers.length;
    // Output layer: Q_out = [I, diag(d)], ‖Q_out‖² = L + ‖d‖².
    let total = tf.mul(
      tf.add(tf.sum(tf.square(inputs[n - 1] as tf.Tensor2D), 1), 1),
      tf.add(tf.sum(tf.square(d), 1), L),
    );
    if (n >= 2) {
      const wOut = (layers[n - 1] as { w: tf.Tensor2D }).w; // [H, 2L]
      const wMuT = tf.transpose(tf.slice(wOut, [0, 0], [wOut.shape[0], L])); // [L, H]
      const wLvT = tf.transpose(tf.slice(wOut, [0, L], [wOut.shape[0], L]));
      const H = wOut.shape[0];
      // Q for the last hidden layer, [B, L, H].
      let q: tf.Tensor = tf.add(tf.expandDims(wMuT, 0), tf.mul(tf.expandDims(d, 2), wLvT));
      for (let l = n - 2; l >= 0; l--) {
        const width = l === n - 2 ? H : (layers[l] as { w: tf.Tensor2D }).w.shape[1];
        const mask = tf.cast(tf.greater(pre[l] as tf.Tensor2D, 0), 'float32');
        q = tf.mul(q, tf.reshape(mask, [B, 1, width]));
        const qn = tf.sum(tf.square(q), [1, 2]);
        total = tf.add(
          total,
          tf.mul(tf.add(tf.sum(tf.square(inputs[l] as tf.Tensor2D), 1), 1), qn),
        );
        if (l > 0) {
          const w = (layers[l] as { w: tf.Tensor2D }).w; // [in, width]
          q = tf.reshape(tf.matMul(tf.reshape(q, [B * L, width]), w, false, true), [
            B,
            L,
            w.shape[0],
          ]);
        }
      }
    }
    return total;
  });
  const v = sq.dataSync();
  sq.dispose();
  const out = new Float64Array(B);
  for (let i = 0; i < B; i++) out[i] = Math.sqrt(Math.max(0, v[i] as number));
  return out;
}

/**
 * Σ_i J_iᵀ·c_i for fixed cotangents c ([B, L]): the gradient of Σ_i ⟨c_i, z_i(θ)⟩
 * with respect to the encoder's parameters (shaped like them).
 */
export function encoderVjp(
  arch: MlpCvaeArchitecture,
  encoder: readonly tf.Tensor[],
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  eps: tf.Tensor2D,
  cot: tf.Tensor2D,
): tf.Tensor[] {
  const f = (...ps: tf.Tensor[]): tf.Scalar =>
    tf.sum(tf.mul(encodeCodes(arch, ps, x, y, eps), cot));
  const { value, grads } = tf.valueAndGrads(f)(encoder as tf.Tensor[]);
  value.dispose();
  return grads;
}

/**
 * The term-wise divergence gradient (before noise) of one chunk of the batch:
 * Σ_i s_i·J_iᵀ·(λu_i), s_i = min(1, M_J/‖J_i‖_F) with M_J = C₂/(4λ), so
 * each record's own term is at most C₂ (module comment).
 */
export function termwiseDivergenceSum(
  arch: MlpCvaeArchitecture,
  encoder: readonly tf.Tensor[],
  batch: { x: tf.Tensor2D; y: tf.Tensor2D; eps: tf.Tensor2D },
  u: Float32Array,
  opts: { weight: number; clip: number },
): { grads: tf.Tensor[]; jacobianNorms: Float64Array } {
  const B = batch.x.shape[0];
  const L = arch.latent;
  const norms = jacobianNorms(arch, encoder, batch.x, batch.y, batch.eps);
  const jClip = (opts.clip / (4 * opts.weight)) * (1 - CLIP_MARGIN);
  const cot = new Float32Array(B * L);
  for (let i = 0; i < B; i++) {
    const n = norms[i] as number;
    if (!Number.isFinite(n))
      throw new RangeError('A per-example Jacobian is not finite; training has diverged.');
    const s = n > jClip ? jClip / n : 1;
    for (let k = 0; k < L; k++) cot[i * L + k] = opts.weight * s * (u[i * L + k] as number);
  }
  const c = tf.tensor2d(cot, [B, L]);
  try {
    return {
      grads: encoderVjp(arch, encoder, batch.x, batch.y, batch.eps, c),
      jacobianNorms: norms,
    };
  } finally {
    c.dispose();
  }
}

/**
 * The output gradients of the term-wise divergence term Σ_i s_i·λ⟨u_i, z_i⟩
 * at each encoder layer ([B, out] per layer, the caller disposes them), with
 * s_i = min(1, M_J/‖J_i‖_F), M_J = C₂/(4λ) (module comment), from the
 * encoder's activations of the clipped sum's own pass (dpsgd-clip.ts adds
 * their weight gradients to its products). Written out, no autodiff: the
 * output layer's gradient is [c, c ⊙ d] with c_i = s_i·λu_i, then
 * δ_{l−1} = (δ_l W_lᵀ) ⊙ relu′(s_{l−1}). Equal to the reference (tested).
 */
export function divergenceDeltas(
  act: EncoderActivations,
  u: Float32Array,
  opts: { weight: number; clip: number },
): { deltas: tf.Tensor2D[]; jacobianNorms: Float64Array } {
  const { inputs, masks, d, weights } = act;
  const [B, L] = d.shape;
  const n = weights.length;
  // Jacobian norms: ‖J_i‖²_F = Σ_l (‖a_{l−1}‖² + 1)·‖Q_l‖²_F (module comment).
  const sq = tf.tidy(() => {
    const rowSq = (t: tf.Tensor2D): tf.Tensor => tf.add(tf.sum(tf.square(t), 1), 1);
    let total = tf.mul(rowSq(inputs[n - 1] as tf.Tensor2D), tf.add(tf.sum(tf.square(d), 1), L));
    if (n >= 2) {
      const wOut = weights[n - 1] as tf.Tensor2D;
      const H = wOut.shape[0];
      const wMuT = tf.transpose(tf.slice(wOut, [0, 0], [H, L]));
      const wLvT = tf.transpose(tf.slice(wOut, [0, L], [H, L]));
      let q: tf.Tensor = tf.add(tf.expandDims(wMuT, 0), tf.mul(tf.expandDims(d, 2), wLvT));
      for (let l = n - 2; l >= 0; l--) {
        const width = (masks[l] as tf.Tensor2D).shape[1];
        q = tf.mul(q, tf.reshape(masks[l] as tf.Tensor2D, [B, 1, width]));
        total = tf.add(
          total,
          tf.mul(rowSq(inputs[l] as tf.Tensor2D), tf.sum(tf.square(q), [1, 2])),
        );
        if (l > 0) {
          const w = weights[l] as tf.Tensor2D;
          q = tf.reshape(tf.matMul(tf.reshape(q, [B * L, width]), w, false, true), [
            B,
            L,
            w.shape[0],
          ]);
        }
      }
    }
    return total;
  });
  const sqv = sq.dataSync();
  sq.dispose();
  const norms = new Float64Array(B);
  const jClip = (opts.clip / (4 * opts.weight)) * (1 - CLIP_MARGIN);
  const cot = new Float32Array(B * L);
  for (let i = 0; i < B; i++) {
    const nm = Math.sqrt(Math.max(0, sqv[i] as number));
    if (!Number.isFinite(nm))
      throw new RangeError('A per-example Jacobian is not finite; training has diverged.');
    norms[i] = nm;
    const s = nm > jClip ? jClip / nm : 1;
    for (let k = 0; k < L; k++) cot[i * L + k] = opts.weight * s * (u[i * L + k] as number);
  }
  const deltas = tf.tidy(() => {
    const c = tf.tensor2d(cot, [B, L]);
    const out: tf.Tensor2D[] = new Array<tf.Tensor2D>(n);
    let delta = tf.concat([c, tf.mul(c, d)], 1) as tf.Tensor2D;
    for (let l = n - 1; l >= 0; l--) {
      out[l] = delta;
      if (l > 0)
        delta = tf.mul(
          tf.matMul(delta, weights[l] as tf.Tensor2D, false, true),
          masks[l - 1] as tf.Tensor2D,
        ) as tf.Tensor2D;
    }
    return out;
  });
  return { deltas, jacobianNorms: norms };
}
