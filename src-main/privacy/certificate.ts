/**
 * The privacy certificate of a released DP²-VAE decoder (Jiang et al., arXiv
 * 2208.03409), in the format of DESIGN.md ("Synthetic data exchange format"):
 * `{ method, mechanism, adjacency, blocks, sigma, clip, steps, delta, epsilon,
 * accountant, dataset_id, public, backend, version, created }`.
 *
 * ε is never taken from the caller: it is recomputed here from the
 * certificate's own fields with `epsilonOf` (the certified accountant: RDP by
 * default, PLD when asked), so a certificate always states what its
 * parameters imply. Anyone can check it:
 * `dp2 account --mechanism dp2vae --blocks K --sigma S --steps T --delta D`
 * (plus `--accountant pld` for a PLD certificate).
 *
 * Only releasable facts go in: the mechanism's parameters, the data set's
 * random identifier (made at import; never a hash of the images: a hash is a
 * noise-free function of every record and would void the guarantee), what
 * the release treats as public, the backend and versions. No loss, score,
 * count or figure computed on private data without noise.
 */
import { UserError } from '../contract/errors';
import {
  accountantVersion,
  epsilonOf,
  validateAccountant,
  type AccountantKind,
  type MechanismSpec,
} from './mechanisms';
import { composedEpsilon } from './compose-specs';
import { termsSigma, type TermNoise } from './termwise';

/** What the certificate's `mechanism` field names. */
export const DP2VAE_CERT_MECHANISM = 'gaussian-block-sampling-without-replacement';

/** The fields every certificate has, whatever the method (snake_case keys: the file format). */
interface CertificateCommon {
  /** σ: the noise std is σ·C. */
  sigma: number;
  /** C: the clipping norm. */
  clip: number;
  /** T: noisy steps taken by the released decoder. */
  steps: number;
  delta: number;
  /** ε at δ after T steps, recomputed by the accountant. */
  epsilon: number;
  /** The accountant's name and version ("dp2-rdp/…" or "dp2-pld/…"). */
  accountant: string;
  /** The data set's random identifier, made at import (says nothing about its images). */
  dataset_id: string;
  /** What the guarantee treats as public (not protected by it), in words. */
  public: string[];
  /** The TensorFlow.js backend that trained it. */
  backend: string;
  /** DP² Studio's version. */
  version: string;
  /** ISO-8601 time the certificate was made. */
  created: string;
  /** Set when this version re-issued an older certificate (ISO-8601), with why. */
  reissued?: { at: string; by: string; why: string };
}

/**
 * A DP²-VAE privacy certificate. σ·C is the noise on the clipped block-mean
 * decoder gradient. The accountant is RDP with the Wang–Balle–Kasiviswanathan
 * bound, or PLD of the symmetrised Poisson pair at q = 1/K, z = σ/2 (valid
 * when stage-2 encoders are frozen).
 */
export interface Certificate extends CertificateCommon {
  /** The training method: DP²-VAE. */
  method: 'dp2vae';
  /** Each stage-2 step: one of K blocks picked without replacement, clipped block-mean gradient + N(0, σ²C²I), sensitivity 2C. */
  mechanism: typeof DP2VAE_CERT_MECHANISM;
  /** Neighbouring data sets differ by replacing one record. */
  adjacency: 'replace-one';
  /** K. */
  blocks: number;
}

/** What a DP-SGD certificate's `mechanism` field names. */
export const DPSGD_CERT_MECHANISM = 'poisson-subsampled-gaussian-per-example-clipping';

/**
 * The methods whose release is certified as the Poisson-subsampled Gaussian
 * on per-example gradients: two generators (their decoder) and a classifier
 * (`randp`: a linear model on the random-process prior's features).
 */
export type PoissonMethod = 'dpsgd' | 'dp2vae-per-record' | 'randp' | 'termwise';

/** The public prior a release was computed with (shipped with the app; made without any real image). */
export interface CertificatePrior {
  name: string;
  weights_sha256: string;
  statement: string;
}

