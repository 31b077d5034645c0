import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Handlers, ResponseOf } from '../contract';
import { UserError } from '../contract/errors';
import { loadBundledMnist, readDatasetFiles, readNpz } from '../data';
import { selectBackend } from '../engine';
import { readDecoderFile } from '../engine/decoder-file';
import {
  CLASSIFIER_KINDS,
  EVAL_PROTOCOL,
  FLD_LABEL,
  auditDecoder,
  paperTableFor,
  protocolNote,
  type ClassifierKind,
  type DecoderAudit,
  type EvaluationResult,
} from '../eval';
import type { EvalImages } from '../eval/images';
import { evaluateInParallel } from '../eval/parallel';
import { epsilonOf } from '../privacy';
import {
  certificateAccountant,
  DPSGD_CERT_MECHANISM,
  MEPF_CERT_MECHANISM,
} from '../privacy/certificate';
import {
  findDataset,
  getDataset,
  getRun,
  latestEvaluation,
  listEvaluations,
  saveEvaluation,
  type Evaluation,
  type NewEvaluation,
  type Run,
  type StoredAudit,
} from '../store';
import type { ServiceContext } from './context';
import { releasedEpsilonOf } from './released-epsilon';
import { releasedOf, sampleRun } from './samples';

/** The real images a synthetic set is judged against: a data set's splits, or the bundled MNIST's. */
async function realSplits(
  ctx: ServiceContext,
  name: string,
): Promise<{ train: EvalImages; test: EvalImages }> {
  const dataset = findDataset(ctx.store, name);
  if (dataset) return readDatasetFiles(dataset.filesDir);
  if (name.toLowerCase() === 'mnist') {
    const { train, test } = loadBundledMnist();
    return { train: { ...train, channels: 1 }, test: { ...test, channels: 1 } };
  }
  return readDatasetFiles(getDataset(ctx.store, name).filesDir); // NOT_FOUND in plain words
}

async function syntheticFromFile(path: string): Promise<EvalImages & { classes?: string[] }> {
  const where = resolve(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(where);
  } catch {
    throw new UserError(
      'NOT_FOUND',
      `${where} cannot be read. Check the path of the synthetic .npz.`,
    );
  }
  const { x, y, classes } = readNpz(bytes, where);
  if (!x || !y || !(x.data instanceof Uint8Array) || typeof y.data[0] === 'string') {
    throw new UserError(
      'INVALID_INPUT',
      `${where} must hold uint8 images "x" and integer labels "y" (DESIGN.md's format).`,
    );
  }
  const [count = 0, height = 0, width = 0, channels = 1] = x.shape;
  const labels = Array.from(y.data as ArrayLike<number | bigint>, (v) => Number(v));
  const names =
    classes && Array.from(classes.data as ArrayLike<unknown>).every((c) => typeof c === 'string')
      ? Array.from(classes.data as ArrayLike<string>)
      : undefined;
  return {
    x: x.data,
    y: labels,
    count,
    height,
    width,
    channels,
    ...(names ? { classes: names } : {}),
  };
}

/** Column names and plain names of the classifiers, as in the paper's Table 1. */
const CLASSIFIER_NAMES: Record<ClassifierKind, { label: string; name: string }> = {
  lr: { label: 'LR', name: 'logistic regression' },
  mlp: { label: 'MLP', name: 'multi-layer perceptron' },
  cnn: { label: 'CNN', name: 'convolutional network' },
};

/**
 * (ε, δ) of a run's release, recomputed now by the privacy accountant from
 * its certificate's mechanism parameters (K, σ, T, δ) — never read back as a
 * number from a file.
 */
