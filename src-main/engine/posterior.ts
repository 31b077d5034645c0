/**
 * Per-record encoders: DP²-VAE (Jiang et al., arXiv 2208.03409) taken to
 * K = N blocks. Each record i keeps its own Gaussian posterior
 * q_i(z) = N(μ_i, diag(exp(log σ²_i))) instead of sharing an encoder
 * network. Whenever record i is sampled, its posterior is refined WITHOUT
 * noise by a few gradient steps on its own negative ELBO against the current
 * decoder (Kingma & Welling 2014, eq. 10, with the decoder held fixed):
 *
 *   (μ_i, log σ²_i) ← (μ_i, log σ²_i) − η·∇ [ −log p_φ(x_i | μ_i + σ_i ⊙ ε, y_i) + KL(q_i ‖ N(0, I)) ]
 *
 * Why no noise is needed: the posterior is never released, and it is a
 * function of record i, of the decoders released so far and of randomness
 * drawn for record i alone (record-noise.ts). The decoder's per-example
 * gradient of record i therefore still depends on record i only, so adding
 * or removing a record changes one clipped term of the noisy sum: the
 * Poisson-subsampled Gaussian mechanism of DP-SGD (Abadi et al. 2016) with
 * its accountants applies unchanged (adaptive composition: the decoders
 * released before a step may be used in it).
 *
 * The table holds 2·latent floats per record (128 bytes at latent 16, less
 * than a 28×28 image); records never visited keep the prior N(0, I).
 */
import * as tf from '@tensorflow/tfjs';
import type { Architecture } from './architecture';
import { decodeLogits, sigmoidCrossEntropy } from './cvae';
import { logImportanceWeights, negativeBound, sampleRowIndex } from './importance';

/** Every record's posterior parameters and how often it was refined (private training state). */
export interface PosteriorTable {
  latent: number;
  /** [N·latent] means. */
  mu: Float32Array;
  /** [N·latent] log-variances. */
  logvar: Float32Array;
  /** [N] refinements so far (0: never sampled, still the prior). */
  visits: Uint32Array;
}

/** How a sampled record's posterior is refined (no privacy cost: the result is never released). */
export interface RefineOptions {
  /** Gradient steps on a record already visited. */
  steps: number;
  /** Gradient steps on a record's first visit (a warm start from the prior). */
  firstVisitSteps: number;
  /** Step size η. */
  lr: number;
  /**
   * Importance samples K (default 1, the ELBO): with K > 1 a record's
   * posterior follows the importance-weighted bound of importance.ts, and so
   * does the decoder's gradient (dpsgd-clip.ts).
   */
  samples?: number;
}

/** The log-variance is kept in this range (a record's posterior never collapses or explodes). */
const LOGVAR_RANGE = [-12, 4] as const;

/**
 * ∂/∂z of the reconstruction term Σ_pixels BCE(x, sigmoid(logits(z, y))) for
 * the MLP decoder, by hand: the logits' gradient is sigmoid(l) − x, then back
 * through the dense layers (ReLU masks from the forward pass). No weight
 * gradient is formed: the decoder is fixed here.
 */
function reconGradMlp(
  hidden: number,
  dec: readonly tf.Tensor[],
  z: tf.Tensor2D,
  y: tf.Tensor2D,
  x: tf.Tensor2D,
): tf.Tensor2D {
  const w = (i: number): tf.Tensor2D => {
    const t = dec[2 * i] as tf.Tensor;
    return tf.reshape(t, [t.shape[1] as number, t.shape[2] as number]);
  };
  const b = (i: number): tf.Tensor => dec[2 * i + 1] as tf.Tensor;
  const acts: tf.Tensor2D[] = [];
  let h = tf.concat([z, y], 1) as tf.Tensor2D;
  for (let i = 0; i < hidden; i++) {
    h = tf.relu(tf.add(tf.matMul(h, w(i)), tf.reshape(b(i), [1, -1]))) as tf.Tensor2D;
    acts.push(h);
  }
  const logits = tf.add(tf.matMul(h, w(hidden)), tf.reshape(b(hidden), [1, -1]));
  let g = tf.sub(tf.sigmoid(logits), x) as tf.Tensor2D;
  for (let i = hidden; i >= 1; i--) {
    g = tf.matMul(g, w(i), false, true);
    g = tf.mul(g, tf.step(acts[i - 1] as tf.Tensor2D)) as tf.Tensor2D;
  }
  g = tf.matMul(g, w(0), false, true);
  return tf.slice(g, [0, 0], [g.shape[0], z.shape[1]]);
}