/**
 * The certificate of a decoder trained by DP-SGD: σ·C is the noise on the
 * sum of clipped per-example gradients (encoder and decoder as one vector;
 * with per-record encoders, the decoder's alone).
 */
export interface DpsgdCertificate extends CertificateCommon {
  method: PoissonMethod;
  mechanism: typeof DPSGD_CERT_MECHANISM;
  /** Neighbouring data sets differ by adding or removing one record. */
  adjacency: 'add-remove';
  /** DP-SGD has no blocks. */
  blocks: null;
  /** q: each record joined each step's batch independently with this probability. */
  sample_rate: number;
  /** For a classifier on the prior's features (`randp`): the prior. */
  prior?: CertificatePrior;
  /**
   * Term-wise DP-SGD (`termwise`): each randomised term's clip, sensitivity
   * and noise multiplier; `sigma` is then the pair's (Σ σ_t⁻²)^(−1/2), what
   * ε is computed from, and `clip` is C₁ (each term's noise is σ_t × its
   * sensitivity).
   */
  terms?: TermNoise[];
}

/** What a `mepf` certificate's `mechanism` field names. */
export const MEPF_CERT_MECHANISM = 'gaussian-class-sums-of-features';

/**
 * The certificate of a decoder trained on a `mepf` release: one Gaussian
 * mechanism on [S_1 … S_K, w·n_1 … w·n_K], the class sums of per-image
 * features of length at most C = 1 and the weighted class counts, with noise
 * N(0, σ²Δ²) per coordinate, Δ = √(C² + w²). The generator learned from the
 * release alone (post-processing).
 */
export interface MepfCertificate extends CertificateCommon {
  method: 'mepf';
  mechanism: typeof MEPF_CERT_MECHANISM;
  adjacency: 'add-remove';
  blocks: null;
  /** Every record is in the one release (sampling rate 1). */
  sample_rate: 1;
  /** w: the weight of the class counts. */
  count_weight: number;
  /** Δ = √(C² + w²): how far one record can move the released vector. */
  sensitivity: number;
  /** The features φ: their source, and for the prior its identity (public: shipped with the app). */
  features: {
    source: 'prior' | 'random-net' | 'rff';
    prior?: { name: string; weights_sha256: string; statement: string };
  };
  /**
   * When the images are labelled by a released private classifier: that
   * classifier's mechanism and ε alone (as its own certificate states them).
   * `epsilon` is then the release and the classifier composed, and
   * `release_epsilon` the release's alone.
   */
  labeller?: LabellerSection;
  release_epsilon?: number;
}

/** The private classifier that labelled a generator's images, in the generator's certificate. */
export type LabellerSection = Pick<
  DpsgdCertificate,
  | 'method'
  | 'mechanism'
  | 'adjacency'
  | 'sample_rate'
  | 'sigma'
  | 'clip'
  | 'steps'
  | 'epsilon'
  | 'accountant'
  | 'prior'
> & {
  /** The run that trained it (in the app that made this certificate). */
  run: number;
  /** How ε of the images composes the two. */
  composition: string;
};

/** A released decoder's certificate, of any method. */
export type AnyCertificate = Certificate | DpsgdCertificate | MepfCertificate;

export interface CertificateInput {
  blocks: number;
  sigma: number;
  clip: number;
  steps: number;
  delta: number;
  /** The data set's random public identifier (`Dataset.publicId`). */
  datasetId: string;
  backend: string;
  /** The app's version. */
  version: string;
  /** Defaults to now. */
  created?: Date;
  /** The accountant that certifies ε (default 'rdp'). */
  accountant?: AccountantKind;
}

function bad(what: string, value: unknown): never {
  throw new UserError(
    'INVALID_INPUT',
    `A privacy certificate cannot be made: ${what} is not valid (${String(value)}).`,
  );
}

/**
 * Checks the fields every certificate has and recomputes ε of `spec` with the
 * accountant: ε is never taken from the caller.
 */