async function releasePrivacy(
  ctx: ServiceContext,
  run: Run,
): Promise<{ epsilon: number; delta: number }> {
  const { certificate } = releasedOf(ctx.store, run.id);
  let cert: {
    mechanism?: unknown;
    blocks?: unknown;
    sample_rate?: unknown;
    sigma?: unknown;
    steps?: unknown;
    delta?: unknown;
    accountant?: unknown;
  };
  try {
    cert = JSON.parse(await readFile(certificate, 'utf8')) as typeof cert;
  } catch (err) {
    throw new UserError(
      'CORRUPT_DATA',
      `The certificate of run ${run.id} cannot be read (${(err as Error).message}).`,
    );
  }
  const { blocks, sample_rate: sampleRate, sigma, steps, delta } = cert;
  // The mechanism, not the method, says how ε composes (DP-SGD and per-record DP²-VAE share
  // one; a one-shot release is the same mechanism at sampling rate 1, one step).
  const dpsgd = cert.mechanism === DPSGD_CERT_MECHANISM || cert.mechanism === MEPF_CERT_MECHANISM;
  if (
    (dpsgd ? typeof sampleRate !== 'number' : typeof blocks !== 'number') ||
    typeof sigma !== 'number' ||
    typeof steps !== 'number' ||
    typeof delta !== 'number'
  ) {
    throw new UserError(
      'CORRUPT_DATA',
      `The certificate of run ${run.id} lacks its mechanism's parameters (${dpsgd ? 'sample_rate' : 'blocks'}, sigma, steps, delta).`,
    );
  }
  const spec = dpsgd
    ? { mechanism: 'dpsgd' as const, sampleRate: sampleRate as number, sigma, steps }
    : { mechanism: 'dp2vae' as const, blocks: blocks as number, sigma, steps };
  // The accountant that certified the release (its name prefixes the version).
  const accountant = certificateAccountant(cert.accountant);
  const epsilon = steps === 0 ? 0 : epsilonOf({ spec, delta, accountant }).epsilon;
  return { epsilon, delta };
}

/**
 * The membership audit of a run's decoder: members from its data set's
 * training split (the run trained on all of it), non-members from the
 * held-out split. `loaded` are that data set's splits when already read.
 * Null when the data set was deleted (its files are gone).
 */
async function auditRun(
  ctx: ServiceContext,
  run: Run,
  loaded: { train: EvalImages; test: EvalImages } | undefined,
): Promise<DecoderAudit | null> {
  const dataset = getDataset(ctx.store, run.datasetId, { includeDeleted: true });
  if (dataset.deletedAt !== null) return null;
  const splits = loaded ?? (await readDatasetFiles(dataset.filesDir));
  const decoder = await readDecoderFile(releasedOf(ctx.store, run.id).decoderDir);
  const { epsilon, delta } = await releasePrivacy(ctx, run);
  return auditDecoder({ decoder, train: splits.train, test: splits.test, epsilon, delta });
}

/** What gets stored (less the run) from an evaluation's results. */
function toRecord(
  result: EvaluationResult,
  audit: DecoderAudit | null,
  extra: { realTest: string; backend: string; durationMs: number },
): Omit<NewEvaluation, 'runId'> {
  const score = (kind: ClassifierKind) => {
    const s = result[kind];
    return s ? { mean: s.mean, std: s.std, runs: [...s.runs] } : null;
  };
  const f = result.fidelity;
  const stored: StoredAudit | null = audit && {
    scorer: audit.scorer,
    members: audit.members,
    nonMembers: audit.nonMembers,
    auc: audit.auc,
    fpr: audit.fpr,
    tprAtFpr: audit.tprAtFpr,
    achievedFpr: audit.achievedFpr,
    bound: { ...audit.bound },
    exceedsBound: audit.exceedsBound,
  };
  return {
    protocol: EVAL_PROTOCOL.name,
    protocolVersion: EVAL_PROTOCOL.version,
    realTest: extra.realTest,
    nSynthetic: result.n_synthetic,
    nTest: result.n_test,
    seeds: [...result.seeds],
    trainConfigs: Object.fromEntries(
      CLASSIFIER_KINDS.flatMap((k) => (result[k] ? [[k, result[k].config]] : [])),
    ),
    lr: score('lr'),
    mlp: score('mlp'),
    cnn: score('cnn'),
    fidelity: f
      ? {
          fld: f.fld,
          featureSpace: f.feature,
          featureDims: f.dims,
          extractorAccuracy: result.extractorAccuracy ?? null,
          precision: f.precision,
          recall: f.recall,
          k: f.k,
          perClass: f.perClass.map((c) => ({ ...c })),
        }
      : null,
    audit: stored,
    backend: extra.backend,
    durationMs: extra.durationMs,
    details: {
      majorityLabel: result.majority.label,
      majorityRate: result.majority.rate,
      imbalanced: result.imbalanced,
      balanced: Object.fromEntries(
        CLASSIFIER_KINDS.flatMap((k) => {
          const b = result[k]?.balanced;
          return b ? [[k, { mean: b.mean, std: b.std, runs: [...b.runs] }]] : [];
        }),
      ),
      reference: f?.reference
        ? {
            fld: f.reference.fld,
            precision: f.reference.precision,
            recall: f.reference.recall,
            nRealTrain: f.reference.n_real_train,
          }
        : null,
      featureNetwork: f ? (result.featureNetwork ?? null) : null,
    },
  };
}

