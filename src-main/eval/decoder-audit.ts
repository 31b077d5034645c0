/**
 * Membership audit of a released DP²-VAE decoder (audit.ts) with the score
 * the decoder alone gives: the log-likelihood of a record (x, y) under the
 * decoder, marginalised over the prior,
 *
 *   log p(x | y) ≈ log (1/S) Σ_s p(x | z_s, y),   z_s ~ N(0, I),
 *
 * a plain Monte-Carlo estimate from S prior draws (importance sampling with
 * the prior as proposal). No encoder is involved: the stage-1 and stage-2
 * encoders touched private data without noise and stay inside the run
 * (DESIGN.md, "The privacy boundary"); an attacker holding only the release
 * can compute exactly this score.
 *
 * With the Bernoulli likelihood of the model (pixel intensities x ∈ [0, 1],
 * logits l = decoder(z, y)),
 *
 *   log p(x | z, y) = Σ_d x_d·l_d − softplus(l_d),
 *
 * which is linear in x. So the S draws of a class are decoded once and shared
 * by every record of that class, and the per-record terms of a chunk of draws
 * are one matrix product [n, D] × [D, chunk]: 2 000 records against 4 096
 * draws per class cost about what generating 41 000 images does. Sharing the
 * draws between members and non-members also makes the comparison fair (same
 * Monte-Carlo error for both).
 *
 * Higher score = "member": a decoder that memorised its training records
 * gives them a higher likelihood than unseen records of the same classes.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import { imageSize, parameterSpecs, type Architecture } from '../engine/architecture';
import { decodeLogits } from '../engine/cvae';
import { SeededRng } from '../engine/rng';
import { auditFromScores, type MembershipAudit, type ScoreRecords } from './audit';
import { checkImages, type EvalImages } from './images';

/** Prior draws per class, unless given. */
export const DEFAULT_PRIOR_SAMPLES = 4096;
/** Member and non-member records scored by default (each). */
export const DEFAULT_AUDIT_RECORDS = 1000;
/** Prior draws decoded at once. */
const CHUNK = 1024;
/** Stream tags of the prior draws and of the choice of audit records. */
const PRIOR_STREAM = 0x7072696f;
const AUDIT_PICK_STREAM = 0x7069636b;

/** What the score is, in words (stored and shown with the audit). */
export function decoderScoreDescription(samples: number): string {
  return (
    `log-likelihood log p(x | y) of each record under the released decoder, ` +
    `a Monte-Carlo average over ${samples} prior draws z ~ N(0, I) per class (no encoder)`
  );
}

/** The released decoder: its architecture and one weight array per parameter. */
export interface ReleasedDecoder {
  arch: Architecture;
  weights: readonly Float32Array[];
}

/**
 * A {@link ScoreRecords} giving each record its Monte-Carlo log p(x | y)
 * under `decoder` (module comment). Deterministic for a seed (on one backend).
 */
export function decoderLikelihoodScorer(
  decoder: ReleasedDecoder,
  options: { samples?: number; seed?: number } = {},
): ScoreRecords {
  const { arch, weights } = decoder;
  const samples = options.samples ?? DEFAULT_PRIOR_SAMPLES;
  if (!Number.isSafeInteger(samples) || samples < 1) {
    throw new UserError(
      'INVALID_INPUT',
      `The audit needs a whole number of prior draws ≥ 1; got ${samples}.`,
    );
  }
  const specs = parameterSpecs(arch, 'decoder');
  if (weights.length !== specs.length) {
    throw new UserError('CORRUPT_DATA', 'The decoder does not match its architecture.');
  }
  if (weights.some((w) => w.some((v) => !Number.isFinite(v)))) {
    throw new UserError(
      'INVALID_INPUT',
      'The released decoder has weights that are not finite numbers (its training diverged), so it gives no likelihood to audit.',
    );
  }
  const d = imageSize(arch);
  return (x, y, shape) => {
    const { height, width, channels } = arch.image;
    if (shape.height !== height || shape.width !== width || shape.channels !== channels) {
      throw new UserError(
        'INVALID_INPUT',
        `The audit records are ${shape.height}×${shape.width}×${shape.channels} but the decoder makes ` +
          `${height}×${width}×${channels} images.`,
      );
    }
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < shape.count; i++) {
      const label = y[i] as number;
      if (!Number.isInteger(label) || label < 0 || label >= arch.classes) {
        throw new UserError(
          'INVALID_INPUT',
          `Audit record ${i + 1} has label ${label}; the decoder knows classes 0 … ${arch.classes - 1}.`,
        );
      }
      let list = byClass.get(label);
      if (!list) byClass.set(label, (list = []));
      list.push(i);
    }
    const scores = new Float64Array(shape.count);
    const params = weights.map((a, i) =>
      tf.tensor(a, [1, ...(specs[i] as { shape: number[] }).shape], 'float32'),
    );
    try {
      for (const [label, records] of byClass) {
        const n = records.length;
        const pixels = new Float32Array(n * d);
        records.forEach((r, i) => {
          for (let j = 0; j < d; j++) pixels[i * d + j] = (x[r * d + j] as number) / 255;
        });
        const xs = tf.tensor2d(pixels, [n, d]);
        const total = new Float64Array(n).fill(-Infinity);
        const rng = SeededRng.fromSeed(options.seed ?? 0, PRIOR_STREAM, label);
        try {
          for (let s0 = 0; s0 < samples; s0 += CHUNK) {
            const m = Math.min(CHUNK, samples - s0);
            const z = new Float32Array(m * arch.latent);
            rng.fillNormal(z);
            const lse = tf.tidy(() => {
              const zt = tf.tensor3d(z, [1, m, arch.latent]);
              const yt = tf.reshape(
                tf.oneHot(tf.fill([m], label, 'int32') as tf.Tensor1D, arch.classes).toFloat(),
                [1, m, arch.classes],
              ) as tf.Tensor3D;
              const logits = tf.reshape(decodeLogits(arch, params, zt, yt), [m, d]);
              // log p(x | z_s, y) = x·l_s − Σ_d softplus(l_sd): [n, m]
              const offset = tf.neg(tf.sum(tf.softplus(logits), 1));
              const ll = tf.add(tf.matMul(xs, tf.transpose(logits)), offset);
              return tf.logSumExp(ll, 1);
            });
            const part = lse.dataSync();
            lse.dispose();
            for (let i = 0; i < n; i++) {
              const a = total[i] as number;
              const b = part[i] as number;
              const hi = Math.max(a, b);
              total[i] = hi === -Infinity ? hi : hi + Math.log(Math.exp(a - hi) + Math.exp(b - hi));
            }
          }
        } finally {
          xs.dispose();
        }
        const logS = Math.log(samples);
        records.forEach((r, i) => (scores[r] = (total[i] as number) - logS));
      }
    } finally {
      tf.dispose(params);
    }
    return scores;
  };
}