function certifiedEpsilon(
  spec: MechanismSpec,
  common: { clip: number; delta: number; datasetId: unknown; accountant: AccountantKind },
): number {
  const { sigma, steps } = spec;
  const { clip, delta, accountant } = common;
  if (!(sigma > 0) || !Number.isFinite(sigma)) bad('the noise σ', sigma);
  if (!(clip > 0) || !Number.isFinite(clip)) bad('the clipping norm C', clip);
  if (!Number.isSafeInteger(steps) || steps < 0) bad('the number of steps T', steps);
  if (!(delta > 0 && delta < 1)) bad('δ', delta);
  if (typeof common.datasetId !== 'string' || !/^[0-9a-f]{32}$/.test(common.datasetId))
    bad('the data set identifier', common.datasetId);
  const epsilon = steps === 0 ? 0 : epsilonOf({ spec, delta, accountant }).epsilon;
  if (!Number.isFinite(epsilon)) bad('the resulting ε', epsilon);
  return epsilon;
}

/** Builds the certificate of a released DP²-VAE decoder; ε is recomputed, never passed in. */
export function buildCertificate(input: CertificateInput): Certificate {
  const { blocks, sigma, clip, steps, delta } = input;
  if (!Number.isSafeInteger(blocks) || blocks < 1) bad('the number of blocks K', blocks);
  const accountant = validateAccountant(input.accountant);
  const epsilon = certifiedEpsilon(
    { mechanism: 'dp2vae', blocks, sigma, steps },
    { clip, delta, datasetId: input.datasetId, accountant },
  );
  return {
    method: 'dp2vae',
    mechanism: DP2VAE_CERT_MECHANISM,
    adjacency: 'replace-one',
    blocks,
    sigma,
    clip,
    steps,
    delta,
    epsilon,
    accountant: accountantVersion(accountant),
    dataset_id: input.datasetId,
    public: [
      'the number of training images N (the partition into K blocks is made from it)',
      ...PUBLIC_FOR_EVERY_METHOD,
    ],
    backend: input.backend,
    version: input.version,
    created: (input.created ?? new Date()).toISOString(),
  };
}

/** What every release treats as public, whatever the method. */
const PUBLIC_FOR_EVERY_METHOD = [
  'the class names and their number (they label the samples)',
  'the image size and number of channels',
];

export interface DpsgdCertificateInput {
  /** The method (default 'dpsgd'). */
  method?: PoissonMethod;
  /** The public prior the model's features come from (`randp`), named in the certificate. */
  prior?: CertificatePrior;
  /** Term-wise DP-SGD: the terms (their σ must give `sigma`). */
  terms?: readonly TermNoise[];
  /** q: the Poisson sampling rate of each step. */
  sampleRate: number;
  sigma: number;
  clip: number;
  steps: number;
  delta: number;
  /** The data set's random public identifier (`Dataset.publicId`). */
  datasetId: string;
  backend: string;
  version: string;
  created?: Date;
  accountant?: AccountantKind;
}

/**
 * Builds the certificate of a decoder released by DP-SGD (Poisson sampling
 * at rate q, per-example clipping at C, N(0, σ²C²) on the sum; add/remove
 * adjacency); ε is recomputed, never passed in.
 */
export function buildDpsgdCertificate(input: DpsgdCertificateInput): DpsgdCertificate {
  const { sampleRate, sigma, clip, steps, delta } = input;
  const accountant = validateAccountant(input.accountant);
  if (!(sampleRate > 0 && sampleRate <= 1)) bad('the sampling rate q', sampleRate);
  // The pair's σ is recomputed from the terms, never trusted.
  if (input.terms && Math.abs(termsSigma(input.terms) - sigma) > 1e-9 * sigma)
    bad('the terms’ noise (their σ do not give the certificate’s σ)', sigma);
  const epsilon = certifiedEpsilon(
    { mechanism: 'dpsgd', sampleRate, sigma, steps },
    { clip, delta, datasetId: input.datasetId, accountant },
  );
  return {
    method: input.method ?? 'dpsgd',
    mechanism: DPSGD_CERT_MECHANISM,
    adjacency: 'add-remove',
    blocks: null,
    sample_rate: sampleRate,
    ...(input.prior ? { prior: input.prior } : {}),
    ...(input.terms ? { terms: input.terms.map((t) => ({ ...t })) } : {}),
    sigma,
    clip,
    steps,
    delta,
    epsilon,
    accountant: accountantVersion(accountant),
    dataset_id: input.datasetId,
    public: [
      'the number of training images N (the sampling rate q was set from it)',
      ...(input.prior
        ? ['the random-process prior and the feature map (made from procedural images only)']
        : []),
      ...PUBLIC_FOR_EVERY_METHOD,
    ],
    backend: input.backend,
    version: input.version,
    created: (input.created ?? new Date()).toISOString(),
  };
}