type EvalDto = ResponseOf<'eval.run'>;

/** The contract's view of an evaluation (stored, or not stored when `id` is null). */
function toResponse(
  e: Omit<NewEvaluation, 'runId'> & { id: number | null; runId: number | null; createdAt: string },
  classNames: readonly string[] | undefined,
  imagesEpsilon: number | null,
): EvalDto {
  const plain = (kind: ClassifierKind) => {
    const s = e[kind];
    return s ? { mean: s.mean, std: s.std } : null;
  };
  const f = e.fidelity;
  const d = e.details ?? null;
  const balanced = (kind: ClassifierKind) => {
    const b = d?.balanced[kind];
    return b ? { mean: b.mean, std: b.std } : null;
  };
  const reference = paperTableFor(e.realTest);
  return {
    lr: plain('lr'),
    mlp: plain('mlp'),
    cnn: plain('cnn'),
    fld: f ? f.fld : null,
    n_synthetic: e.nSynthetic,
    n_test: e.nTest,
    seeds: [...e.seeds],
    majority_rate: d ? d.majorityRate : null,
    imbalanced: d ? d.imbalanced : null,
    balanced_accuracy: { lr: balanced('lr'), mlp: balanced('mlp'), cnn: balanced('cnn') },
    fld_real: d?.reference?.fld ?? null,
    precision: f ? f.precision : null,
    recall: f ? f.recall : null,
    precision_real: d?.reference?.precision ?? null,
    recall_real: d?.reference?.recall ?? null,
    feature_network: d?.featureNetwork ?? null,
    evaluationId: e.id,
    runId: e.runId,
    createdAt: e.createdAt,
    protocol: {
      name: e.protocol,
      version: e.protocolVersion,
      note: protocolNote(e.protocolVersion),
    },
    realTest: e.realTest,
    backend: e.backend,
    durationMs: e.durationMs,
    utility: CLASSIFIER_KINDS.flatMap((kind) => {
      const s = e[kind];
      return s
        ? [
            {
              classifier: kind,
              ...CLASSIFIER_NAMES[kind],
              ...s,
              runs: [...s.runs],
              balanced: balanced(kind),
            },
          ]
        : [];
    }),
    fidelity: f
      ? {
          label: FLD_LABEL,
          value: f.fld,
          description: f.featureSpace,
          featureDims: f.featureDims,
          extractorAccuracy: f.extractorAccuracy,
          precision: f.precision,
          recall: f.recall,
          k: f.k,
          perClass: f.perClass.map((c) => ({
            ...c,
            name: classNames?.[c.label] ?? String(c.label),
          })),
          network: d?.featureNetwork ?? null,
          reference: d?.reference
            ? {
                value: d.reference.fld,
                precision: d.reference.precision,
                recall: d.reference.recall,
                nRealTrain: d.reference.nRealTrain,
              }
            : null,
        }
      : null,
    audit: e.audit && { ...e.audit, bound: { ...e.audit.bound } },
    imagesEpsilon,
    reference: reference ? { ...reference, rows: reference.rows.map((r) => ({ ...r })) } : null,
  };
}

