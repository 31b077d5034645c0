/**
 * The random values that enter a per-record computation (the VAE's
 * reparameterisation noise ε_i of record i in a DP-SGD step).
 *
 * Why this is its own seam: the Poisson-subsampled Gaussian bound (Abadi et
 * al. 2016; Mironov, Talwar, Zhang 2019) assumes that adding or removing one
 * record changes ONE clipped term of the noisy sum. If ε_i were drawn by
 * position in the batch from one seeded stream, the presence of record j
 * would shift the values every later record gets, in this step and all later
 * ones, and the sensitivity would no longer be C. So every value handed out
 * here depends only on the record it is for and on randomness that is
 * independent of which other records were sampled.
 */
import { SecureGaussian } from './secure-noise';
import { SeededRng } from './rng';

/** A source of N(0, 1) values for one record's computation in one step. */
export interface RecordNoise {
  /**
   * Fills `out` with independent N(0, 1) values for `record` (its index in the
   * training data) in noisy step `step` (1-based). Implementations must not
   * depend on which other records are in the step's sample, nor on the order
   * in which records are asked for.
   */
  fill(args: { record: number; step: number; out: Float32Array }): void;
  /**
   * How to make the same source in another thread (dpsgd-threads.ts); a
   * source without one keeps its computations in the thread that owns it.
   */
  spec?: RecordNoiseSpec;
}

/** A record-noise source described in data, so that a worker thread can make its own. */
export type RecordNoiseSpec = { kind: 'secure' } | { kind: 'keyed'; key: number };

/** The source a spec describes (a secure one draws from this thread's CSPRNG). */
export function recordNoiseFromSpec(spec: RecordNoiseSpec): RecordNoise {
  return spec.kind === 'secure' ? secureRecordNoise() : keyedRecordNoise(spec.key);
}

/**
 * The production source: fresh values from the operating system's CSPRNG
 * (node:crypto) for every request. Independent of everything, so also of
 * which records were sampled; not reproducible from a seed by design.
 */
export function secureRecordNoise(): RecordNoise {
  const gaussian = new SecureGaussian();
  return { fill: ({ out }) => void gaussian.fill(out, 1), spec: { kind: 'secure' } };
}

/**
 * A reproducible source keyed by (key, record, step): the same record in the
 * same step always gets the same values, whatever else was sampled. For
 * tests that compare per-example computations across different samples; the
 * app trains with {@link secureRecordNoise}.
 */
export function keyedRecordNoise(key: number): RecordNoise {
  return {
    fill: ({ record, step, out }) => SeededRng.fromSeed(key, record, step).fillNormal(out),
    spec: { kind: 'keyed', key },
  };
}