export interface MepfCertificateInput {
  sigma: number;
  countWeight: number;
  /** 1: the release; 0 only for a decoder with no release behind it (never certified). */
  steps: number;
  delta: number;
  features: MepfCertificate['features'];
  /** The released private classifier that labels the images, if any (its own certificate's figures). */
  labeller?: {
    run: number;
    sampleRate: number;
    sigma: number;
    clip: number;
    steps: number;
    accountant?: AccountantKind;
    prior: CertificatePrior;
  };
  datasetId: string;
  backend: string;
  version: string;
  created?: Date;
  accountant?: AccountantKind;
}

/** How a labelled generator's ε composes the release and the classifier (docs/privacy.md). */
export const LABELLED_COMPOSITION =
  'RDP composition of the release and the classifier, order by order (Mironov 2017, Proposition 1); the labelled images are post-processing of both';

/**
 * Builds the certificate of a `mepf` decoder. ε is recomputed as the
 * accountant's DP-SGD at sampling rate 1 and clip Δ for `steps` steps — for
 * one step exactly the Gaussian mechanism of noise multiplier σ
 * (docs/privacy.md) — never passed in.
 */
export function buildMepfCertificate(input: MepfCertificateInput): MepfCertificate {
  const { sigma, countWeight, steps, delta } = input;
  const accountant = validateAccountant(input.accountant);
  if (!(countWeight > 0) || !Number.isFinite(countWeight)) bad('the count weight w', countWeight);
  const sensitivity = Math.sqrt(1 + countWeight * countWeight);
  const releaseEpsilon = certifiedEpsilon(
    { mechanism: 'dpsgd', sampleRate: 1, sigma, steps },
    { clip: sensitivity, delta, datasetId: input.datasetId, accountant },
  );
  const l = input.labeller;
  const classifier = l
    ? buildDpsgdCertificate({
        method: 'randp',
        prior: l.prior,
        sampleRate: l.sampleRate,
        sigma: l.sigma,
        clip: l.clip,
        steps: l.steps,
        delta,
        datasetId: input.datasetId,
        backend: input.backend,
        version: input.version,
        ...(l.accountant ? { accountant: l.accountant } : {}),
      })
    : null;
  const epsilon = l
    ? composedEpsilon({
        specs: [
          { mechanism: 'dpsgd', sampleRate: 1, sigma, steps },
          { mechanism: 'dpsgd', sampleRate: l.sampleRate, sigma: l.sigma, steps: l.steps },
        ],
        delta,
      }).epsilon
    : releaseEpsilon;
  if (!Number.isFinite(epsilon)) bad('the composed ε', epsilon);
  return {
    method: 'mepf',
    mechanism: MEPF_CERT_MECHANISM,
    adjacency: 'add-remove',
    blocks: null,
    sample_rate: 1,
    sigma,
    clip: 1,
    count_weight: countWeight,
    sensitivity,
    steps,
    delta,
    epsilon,
    accountant: accountantVersion(accountant),
    dataset_id: input.datasetId,
    features: input.features,
    ...(classifier && l
      ? {
          labeller: {
            run: l.run,
            method: classifier.method,
            mechanism: classifier.mechanism,
            adjacency: classifier.adjacency,
            sample_rate: classifier.sample_rate,
            sigma: classifier.sigma,
            clip: classifier.clip,
            steps: classifier.steps,
            epsilon: classifier.epsilon,
            accountant: classifier.accountant,
            prior: l.prior,
            composition: LABELLED_COMPOSITION,
          },
          release_epsilon: releaseEpsilon,
        }
      : {}),
    public: [
      'the features φ (the prior’s weights or the random features’ seed: they are made without the images)',
      ...(l
        ? ['the number of training images N (the classifier’s sampling rate q was set from it)']
        : []),
      ...PUBLIC_FOR_EVERY_METHOD,
    ],
    backend: input.backend,
    version: input.version,
    created: (input.created ?? new Date()).toISOString(),
  };
}

