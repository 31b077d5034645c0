/**
 * Evaluations of a run's released decoder, stored with the run: downstream
 * utility (LR, MLP, CNN accuracy per seed, mean and standard deviation),
 * fidelity (Fréchet distance in a real-data CNN's feature space, per-class
 * k-NN precision/recall) and the membership audit against the run's (ε, δ).
 *
 * An evaluation is written whole or not at all: its row, its per-seed
 * accuracies and its per-class rows go in one transaction. Every figure was
 * computed on private data (the real splits), so evaluations are private:
 * shown in the app, never exported; deleting a data set deletes the
 * evaluations of its runs (deletion.ts).
 */
import { UserError } from '../contract/errors';
import { getRun } from './runs';
import { fromJson, nowIso, requireInt, requireText, stmt, toJson, writeTx } from './internal';
import { EVAL_CLASSIFIERS } from './schema';
import type { Store } from './types';

/** A downstream classifier of the protocol. */
export type EvalClassifier = (typeof EVAL_CLASSIFIERS)[number];

/** One classifier's accuracies (in %) over the seeds. */
export interface StoredScore {
  mean: number;
  /** Sample standard deviation over the seeds (0 for one seed). */
  std: number;
  /** One accuracy per seed, in the order of the evaluation's `seeds`. */
  runs: number[];
}

/** Precision and recall of one class (null when a set had too few images of it). */
export interface StoredClassFidelity {
  label: number;
  real: number;
  synthetic: number;
  precision: number | null;
  recall: number | null;
}

export interface StoredFidelity {
  /** Fréchet distance d² between real-test and synthetic features. */
  fld: number;
  /** What the feature space is, in words. */
  featureSpace: string;
  featureDims: number;
  /** The feature CNN's accuracy on the real test split, in % (a sanity check). */
  extractorAccuracy: number | null;
  precision: number | null;
  recall: number | null;
  /** The k of the k-NN manifolds. */
  k: number;
  perClass: StoredClassFidelity[];
}

export interface StoredAudit {
  /** How records were scored, in words. */
  scorer: string;
  members: number;
  nonMembers: number;
  auc: number;
  fpr: number;
  tprAtFpr: number;
  achievedFpr: number;
  /** The bound implied by the run's (ε, δ) (privacy's membershipTprBound). */
  bound: { epsilon: number; delta: number; tprAtFpr: number; auc: number };
  exceedsBound: boolean;
}

/**
 * Figures added by protocol version 3, stored inside the JSON column
 * `train_configs` as `{"budgets": …, "details": …}` (no schema change);
 * null for evaluations stored by older versions.
 */
export interface StoredDetails {
  /** The real test split's commonest class and its share, in %. */
  majorityLabel: number;
  majorityRate: number;
  imbalanced: boolean;
  /** Balanced accuracy (%) per classifier over the seeds. */
  balanced: Partial<Record<EvalClassifier, StoredScore>>;
  /** Real-vs-real fidelity in the same feature space; null without fidelity. */
  reference: {
    fld: number;
    precision: number | null;
    recall: number | null;
    nRealTrain: number;
  } | null;
  /** The feature network, in a few words; null without fidelity. */
  featureNetwork: string | null;
}

/** What `saveEvaluation` stores. */
export interface NewEvaluation {
  runId: number;
  /** Name and version of the evaluation protocol. */
  protocol: string;
  protocolVersion: number;
  /** The data set whose real splits the synthetic images were judged against. */
  realTest: string;
  nSynthetic: number;
  nTest: number;
  seeds: number[];
  /** The classifiers' training budgets (JSON). */
  trainConfigs: unknown;
  lr: StoredScore | null;
  mlp: StoredScore | null;
  cnn: StoredScore | null;
  fidelity: StoredFidelity | null;
  audit: StoredAudit | null;
  backend: string;
  durationMs: number;
  /** Protocol version 3's added figures; null (or absent) for older ones. */
  details?: StoredDetails | null;
}

/** A stored evaluation. */
export interface Evaluation extends NewEvaluation {
  id: number;
  createdAt: string;
}

interface EvaluationRow {
  id: number;
  run_id: number;
  created_at: string;
  protocol: string;
  protocol_version: number;
  real_test: string;
  n_synthetic: number;
  n_test: number;
  seeds: string;
  train_configs: string;
  lr_mean: number | null;
  lr_std: number | null;
  mlp_mean: number | null;
  mlp_std: number | null;
  cnn_mean: number | null;
  cnn_std: number | null;
  fld: number | null;
  feature_space: string | null;
  feature_dims: number | null;
  extractor_accuracy: number | null;
  precision: number | null;
  recall: number | null;
  manifold_k: number | null;
  audit_scorer: string | null;
  audit_members: number | null;
  audit_non_members: number | null;
  audit_auc: number | null;
  audit_fpr: number | null;
  audit_tpr: number | null;
  audit_achieved_fpr: number | null;
  audit_epsilon: number | null;
  audit_delta: number | null;
  audit_bound_tpr: number | null;
  audit_bound_auc: number | null;
  audit_exceeds_bound: number | null;
  backend: string;
  duration_ms: number;
}