/** The same for any decoder, by automatic differentiation. */
function reconGradAuto(
  arch: Architecture,
  dec: readonly tf.Tensor[],
  z: tf.Tensor2D,
  y3: tf.Tensor3D,
  x3: tf.Tensor3D,
): tf.Tensor2D {
  const [B, k] = z.shape;
  return tf.grad((zz: tf.Tensor) => {
    const logits = decodeLogits(arch, dec, tf.reshape(zz, [1, B, k]) as tf.Tensor3D, y3);
    return tf.sum(sigmoidCrossEntropy(logits, x3));
  })(z) as tf.Tensor2D;
}

/** A table of N records at the prior N(0, I). */
export function priorPosteriors(records: number, latent: number): PosteriorTable {
  return {
    latent,
    mu: new Float32Array(records * latent),
    logvar: new Float32Array(records * latent),
    visits: new Uint32Array(records),
  };
}

/** The posteriors of `records`, as [B·latent] arrays in the order given. */
export function gatherPosteriors(
  table: PosteriorTable,
  records: Uint32Array,
): { mu: Float32Array; logvar: Float32Array } {
  const k = table.latent;
  const mu = new Float32Array(records.length * k);
  const logvar = new Float32Array(records.length * k);
  records.forEach((rec, r) => {
    mu.set(table.mu.subarray(rec * k, (rec + 1) * k), r * k);
    logvar.set(table.logvar.subarray(rec * k, (rec + 1) * k), r * k);
  });
  return { mu, logvar };
}

/** Writes refined posteriors of `records` back and counts the visit. */
export function scatterPosteriors(
  table: PosteriorTable,
  records: Uint32Array,
  refined: { mu: Float32Array; logvar: Float32Array },
): void {
  const k = table.latent;
  records.forEach((rec, r) => {
    table.mu.set(refined.mu.subarray(r * k, (r + 1) * k), rec * k);
    table.logvar.set(refined.logvar.subarray(r * k, (r + 1) * k), rec * k);
    table.visits[rec] = (table.visits[rec] as number) + 1;
  });
}

/**
 * Refines a batch of posteriors against a fixed decoder (module comment).
 * Each record's loss involves only its own row, so one gradient of the summed
 * loss gives every record its own gradient. Record r takes `stepsOf[r]`
 * steps, step s with ε = row r of `eps[s]` (drawn for that record alone);
 * records are refined in groups of equal step counts, so a few first visits
 * do not make the whole batch take the longer warm start. With K importance
 * samples, `eps[s]` holds K rows per record and the step follows −L_K
 * (importance.ts) instead of −ELBO.
 * @returns the refined (μ, log σ²) as [B·latent] arrays.
 */
export function refinePosteriors(
  arch: Architecture,
  decoder: readonly tf.Tensor[],
  batch: {
    x: tf.Tensor2D;
    y: tf.Tensor2D;
    mu: Float32Array;
    logvar: Float32Array;
    stepsOf: Uint8Array;
    eps: readonly Float32Array[];
  },
  how: { lr: number; samples: number },
): { mu: Float32Array; logvar: Float32Array } {
  const k = arch.latent;
  const K = how.samples;
  const mu = batch.mu.slice();
  const logvar = batch.logvar.slice();
  for (const steps of new Set(batch.stepsOf)) {
    if (steps === 0) continue;
    const rows: number[] = [];
    batch.stepsOf.forEach((n, r) => {
      if (n === steps) rows.push(r);
    });
    // `per` floats per record: k for a posterior, K·k for the noise of one step.
    const pick = (a: Float32Array, per = k): Float32Array => {
      const out = new Float32Array(rows.length * per);
      rows.forEach((r, i) => out.set(a.subarray(r * per, (r + 1) * per), i * per));
      return out;
    };
    const idx = tf.tensor1d(rows, 'int32');
    const x = tf.gather(batch.x, idx);
    const y = tf.gather(batch.y, idx);
    let group: { mu: Float32Array; logvar: Float32Array };
    try {
      group = refineGroup(arch, decoder, {
        x,
        y,
        mu: pick(mu),
        logvar: pick(logvar),
        eps: batch.eps.slice(0, steps).map((e) => pick(e, K * k)),
        lr: how.lr,
        samples: K,
      });
    } finally {
      tf.dispose([idx, x, y]);
    }
    rows.forEach((r, i) => {
      mu.set(group.mu.subarray(i * k, (i + 1) * k), r * k);
      logvar.set(group.logvar.subarray(i * k, (i + 1) * k), r * k);
    });
  }
  return { mu, logvar };
}