/** Keys a certificate of this version may carry; anything else is refused on re-issue. */
const CERTIFICATE_KEYS = new Set([
  'method',
  'mechanism',
  'adjacency',
  'blocks',
  'sample_rate',
  'count_weight',
  'sensitivity',
  'features',
  'prior',
  'terms',
  'labeller',
  'release_epsilon',
  'sigma',
  'clip',
  'steps',
  'delta',
  'epsilon',
  'accountant',
  'dataset_id',
  'public',
  'backend',
  'version',
  'created',
  'reissued',
]);

/** Whether a certificate read from disk is in this version's form (no key an older version wrote). */
export function isCurrentCertificate(cert: Record<string, unknown>): boolean {
  return (
    Object.keys(cert).every((k) => CERTIFICATE_KEYS.has(k)) &&
    typeof cert.dataset_id === 'string' &&
    Array.isArray(cert.public)
  );
}

/**
 * The accountant that certified a certificate's ε, read from its
 * `accountant` field (the name prefixes the version: "dp2-pld/…" is PLD;
 * anything else, older certificates included, RDP).
 */
export function certificateAccountant(name: unknown): AccountantKind {
  return typeof name === 'string' && name.startsWith('dp2-pld/') ? 'pld' : 'rdp';
}

/**
 * Re-issues a certificate written by an older version (which carried
 * `dataset_fingerprint`, a SHA-256 of every private record): the same
 * mechanism, parameters and creation time, ε recomputed by the accountant,
 * the data set named by its random identifier, and nothing else of the old
 * file. Used before anything is exported or shown.
 */
export function reissueCertificate(
  old: Record<string, unknown>,
  input: { datasetId: string; version: string; at?: Date },
): AnyCertificate {
  const n = (k: string): number => {
    const v = old[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`the old certificate's ${k}`, v);
    return v;
  };
  const accountant = certificateAccountant(old.accountant);
  const created = typeof old.created === 'string' ? new Date(old.created) : new Date();
  const common = {
    sigma: n('sigma'),
    clip: n('clip'),
    steps: n('steps'),
    delta: n('delta'),
    accountant,
    datasetId: input.datasetId,
    backend: typeof old.backend === 'string' ? old.backend : 'unknown',
    version: typeof old.version === 'string' ? old.version : input.version,
    created: Number.isNaN(created.getTime()) ? new Date() : created,
  };
  const cert =
    old.method === 'dpsgd' || old.method === 'dp2vae-per-record' || old.method === 'randp'
      ? buildDpsgdCertificate({ ...common, method: old.method, sampleRate: n('sample_rate') })
      : buildCertificate({ ...common, blocks: n('blocks') });
  return {
    ...cert,
    reissued: {
      at: (input.at ?? new Date()).toISOString(),
      by: `DP² Studio ${input.version}`,
      why: 'Older versions wrote a fingerprint of the data set into the certificate; it was removed.',
    },
  };
}

const num = (x: number, digits = 3): string => Number(x.toPrecision(digits)).toString();