function requireFinite(value: unknown, what: string, min: number, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `at least ${min}` : `between ${min} and ${max}`;
    throw new UserError(
      'INVALID_INPUT',
      `${what} must be a number ${range} (got ${String(value)}).`,
    );
  }
  return value;
}

function nullableShare(value: unknown, what: string): number | null {
  return value === null ? null : requireFinite(value, what, 0, 1);
}

function checkScore(
  score: StoredScore | null,
  kind: EvalClassifier,
  seeds: readonly number[],
): void {
  if (score === null) return;
  const what = `The ${kind.toUpperCase()} accuracy`;
  requireFinite(score?.mean, `${what} (mean)`, 0, 100);
  requireFinite(score.std, `${what} (standard deviation)`, 0);
  if (!Array.isArray(score.runs) || score.runs.length !== seeds.length) {
    throw new UserError(
      'INVALID_INPUT',
      `${what} needs one value per seed (${seeds.length}); got ${Array.isArray(score.runs) ? score.runs.length : 'none'}.`,
    );
  }
  score.runs.forEach((a, i) => requireFinite(a, `${what} of seed ${seeds[i]}`, 0, 100));
}

function checkEvaluation(e: NewEvaluation): void {
  requireText(e?.protocol, 'The evaluation protocol', 100);
  requireInt(e.protocolVersion, 'The protocol version', 1);
  requireText(e.realTest, 'The real test set', 200);
  requireInt(e.nSynthetic, 'The number of synthetic images', 1);
  requireInt(e.nTest, 'The number of real test images', 1);
  if (!Array.isArray(e.seeds) || e.seeds.length === 0) {
    throw new UserError('INVALID_INPUT', 'An evaluation needs at least one seed.');
  }
  e.seeds.forEach((s) => requireInt(s, 'A seed'));
  if (new Set(e.seeds).size !== e.seeds.length) {
    throw new UserError('INVALID_INPUT', 'The seeds of an evaluation must be different.');
  }
  for (const kind of EVAL_CLASSIFIERS) checkScore(e[kind], kind, e.seeds);
  requireText(e.backend, 'The backend name', 100);
  requireInt(e.durationMs, 'The duration');
  const f = e.fidelity;
  if (f !== null) {
    requireFinite(f?.fld, 'The Fréchet distance', 0);
    requireText(f.featureSpace, 'The feature space', 1000);
    requireInt(f.featureDims, 'The feature dimensions', 1);
    if (f.extractorAccuracy !== null)
      requireFinite(f.extractorAccuracy, 'The feature extractor’s accuracy', 0, 100);
    nullableShare(f.precision, 'The precision');
    nullableShare(f.recall, 'The recall');
    requireInt(f.k, 'The k of precision/recall', 1);
    if (!Array.isArray(f.perClass)) {
      throw new UserError('INVALID_INPUT', 'The per-class fidelity must be a list.');
    }
    const labels = new Set<number>();
    for (const c of f.perClass) {
      const where = `Class ${String(c?.label)}`;
      requireInt(c?.label, 'A class label');
      if (labels.has(c.label)) throw new UserError('INVALID_INPUT', `${where} is listed twice.`);
      labels.add(c.label);
      requireInt(c.real, `${where}: the real image count`);
      requireInt(c.synthetic, `${where}: the synthetic image count`);
      nullableShare(c.precision, `${where}: the precision`);
      nullableShare(c.recall, `${where}: the recall`);
    }
  }
  if (e.details) checkDetails(e.details, e);
  const a = e.audit;
  if (a !== null) {
    requireText(a?.scorer, 'The audit’s scoring method', 1000);
    requireInt(a.members, 'The number of member records', 1);
    requireInt(a.nonMembers, 'The number of non-member records', 1);
    for (const [name, v] of [
      ['AUC', a.auc],
      ['false-positive rate', a.fpr],
      ['true-positive rate', a.tprAtFpr],
      ['achieved false-positive rate', a.achievedFpr],
      ['bound on the true-positive rate', a.bound?.tprAtFpr],
      ['bound on the AUC', a.bound?.auc],
    ] as const) {
      requireFinite(v, `The audit’s ${name}`, 0, 1);
    }
    requireFinite(a.bound.epsilon, 'The audit’s ε', 0);
    requireFinite(a.bound.delta, 'The audit’s δ', 0, 1);
    if (typeof a.exceedsBound !== 'boolean') {
      throw new UserError(
        'INVALID_INPUT',
        'Whether the audit exceeds its bound must be true or false.',
      );
    }
  }
}