/** `count` records of `set` chosen without replacement by a seeded draw, in index order. */
export function sampleRecords(set: EvalImages, count: number, seed: number): EvalImages {
  const g = checkImages(set, 'the audit records');
  const size = g.height * g.width * g.channels;
  const idx = Array.from({ length: set.count }, (_, i) => i);
  SeededRng.fromSeed(seed, AUDIT_PICK_STREAM, set.count).shuffle(idx);
  const keep = idx.slice(0, Math.min(count, set.count)).sort((a, b) => a - b);
  const x = new Uint8Array(keep.length * size);
  keep.forEach((r, i) => x.set(set.x.subarray(r * size, (r + 1) * size), i * size));
  return {
    x,
    y: keep.map((r) => set.y[r] as number),
    count: keep.length,
    height: g.height,
    width: g.width,
    channels: g.channels,
  };
}

/** The audit of a released decoder, with how its records were scored. */
export interface DecoderAudit extends MembershipAudit {
  scorer: string;
}

/**
 * Audits a released decoder: `records` members drawn from its training
 * split and as many non-members from the held-out test split, scored
 * together in one pass (the prior draws are shared), then compared with
 * what (ε, δ) allows (audit.ts).
 */
export async function auditDecoder(options: {
  decoder: ReleasedDecoder;
  /** The run's training split (every record was a member). */
  train: EvalImages;
  /** The data set's held-out split (no record was a member). */
  test: EvalImages;
  epsilon: number;
  delta: number;
  records?: number;
  samples?: number;
  seed?: number;
  fpr?: number;
}): Promise<DecoderAudit> {
  const records = options.records ?? DEFAULT_AUDIT_RECORDS;
  const seed = options.seed ?? 0;
  const samples = options.samples ?? DEFAULT_PRIOR_SAMPLES;
  const n = Math.min(records, options.train.count, options.test.count);
  if (n < 1) {
    throw new UserError(
      'INVALID_INPUT',
      'The membership audit needs at least one training and one held-out record.',
    );
  }
  const members = sampleRecords(options.train, n, seed);
  const nonMembers = sampleRecords(options.test, n, seed + 1);
  const size = members.height * members.width * (members.channels ?? 1);
  const x = new Uint8Array(2 * n * size);
  x.set(members.x, 0);
  x.set(nonMembers.x, n * size);
  const y = [...Array.from(members.y), ...Array.from(nonMembers.y)];
  const score = decoderLikelihoodScorer(options.decoder, { samples, seed });
  const scores = await score(x, y, {
    count: 2 * n,
    height: members.height,
    width: members.width,
    channels: members.channels ?? 1,
  });
  const audit = auditFromScores({
    memberScores: scores.subarray(0, n),
    nonMemberScores: scores.subarray(n),
    epsilon: options.epsilon,
    delta: options.delta,
    fpr: options.fpr,
  });
  return { ...audit, scorer: decoderScoreDescription(samples) };
}