/** Plain-language lines for the Export screen (what was promised, to whom, how to check it). */
export function certificateInWords(cert: AnyCertificate): string[] {
  if (cert.mechanism === DPSGD_CERT_MECHANISM) return dpsgdInWords(cert);
  if (cert.mechanism === MEPF_CERT_MECHANISM) return mepfInWords(cert);
  const pld = typeof cert.accountant === 'string' && cert.accountant.startsWith('dp2-pld/');
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  return [
    `This generator was trained with DP²-VAE, a differentially private method, on the data set with identifier ${cert.dataset_id} (a random label made at import; it says nothing about the images).`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Replacing any one image of the data set by any other can make any outcome of training at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: the images were split into ${cert.blocks} blocks. In each of ${cert.steps} training steps, one block was picked at random, its average gradient was clipped to length ${num(cert.clip)}, and Gaussian noise of size ${num(cert.sigma)} × ${num(cert.clip)} was added before the generator learned from it.`,
    'Only the generator (the stage-2 decoder) and images drawn from it are released. The encoders, checkpoints and training losses touched the images without noise and stay on this computer.',
    publicInWords(cert),
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, block sampling without replacement) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dp2vae --blocks ${cert.blocks} --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}

function publicInWords(cert: AnyCertificate): string {
  return `Treated as public, so not protected by this guarantee: ${cert.public.join('; ')}.`;
}

function dpsgdInWords(cert: DpsgdCertificate): string[] {
  if (cert.method === 'randp') return classifierInWords(cert);
  if (cert.method === 'termwise') return termwiseInWords(cert);
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const pld = cert.accountant.startsWith('dp2-pld/');
  const perRecord = cert.method === 'dp2vae-per-record';
  return [
    `This generator was trained with ${perRecord ? 'DP²-VAE with per-record encoders' : 'DP-SGD'}, a differentially private method, on the data set with identifier ${cert.dataset_id} (a random label made at import; it says nothing about the images).`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome of training at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: in each of ${cert.steps} training steps, every image joined the step independently with probability ${num(cert.sample_rate)}; each image's gradient was clipped to length ${num(cert.clip)}, and Gaussian noise of size ${num(cert.sigma)} × ${num(cert.clip)} was added to their sum before the model learned from it.`,
    perRecord
      ? 'Only the generator (the decoder) and images drawn from it are released. Each image had its own encoder (its posterior), refined without noise from that image and the generators of earlier steps alone: it enters training only through that image’s own clipped gradient, so it needs no noise of its own, and it stays on this computer with the checkpoints and training losses.'
      : 'Only the generator (the decoder) and images drawn from it are released. The encoder, checkpoints and training losses stay on this computer.',
    publicInWords(cert),
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, Poisson subsampling) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dpsgd --q ${cert.sample_rate} --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}

function classifierInWords(cert: DpsgdCertificate): string[] {
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const pld = cert.accountant.startsWith('dp2-pld/');
  const prior = cert.prior
    ? `the random-process prior “${cert.prior.name}” (SHA-256 of its weights ${cert.prior.weights_sha256}; ${cert.prior.statement})`
    : 'the random-process prior shipped with DP² Studio';
  return [
    `This classifier was trained with DP-RandP (a linear classifier trained with DP-SGD on the features of ${prior}), a differentially private method, on the data set with identifier ${cert.dataset_id} (a random label made at import; it says nothing about the images).`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome of training at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: every image was described by the prior’s features and a fixed map made from procedural images only. In each of ${cert.steps} training steps, every image joined the step independently with probability ${num(cert.sample_rate)}; each image's gradient was clipped to length ${num(cert.clip)}, and Gaussian noise of size ${num(cert.sigma)} × ${num(cert.clip)} was added to their sum before the classifier learned from it.`,
    'Only the classifier (its weights and model card) is released. The images’ features, checkpoints and any accuracy measured on the images stay on this computer.',
    publicInWords(cert),
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, Poisson subsampling) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dpsgd --q ${cert.sample_rate} --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}