/** `eps.length` plain gradient steps on every record of the group. */
function refineGroup(
  arch: Architecture,
  decoder: readonly tf.Tensor[],
  g: {
    x: tf.Tensor2D;
    y: tf.Tensor2D;
    mu: Float32Array;
    logvar: Float32Array;
    eps: readonly Float32Array[];
    lr: number;
    samples: number;
  },
): { mu: Float32Array; logvar: Float32Array } {
  const B = g.x.shape[0];
  const k = arch.latent;
  const K = g.samples;
  // With importance samples: x and y repeated K times, one row per sample.
  const sampleRows =
    K > 1
      ? tf.tidy(() => {
          const idx = sampleRowIndex(B, K);
          return { x: tf.gather(g.x, idx), y: tf.gather(g.y, idx) };
        })
      : null;
  let mu = tf.tensor2d(g.mu, [B, k]);
  let logvar = tf.tensor2d(g.logvar, [B, k]);
  const x3 = tf.reshape(g.x, [1, B, g.x.shape[1]]) as tf.Tensor3D;
  const y3 = tf.reshape(g.y, [1, B, g.y.shape[1]]) as tf.Tensor3D;
  const step = (gm: tf.Tensor, glv: tf.Tensor) => ({
    mu: tf.sub(mu, tf.mul(gm, g.lr)) as tf.Tensor2D,
    logvar: tf.clipByValue(tf.sub(logvar, tf.mul(glv, g.lr)), ...LOGVAR_RANGE) as tf.Tensor2D,
  });
  try {
    for (const epsArr of g.eps) {
      const next = tf.tidy(() => {
        if (sampleRows) {
          // −L_K by automatic differentiation with respect to (μ, log σ²) only.
          const rows = { ...sampleRows, eps: tf.tensor2d(epsArr, [B * K, k]) };
          const [gm, glv] = tf.grads((m: tf.Tensor, lv: tf.Tensor) =>
            negativeBound(
              logImportanceWeights(arch, decoder, rows, {
                mu: m as tf.Tensor2D,
                logvar: lv as tf.Tensor2D,
              }),
              K,
            ),
          )([mu, logvar]) as [tf.Tensor2D, tf.Tensor2D];
          return step(gm, glv);
        }
        const eps = tf.tensor2d(epsArr, [B, k]);
        const sd = tf.exp(tf.mul(logvar, 0.5));
        const z = tf.add(mu, tf.mul(sd, eps)) as tf.Tensor2D;
        // ∂(−log p)/∂z, then the chain rule through z = μ + σ ⊙ ε, plus the KL term's own gradient.
        const gz =
          arch.kind === 'mlp-cvae'
            ? reconGradMlp(arch.decoderHidden.length, decoder, z, g.y, g.x)
            : reconGradAuto(arch, decoder, z, y3, x3);
        return step(
          tf.add(gz, mu),
          tf.add(tf.mul(tf.mul(gz, eps), tf.mul(sd, 0.5)), tf.mul(tf.sub(tf.exp(logvar), 1), 0.5)),
        );
      });
      mu.dispose();
      logvar.dispose();
      mu = next.mu;
      logvar = next.logvar;
    }
    return {
      mu: Float32Array.from(mu.dataSync() as Float32Array),
      logvar: Float32Array.from(logvar.dataSync() as Float32Array),
    };
  } finally {
    tf.dispose([mu, logvar, x3, y3]);
    if (sampleRows) tf.dispose([sampleRows.x, sampleRows.y]);
  }
}