function checkDetails(d: StoredDetails, e: NewEvaluation): void {
  requireInt(d.majorityLabel, 'The majority class');
  requireFinite(d.majorityRate, 'The majority-class rate', 0, 100);
  if (typeof d.imbalanced !== 'boolean') {
    throw new UserError(
      'INVALID_INPUT',
      'Whether the classes are imbalanced must be true or false.',
    );
  }
  for (const kind of EVAL_CLASSIFIERS) {
    const b = d.balanced?.[kind];
    if (b !== undefined) checkScore(b, kind, e.seeds);
  }
  if (d.reference !== null) {
    requireFinite(d.reference?.fld, 'The real-vs-real Fréchet distance', 0);
    nullableShare(d.reference.precision, 'The real-vs-real precision');
    nullableShare(d.reference.recall, 'The real-vs-real recall');
    requireInt(d.reference.nRealTrain, 'The number of real training images', 1);
  }
  if (d.featureNetwork !== null) requireText(d.featureNetwork, 'The feature network', 1000);
}

/**
 * Stores an evaluation of a run, whole or not at all (one transaction), and
 * returns it as stored.
 * @throws UserError NOT_FOUND when the run does not exist; INVALID_INPUT for a
 *   malformed evaluation (nothing is written).
 */
export function saveEvaluation(store: Store, input: NewEvaluation): Evaluation {
  checkEvaluation(input);
  const seeds = toJson(input.seeds, 'The seeds');
  const configs = toJson(
    input.details
      ? { budgets: input.trainConfigs ?? {}, details: input.details }
      : (input.trainConfigs ?? {}),
    'The training budgets',
  );
  const id = writeTx(store, () => {
    getRun(store, input.runId);
    const f = input.fidelity;
    const a = input.audit;
    const score = (s: StoredScore | null) => [s?.mean ?? null, s?.std ?? null];
    const info = stmt(
      store,
      `INSERT INTO evaluations (run_id, created_at, protocol, protocol_version, real_test,
         n_synthetic, n_test, seeds, train_configs,
         lr_mean, lr_std, mlp_mean, mlp_std, cnn_mean, cnn_std,
         fld, feature_space, feature_dims, extractor_accuracy, precision, recall, manifold_k,
         audit_scorer, audit_members, audit_non_members, audit_auc, audit_fpr, audit_tpr,
         audit_achieved_fpr, audit_epsilon, audit_delta, audit_bound_tpr, audit_bound_auc,
         audit_exceeds_bound, backend, duration_ms)
       VALUES (${new Array(36).fill('?').join(', ')})`,
    ).run(
      input.runId,
      nowIso(store),
      input.protocol,
      input.protocolVersion,
      input.realTest,
      input.nSynthetic,
      input.nTest,
      seeds,
      configs,
      ...score(input.lr),
      ...score(input.mlp),
      ...score(input.cnn),
      f?.fld ?? null,
      f?.featureSpace ?? null,
      f?.featureDims ?? null,
      f?.extractorAccuracy ?? null,
      f?.precision ?? null,
      f?.recall ?? null,
      f?.k ?? null,
      a?.scorer ?? null,
      a?.members ?? null,
      a?.nonMembers ?? null,
      a?.auc ?? null,
      a?.fpr ?? null,
      a?.tprAtFpr ?? null,
      a?.achievedFpr ?? null,
      a?.bound.epsilon ?? null,
      a?.bound.delta ?? null,
      a?.bound.tprAtFpr ?? null,
      a?.bound.auc ?? null,
      a === null ? null : a.exceedsBound ? 1 : 0,
      input.backend,
      input.durationMs,
    );
    const evaluationId = Number(info.lastInsertRowid);
    const accuracy = stmt(
      store,
      'INSERT INTO evaluation_accuracies (evaluation_id, classifier, seed, accuracy) VALUES (?, ?, ?, ?)',
    );
    for (const kind of EVAL_CLASSIFIERS) {
      input[kind]?.runs.forEach((value, i) =>
        accuracy.run(evaluationId, kind, input.seeds[i], value),
      );
    }
    if (f) {
      const perClass = stmt(
        store,
        `INSERT INTO evaluation_classes (evaluation_id, label, real_count, synthetic_count, precision, recall)
         VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const c of f.perClass)
        perClass.run(evaluationId, c.label, c.real, c.synthetic, c.precision, c.recall);
    }
    return evaluationId;
  });
  return getEvaluation(store, id) as Evaluation;
}

/** The training budgets and, from protocol version 3, the added figures of the JSON column. */
function splitDetails(
  stored: unknown,
  version: number,
): { trainConfigs: unknown; details: StoredDetails | null } {
  if (
    version >= 3 &&
    typeof stored === 'object' &&
    stored !== null &&
    'details' in stored &&
    'budgets' in stored
  ) {
    const both = stored as { budgets: unknown; details: StoredDetails | null };
    return { trainConfigs: both.budgets, details: both.details };
  }
  return { trainConfigs: stored, details: null };
}

function toEvaluation(store: Store, row: EvaluationRow): Evaluation {
  const seeds = fromJson(row.seeds, `The seeds of evaluation ${row.id}`) as number[];
  const accuracies = stmt(
    store,
    'SELECT classifier, seed, accuracy FROM evaluation_accuracies WHERE evaluation_id = ?',
  ).all(row.id) as { classifier: EvalClassifier; seed: number; accuracy: number }[];
  const score = (kind: EvalClassifier, mean: number | null, std: number | null) => {
    if (mean === null || std === null) return null;
    const bySeed = new Map(
      accuracies.filter((a) => a.classifier === kind).map((a) => [a.seed, a.accuracy]),
    );
    const runs = seeds.map((s) => bySeed.get(s));
    if (runs.some((r) => r === undefined)) {
      throw new UserError(
        'CORRUPT_DATA',
        `Evaluation ${row.id} lacks a ${kind.toUpperCase()} accuracy for one of its seeds. Restore the database from a backup.`,
      );
    }
    return { mean, std, runs: runs as number[] };
  };
  const perClass = (
    stmt(
      store,
      `SELECT label, real_count, synthetic_count, precision, recall FROM evaluation_classes
       WHERE evaluation_id = ? ORDER BY label`,
    ).all(row.id) as {
      label: number;
      real_count: number;
      synthetic_count: number;
      precision: number | null;
      recall: number | null;
    }[]
  ).map((c) => ({
    label: c.label,
    real: c.real_count,
    synthetic: c.synthetic_count,
    precision: c.precision,
    recall: c.recall,
  }));
  const stored = fromJson(row.train_configs, `The training budgets of evaluation ${row.id}`);
  const { trainConfigs, details } = splitDetails(stored, row.protocol_version);
  return {
    id: row.id,
    runId: row.run_id,
    createdAt: row.created_at,
    protocol: row.protocol,
    protocolVersion: row.protocol_version,
    realTest: row.real_test,
    nSynthetic: row.n_synthetic,
    nTest: row.n_test,
    seeds,
    trainConfigs,
    ...(details ? { details } : {}),
    lr: score('lr', row.lr_mean, row.lr_std),
    mlp: score('mlp', row.mlp_mean, row.mlp_std),
    cnn: score('cnn', row.cnn_mean, row.cnn_std),
    fidelity:
      row.fld === null
        ? null
        : {
            fld: row.fld,
            featureSpace: row.feature_space as string,
            featureDims: row.feature_dims as number,
            extractorAccuracy: row.extractor_accuracy,
            precision: row.precision,
            recall: row.recall,
            k: row.manifold_k as number,
            perClass,
          },
    audit:
      row.audit_auc === null
        ? null
        : {
            scorer: row.audit_scorer as string,
            members: row.audit_members as number,
            nonMembers: row.audit_non_members as number,
            auc: row.audit_auc,
            fpr: row.audit_fpr as number,
            tprAtFpr: row.audit_tpr as number,
            achievedFpr: row.audit_achieved_fpr as number,
            bound: {
              epsilon: row.audit_epsilon as number,
              delta: row.audit_delta as number,
              tprAtFpr: row.audit_bound_tpr as number,
              auc: row.audit_bound_auc as number,
            },
            exceedsBound: row.audit_exceeds_bound === 1,
          },
    backend: row.backend,
    durationMs: row.duration_ms,
  };
}

/** The evaluation with this id, or undefined. */
export function getEvaluation(store: Store, id: number): Evaluation | undefined {
  const row = stmt(store, 'SELECT * FROM evaluations WHERE id = ?').get(id) as
    EvaluationRow | undefined;
  return row && toEvaluation(store, row);
}

/** Every evaluation of a run, newest first. @throws UserError NOT_FOUND for an unknown run. */
export function listEvaluations(store: Store, runId: number): Evaluation[] {
  getRun(store, runId);
  const rows = stmt(store, 'SELECT * FROM evaluations WHERE run_id = ? ORDER BY id DESC').all(
    runId,
  ) as EvaluationRow[];
  return rows.map((r) => toEvaluation(store, r));
}

/** The run's latest evaluation, or undefined when it has none. @throws UserError NOT_FOUND for an unknown run. */
export function latestEvaluation(store: Store, runId: number): Evaluation | undefined {
  getRun(store, runId);
  const row = stmt(
    store,
    'SELECT * FROM evaluations WHERE run_id = ? ORDER BY id DESC LIMIT 1',
  ).get(runId) as EvaluationRow | undefined;
  return row && toEvaluation(store, row);
}