function mepfInWords(cert: MepfCertificate): string[] {
  const lines = mepfReleaseInWords(cert);
  const l = cert.labeller;
  if (!l) return lines;
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const lpld = l.accountant.startsWith('dp2-pld/');
  return [
    lines[0] as string,
    `Privacy guarantee of the labelled images: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}). This covers two releases made from the same images: the generator’s (ε = ${num(cert.release_epsilon ?? cert.epsilon)} alone) and the private classifier that labels its images (ε = ${num(l.epsilon)} alone).`,
    lines[2] as string,
    `The images were labelled by a private classifier (DP-RandP, run ${l.run}, on the features of the prior “${l.prior?.name ?? 'shipped with DP² Studio'}”): in each of ${l.steps} training steps every image joined the step with probability ${num(l.sample_rate)}, each image’s gradient was clipped to length ${num(l.clip)}, and Gaussian noise of size ${num(l.sigma)} × ${num(l.clip)} was added to their sum. The generator drew more images than asked, and each class kept the ones the classifier labels so.`,
    'Released: the noisy release, the generator trained from it, the classifier that labels its images, and images drawn and labelled by them. The images’ individual features were never stored; checkpoints and training losses stay on this computer.',
    lines[4] as string,
    `ε of the labelled images: ${l.composition}. ε of each part by its accountant (${cert.accountant}; ${l.accountant}), in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check each part: ${(lines[6] ?? '').replace('To check it: ', '')} and dp2 account --mechanism dpsgd --q ${l.sample_rate} --sigma ${l.sigma} --steps ${l.steps} --delta ${cert.delta}${lpld ? ' --accountant pld' : ''}; all of it: dp2 account --certificate certificate.json`,
  ];
}

