/**
 * The privacy certificate of a released decoder, for either training method,
 * in the format of DESIGN.md ("Synthetic data exchange format"). DP²-VAE's
 * comes from src-main/privacy/certificate.ts; DP-SGD's is built here the same
 * way: ε is never taken from the caller, it is recomputed from the
 * certificate's own fields by the accountant (`epsilonOf`), and only
 * releasable facts go in (no loss or score computed on private data).
 *
 * A DP-SGD certificate: `method: 'dpsgd'`, the mechanism (each step a Poisson
 * sample with rate q, per-example gradients of the whole CVAE clipped to C,
 * their sum plus N(0, σ²C²I)), add/remove adjacency, `blocks: null` and
 * `sample_rate: q`. Anyone can check it:
 * `dp2 account --mechanism dpsgd --q Q --sigma S --steps T --delta D`.
 */
import { UserError } from '../contract/errors';
import { ACCOUNTANT_VERSION, epsilonOf, PLD_ACCOUNTANT_VERSION } from '../privacy';
import { buildCertificate, certificateInWords, type Certificate } from '../privacy/certificate';
import type { RunPlan } from './protocol';

/** What a DP-SGD certificate's `mechanism` field names. */
export const DPSGD_CERT_MECHANISM = 'poisson-subsampled-gaussian-per-example-clipping';

/** The certificate of a decoder trained by DP-SGD (snake_case keys: the file format). */
export interface DpsgdCertificate {
  method: 'dpsgd';
  mechanism: typeof DPSGD_CERT_MECHANISM;
  /** Neighbouring data sets differ by adding or removing one record. */
  adjacency: 'add-remove';
  /** DP-SGD has no blocks. */
  blocks: null;
  /** q: each record joined each step's batch independently with this probability. */
  sample_rate: number;
  /** σ: noise std σ·C on the sum of clipped per-example gradients. */
  sigma: number;
  /** C: the per-example clipping norm (encoder and decoder gradient as one vector). */
  clip: number;
  /** T: noisy steps taken by the released decoder. */
  steps: number;
  delta: number;
  /** ε at δ after T steps, recomputed by the accountant. */
  epsilon: number;
  accountant: string;
  dataset_fingerprint: string;
  backend: string;
  version: string;
  created: string;
}

export type RunCertificate = Certificate | DpsgdCertificate;

export interface RunCertificateInput {
  plan: RunPlan;
  steps: number;
  delta: number;
  datasetFingerprint: string;
  backend: string;
  version: string;
  created?: Date;
}

function bad(what: string, value: unknown): never {
  throw new UserError(
    'INVALID_INPUT',
    `A privacy certificate cannot be made: ${what} is not valid (${String(value)}).`,
  );
}

/** The certificate of a released decoder of a run of either method; ε is recomputed. */
export function buildRunCertificate(input: RunCertificateInput): RunCertificate {
  const { plan, steps, delta } = input;
  if (plan.method !== 'dpsgd') {
    return buildCertificate({
      blocks: plan.blocks,
      sigma: plan.sigma,
      clip: plan.clip,
      steps,
      delta,
      accountant: plan.accountant ?? 'rdp',
      datasetFingerprint: input.datasetFingerprint,
      backend: input.backend,
      version: input.version,
      ...(input.created ? { created: input.created } : {}),
    });
  }
  const { sampleRate, sigma, clip } = plan;
  const accountant = plan.accountant ?? 'rdp';
  if (!(sampleRate > 0 && sampleRate <= 1)) bad('the sampling rate q', sampleRate);
  if (!(sigma > 0) || !Number.isFinite(sigma)) bad('the noise σ', sigma);
  if (!(clip > 0) || !Number.isFinite(clip)) bad('the clipping norm C', clip);
  if (!Number.isSafeInteger(steps) || steps < 0) bad('the number of steps T', steps);
  if (!(delta > 0 && delta < 1)) bad('δ', delta);
  if (typeof input.datasetFingerprint !== 'string' || input.datasetFingerprint === '')
    bad('the data set fingerprint', input.datasetFingerprint);
  const epsilon =
    steps === 0
      ? 0
      : epsilonOf({ spec: { mechanism: 'dpsgd', sampleRate, sigma, steps }, delta, accountant })
          .epsilon;
  if (!Number.isFinite(epsilon)) bad('the resulting ε', epsilon);
  return {
    method: 'dpsgd',
    mechanism: DPSGD_CERT_MECHANISM,
    adjacency: 'add-remove',
    blocks: null,
    sample_rate: sampleRate,
    sigma,
    clip,
    steps,
    delta,
    epsilon,
    accountant: accountant === 'pld' ? PLD_ACCOUNTANT_VERSION : ACCOUNTANT_VERSION,
    dataset_fingerprint: input.datasetFingerprint,
    backend: input.backend,
    version: input.version,
    created: (input.created ?? new Date()).toISOString(),
  };
}

const num = (x: number, digits = 3): string => Number(x.toPrecision(digits)).toString();

/** Plain-language lines for a certificate of either method. */
export function runCertificateInWords(cert: RunCertificate): string[] {
  if (cert.method !== 'dpsgd') return certificateInWords(cert);
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const pld = cert.accountant.startsWith('dp2-pld/');
  return [
    `This generator was trained with DP-SGD, a differentially private method, on the data set with fingerprint ${cert.dataset_fingerprint.slice(0, 12)}….`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome of training at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: in each of ${cert.steps} training steps, every image joined the step independently with probability ${num(cert.sample_rate)}; each image's gradient was clipped to length ${num(cert.clip)}, and Gaussian noise of size ${num(cert.sigma)} × ${num(cert.clip)} was added to their sum before the model learned from it.`,
    'Only the generator (the decoder) and images drawn from it are released. The encoder, checkpoints and training losses stay on this computer.',
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, Poisson subsampling) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dpsgd --q ${cert.sample_rate} --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}