/** The class names of a run's data set (tombstones included). */
function runClassNames(ctx: ServiceContext, runId: number): string[] {
  return getDataset(ctx.store, getRun(ctx.store, runId).datasetId, { includeDeleted: true })
    .classNames;
}

function storedResponse(ctx: ServiceContext, e: Evaluation): EvalDto {
  return toResponse(
    e,
    runClassNames(ctx, e.runId),
    releasedEpsilonOf(ctx.store, getRun(ctx.store, e.runId)),
  );
}

/**
 * Evaluation with the paper's protocol (Appendix B.4): classifiers trained on
 * synthetic images, tested on the real held-out split, the Fréchet distance
 * and per-class precision/recall in a real-data CNN's feature space, and —
 * for a run — the membership audit of its released decoder against its
 * (ε, δ). A run's evaluation is stored with it (whole or not at all); a
 * synthetic file's is not. The scores are computed on private data: shown in
 * the app, never exported.
 */
export function evalHandlers(
  ctx: ServiceContext,
): Pick<Handlers, 'eval.run' | 'eval.forRun' | 'eval.history'> {
  return {
    'eval.run': async ({ runId, synthetic, realTest, perClass, seeds }, call) => {
      const started = performance.now();
      let images: EvalImages;
      let realName = realTest;
      let classNames: readonly string[] | undefined;
      const run = runId !== undefined ? getRun(ctx.store, runId) : undefined;
      if (run) {
        const dataset = getDataset(ctx.store, run.datasetId, { includeDeleted: true });
        images = await sampleRun(ctx.store, { runId: run.id, perClass, seed: 1 });
        realName ??= dataset.name;
        classNames = dataset.classNames;
      } else if (synthetic !== undefined) {
        const file = await syntheticFromFile(synthetic);
        images = file;
        classNames = file.classes;
      } else {
        throw new UserError('INVALID_INPUT', 'Name a run or a synthetic .npz file to evaluate.');
      }
      const judgedBy = realName ?? 'mnist';
      const real = await realSplits(ctx, judgedBy);
      const backend = await selectBackend();
      const report = (task: string, fraction: number) =>
        call.onProgress?.({ task, done: Math.round(fraction * 100), total: 100 });
      const result = await evaluateInParallel({
        synthetic: images,
        realTest: real.test,
        realTrain: real.train,
        seeds: Array.from({ length: seeds }, (_, i) => i),
        ...(ctx.evalConfigs ? { configs: ctx.evalConfigs } : {}),
        ...(ctx.extractorConfig ? { extractorConfig: ctx.extractorConfig } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
        // One task for all: the classifiers and the feature network run side by side.
        onProgress: (p) => report('Evaluating', p.fraction),
      });
      let audit: DecoderAudit | null = null;
      if (run) {
        if (call.signal?.aborted) {
          throw new UserError('CANCELLED', 'The evaluation was cancelled before it finished.');
        }
        report('Evaluating (membership audit)', 0);
        const sameData = findDataset(ctx.store, judgedBy)?.id === run.datasetId;
        audit = await auditRun(ctx, run, sameData ? real : undefined);
        report('Evaluating (membership audit)', 1);
      }
      const record = toRecord(result, audit, {
        realTest: judgedBy,
        backend: backend.name,
        durationMs: Math.round(performance.now() - started),
      });
      if (run)
        return toResponse(
          saveEvaluation(ctx.store, { ...record, runId: run.id }),
          classNames,
          releasedEpsilonOf(ctx.store, run),
        );
      return toResponse(
        { ...record, id: null, runId: null, createdAt: new Date().toISOString() },
        classNames,
        null,
      );
    },
    'eval.forRun': async ({ runId }) => {
      const latest = latestEvaluation(ctx.store, runId);
      return latest ? storedResponse(ctx, latest) : null;
    },
    'eval.history': async ({ runId }) =>
      listEvaluations(ctx.store, runId).map((e) => storedResponse(ctx, e)),
  };
}