/** The lines of a `mepf` certificate about its release alone. */
function mepfReleaseInWords(cert: MepfCertificate): string[] {
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const pld = cert.accountant.startsWith('dp2-pld/');
  const f = cert.features;
  const features =
    f.source === 'prior' && f.prior
      ? `the features of the random-process prior “${f.prior.name}” (SHA-256 of its weights ${f.prior.weights_sha256}; ${f.prior.statement})`
      : f.source === 'rff'
        ? 'random Fourier features of the pixels (drawn from a public seed)'
        : 'the features of an untrained network (drawn from a public seed)';
  return [
    `This generator was trained with a one-shot feature release (DP-MEPF), a differentially private method, on the data set with identifier ${cert.dataset_id} (a random label made at import; it says nothing about the images).`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: every image was described by ${features}, scaled to length at most ${num(cert.clip)}. Once, the descriptions were summed per class and the class counts (weighted ${num(cert.count_weight)}) appended; one image moves that vector by at most ${num(cert.sensitivity)}, and Gaussian noise of size ${num(cert.sigma)} × ${num(cert.sensitivity)} was added to each number. The generator then learned from this noisy release alone.`,
    'Released: the noisy release and the generator trained from it, and images drawn from the generator. The images’ individual features were never stored; checkpoints and training losses stay on this computer.',
    publicInWords(cert),
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, one Gaussian mechanism) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dpsgd --q 1 --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}

const TERM_WORDS: Record<TermNoise['term'], string> = {
  'per-record': 'each image’s own loss (reconstruction and KL)',
  divergence: 'the batch’s pull of the codes towards the prior (MMD)',
  'whole-loss': 'each image’s gradient of the whole loss, divergence included (naive DP-SGD)',
};

function termwiseInWords(cert: DpsgdCertificate): string[] {
  const oneIn = cert.delta > 0 ? Math.round(1 / cert.delta) : Infinity;
  const pld = cert.accountant.startsWith('dp2-pld/');
  const terms = cert.terms ?? [];
  return [
    `This generator was trained with term-wise DP-SGD (a VAE with a divergence, Takahashi et al. 2020), a differentially private method, on the data set with identifier ${cert.dataset_id} (a random label made at import; it says nothing about the images).`,
    `Privacy guarantee: (ε = ${num(cert.epsilon)}, δ = ${cert.delta}). Adding or removing any one image of the data set can make any outcome of training at most e^${num(cert.epsilon)} ≈ ${num(Math.exp(Math.min(cert.epsilon, 700)))} times more likely, plus an extra chance of at most δ (1 in ${oneIn.toLocaleString('en-US')}).`,
    `How: in each of ${cert.steps} training steps, every image joined the step independently with probability ${num(cert.sample_rate)}. Each term of the loss was randomised its own way: ${terms
      .map(
        (t) =>
          `${TERM_WORDS[t.term]}: clipped so one image moves the sum by at most ${num(t.sensitivity)}, Gaussian noise of size ${num(t.sigma)} × ${num(t.sensitivity)}`,
      )
      .join(
        '; ',
      )}. Both noisy sums come from the same sample, so together they count as one noisy step of noise multiplier ${num(cert.sigma)}.`,
    'Only the generator (the decoder) and images drawn from it are released. The encoder, checkpoints and training losses stay on this computer.',
    publicInWords(cert),
    `ε was computed by the accountant ${cert.accountant} (${pld ? 'privacy loss distributions' : 'Rényi differential privacy'}, Poisson subsampling) in DP² Studio ${cert.version}, trained on the ${cert.backend} backend, on ${cert.created}.`,
    `To check it: dp2 account --mechanism dpsgd --q ${cert.sample_rate} --sigma ${cert.sigma} --steps ${cert.steps} --delta ${cert.delta}${pld ? ' --accountant pld' : ''}`,
  ];
}

/** One ε a certificate states, beside the accountant's own figure for its fields. */
export interface RecheckedEpsilon {
  part: string;
  stated: number;
  recomputed: number;
}

/**
 * Recomputes every ε a certificate file states from its own fields — the
 * release's mechanism, and for labelled images the classifier's and their
 * composition (RDP, as {@link buildMepfCertificate}) — so that anyone can
 * check it (`dp2 account --certificate FILE`).
 * @throws UserError INVALID_INPUT for a file that is not a certificate of this version.
 */
export function recheckCertificate(cert: Record<string, unknown>): RecheckedEpsilon[] {
  const n = (o: Record<string, unknown>, k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`the certificate's ${k}`, v);
    return v;
  };
  const kind = (o: Record<string, unknown>): AccountantKind => certificateAccountant(o.accountant);
  const delta = n(cert, 'delta');
  const eps = (spec: MechanismSpec, accountant: AccountantKind): number =>
    spec.steps === 0 ? 0 : epsilonOf({ spec, delta, accountant }).epsilon;
  let own: MechanismSpec;
  if (cert.mechanism === DP2VAE_CERT_MECHANISM) {
    own = {
      mechanism: 'dp2vae',
      blocks: n(cert, 'blocks'),
      sigma: n(cert, 'sigma'),
      steps: n(cert, 'steps'),
    };
  } else if (cert.mechanism === DPSGD_CERT_MECHANISM || cert.mechanism === MEPF_CERT_MECHANISM) {
    own = {
      mechanism: 'dpsgd',
      sampleRate: n(cert, 'sample_rate'),
      sigma: n(cert, 'sigma'),
      steps: n(cert, 'steps'),
    };
  } else {
    throw new UserError(
      'INVALID_INPUT',
      `This file is not a privacy certificate of DP² Studio (its mechanism is ${String(cert.mechanism)}).`,
    );
  }
  const labeller = cert.labeller as Record<string, unknown> | undefined;
  if (cert.mechanism !== MEPF_CERT_MECHANISM || labeller === undefined) {
    return [{ part: 'the release', stated: n(cert, 'epsilon'), recomputed: eps(own, kind(cert)) }];
  }
  const classifier: MechanismSpec = {
    mechanism: 'dpsgd',
    sampleRate: n(labeller, 'sample_rate'),
    sigma: n(labeller, 'sigma'),
    steps: n(labeller, 'steps'),
  };
  return [
    {
      part: 'the generator’s release',
      stated: n(cert, 'release_epsilon'),
      recomputed: eps(own, kind(cert)),
    },
    {
      part: 'the classifier that labels the images',
      stated: n(labeller, 'epsilon'),
      recomputed: eps(classifier, kind(labeller)),
    },
    {
      part: 'the labelled images (both composed)',
      stated: n(cert, 'epsilon'),
      recomputed: composedEpsilon({ specs: [own, classifier], delta }).epsilon,
    },
  ];
}
