import { z } from 'zod';
import { DEFAULT_METHOD, MethodIdSchema, SettingsSchema } from '../methods/catalog';
import { PRESET_NAMES } from '../methods/preset-names';
import { DatasetName } from './datasets';
import { Delta, Epsilon } from './schemas';
import { EstimateDto } from './estimate';

export const PresetName = z.enum(PRESET_NAMES);

/** The training methods of this version (src-main/methods/catalog.ts); the default measures best. */
export const TrainingMethod = MethodIdSchema;

/**
 * Hyperparameters the analyst may set on top of a preset (named, never
 * positional): every method's settings (src-main/methods/<id>/settings.ts);
 * the chosen method refuses another's when it plans the run.
 */
export const RunOverrides = SettingsSchema;

export const RunPlanRequest = z.strictObject({
  dataset: DatasetName,
  method: TrainingMethod.default(DEFAULT_METHOD),
  preset: PresetName.default('quick'),
  epsilon: Epsilon,
  delta: Delta.optional(),
  overrides: RunOverrides.default({}),
});

export const RunPlanResponse = z.strictObject({
  hyperparameters: z.record(z.string(), z.union([z.number(), z.string()])),
  /** The run's own ε after all planned steps. */
  epsilon: z.number(),
  /**
   * ε of what the run releases when it is more than its own spend (images
   * labelled by an earlier private classifier: both composed), else null.
   */
  releasedEpsilon: z.number().nullable(),
  delta: z.number(),
  /** The data set's total before and after this run (composed by the accountant). */
  datasetSpent: z.strictObject({
    before: z.number(),
    after: z.number(),
    cap: z.number().nullable(),
  }),
  notes: z.array(z.string()),
  /** What the analyst must confirm before the run may start (a class too small for its noise), or null. */
  confirm: z.string().nullable(),
  /** How long it should take on this computer. */
  estimate: EstimateDto,
});

export const RunStartRequest = RunPlanRequest.extend({
  /** Wait for the end of training (the command line); the app follows events instead. */
  wait: z.boolean().default(false),
  /** The analyst confirmed the plan's `confirm` (a run that asks for it does not start without). */
  confirmed: z.boolean().default(false),
});

export const RunOutcomeDto = z.strictObject({
  status: z.string(),
  steps: z.number(),
  epsilon: z.number(),
  stoppedBy: z.string().nullable(),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});

export const RunStartResponse = z.strictObject({
  runId: z.number(),
  outcome: RunOutcomeDto.nullable(),
});

export const RunRef = z.strictObject({ runId: z.number().int().min(1) });

export const RunDto = z.strictObject({
  id: z.number(),
  dataset: z.string(),
  method: z.string(),
  status: z.string(),
  targetEpsilon: z.number().nullable(),
  delta: z.number(),
  /** ε of the steps the run's ledger rows pay for. */
  spentEpsilon: z.number(),
  /**
   * ε of the images of a generator whose images a private classifier labels
   * (its release and the classifier composed, as its certificate states);
   * null otherwise.
   */
  releasedEpsilon: z.number().nullable().optional(),
  stepsPaid: z.number(),
  hyperparameters: z.unknown(),
  backend: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number(),
  error: z.string().nullable(),
  /**
   * A released classifier's accuracy (%) on the data set's held-out test
   * split, and on how many images (null: not a classifier, or not measured).
   * Computed on private images without noise: shown in the app only, never
   * exported.
   */
  testAccuracy: z.strictObject({ accuracy: z.number(), images: z.number() }).nullable().optional(),
  /**
   * For a classifier run: the other route to a model at no more privacy,
   * the best CNN accuracy (%) on the same held-out split of a classifier
   * trained on a synthetic set (a generator run of the same data set whose
   * ε spent is at most this run's, evaluated under the current protocol);
   * null when none has been evaluated. Private like testAccuracy.
   */
  syntheticRoute: z
    .strictObject({
      runId: z.number(),
      method: z.string(),
      epsilon: z.number(),
      cnn: z.number(),
    })
    .nullable()
    .optional(),
});

export const GenerateRequest = z.strictObject({
  runId: z.number().int().min(1),
  perClass: z.number().int().min(1).max(100_000),
  seed: z.number().int().min(0).default(0),
  /** A `.npz` file or a folder (PNG per image, `CLASS/000001.png`); must not exist yet. */
  out: z.string().min(1),
});
export const GenerateResponse = z.strictObject({
  out: z.string(),
  count: z.number(),
  certificate: z.string(),
  /** Set when an older certificate was re-issued first (said once). */
  notice: z.string().nullable(),
});

export const ExportRequest = z.strictObject({
  runId: z.number().int().min(1),
  outDir: z.string().min(1),
  include: z
    .strictObject({
      decoder: z.boolean(),
      samplesNpz: z.boolean(),
      samplesPng: z.boolean(),
      certificate: z.boolean(),
      grids: z.boolean(),
      /** The noisy release a `mepf` run made (skipped for a run without one). */
      release: z.boolean(),
      /** The classifier a `randp` run released (skipped for a run without one). */
      classifier: z.boolean(),
    })
    .partial()
    .default({
      decoder: true,
      samplesNpz: true,
      certificate: true,
      grids: true,
      release: true,
      classifier: true,
    }),
  /** Samples to generate first when the run has none yet (per class). */
  perClass: z.number().int().min(1).max(100_000).default(1000),
});
const Score = z.strictObject({ mean: z.number(), std: z.number() }).nullable();

export const EvalRequest = z
  .strictObject({
    runId: z.number().int().min(1).optional(),
    synthetic: z.string().min(1).optional(),
    /** Real held-out images: a data set's test split, or "mnist" (the bundled one). */
    realTest: z.string().min(1).optional(),
    /** Samples per class drawn from the run (the paper: 6000, i.e. 60 000 in all). */
    perClass: z.number().int().min(1).max(100_000).default(6000),
    seeds: z.number().int().min(1).max(10).default(3),
  })
  .refine((r) => (r.runId === undefined) !== (r.synthetic === undefined), {
    message: 'give either a run or a synthetic .npz file',
  });

/** One utility row of DP²-VAE's Table 1: a classifier's accuracy (%) over the seeds. */
export const EvalUtilityRow = z.strictObject({
  classifier: z.enum(['lr', 'mlp', 'cnn']),
  /** The table's column name: "LR", "MLP", "CNN". */
  label: z.string(),
  /** In words: "logistic regression", … */
  name: z.string(),
  mean: z.number(),
  /** Sample standard deviation over the seeds. */
  std: z.number(),
  /** One accuracy per seed, in the order of `seeds`. */
  runs: z.array(z.number()),
  /** Balanced accuracy (%): mean recall over the test split's classes; null before protocol v3. */
  balanced: Score,
});

/** k-NN manifold precision and recall of one class (Kynkäänniemi et al. 2019). */
export const EvalClassRow = z.strictObject({
  label: z.number(),
  /** The class's name in the data set. */
  name: z.string(),
  /** Images of the class used on each side (after subsampling). */
  real: z.number(),
  synthetic: z.number(),
  /** null when a side had too few images of the class (≤ k). */
  precision: z.number().nullable(),
  recall: z.number().nullable(),
});

export const EvalFidelity = z.strictObject({
  /** "Fréchet distance, real-data CNN features": what the number is. */
  label: z.string(),
  /** The Fréchet distance d² (= `fld`); lower is better, 0 for identical statistics. */
  value: z.number(),
  /** The feature space in a sentence. */
  description: z.string(),
  featureDims: z.number(),
  /** Accuracy (%) of the feature CNN on the real test split: a sanity check of the feature space. */
  extractorAccuracy: z.number().nullable(),
  /** Means over the classes that have both numbers. */
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  k: z.number(),
  perClass: z.array(EvalClassRow),
  /** The feature network in a few words; null before protocol v3. */
  network: z.string().nullable(),
  /**
   * The same figures for a sample of the real training split against the real
   * test split (what real data scores): null before protocol v3.
   */
  reference: z
    .strictObject({
      value: z.number(),
      precision: z.number().nullable(),
      recall: z.number().nullable(),
      nRealTrain: z.number(),
    })
    .nullable(),
});

/** The membership audit of a run's released decoder next to the bound its (ε, δ) implies. */
export const EvalAudit = z.strictObject({
  /** How records were scored, in words. */
  scorer: z.string(),
  /** Records from the run's training split / from the held-out test split. */
  members: z.number(),
  nonMembers: z.number(),
  /** Attack AUC (0.5 = guessing). */
  auc: z.number(),
  /** The false-positive rate the TPR is read at (0.01). */
  fpr: z.number(),
  tprAtFpr: z.number(),
  /** The FPR the chosen threshold actually has (≤ `fpr`). */
  achievedFpr: z.number(),
  /** What no attacker can beat against the run's (ε, δ) (ε from the privacy accountant). */
  bound: z.strictObject({
    epsilon: z.number(),
    delta: z.number(),
    tprAtFpr: z.number(),
    auc: z.number(),
  }),
  exceedsBound: z.boolean(),
});

/** Published reference rows (src-main/eval/paper-table.ts), accuracies in %. */
export const EvalReference = z.strictObject({
  citation: z.string(),
  arxiv: z.string(),
  dataset: z.string(),
  delta: z.number(),
  rows: z.array(
    z.strictObject({
      method: z.string(),
      epsilon: z.number().nullable(),
      lr: z.number().nullable(),
      mlp: z.number().nullable(),
      cnn: z.number().nullable(),
      note: z.string().nullable(),
    }),
  ),
});

/**
 * DESIGN.md's `dp2 eval --json` (the first seven fields, accuracies in %),
 * and beside them what the app shows: the paper's Table 1 layout (utility
 * rows, fidelity with per-class precision/recall), the membership audit and
 * the published reference rows. Private figures (computed on the real
 * splits): shown in the app, never exported.
 */
export const EvalResponse = z.strictObject({
  lr: Score,
  mlp: Score,
  cnn: Score,
  fld: z.number().nullable(),
  n_synthetic: z.number(),
  n_test: z.number(),
  seeds: z.array(z.number()),
  /** Share (%) of the real test split in its commonest class: what always answering it scores. */
  majority_rate: z.number().nullable(),
  /** Whether the test split's classes are imbalanced (read the balanced accuracies then). */
  imbalanced: z.boolean().nullable(),
  /** Balanced accuracy (%) per classifier, mean ± std over the seeds. */
  balanced_accuracy: z.strictObject({ lr: Score, mlp: Score, cnn: Score }),
  /** Fréchet distance of real training images against the real test split (same features). */
  fld_real: z.number().nullable(),
  /** k-NN precision and recall (Kynkäänniemi et al. 2019), synthetic and real-vs-real. */
  precision: z.number().nullable(),
  recall: z.number().nullable(),
  precision_real: z.number().nullable(),
  recall_real: z.number().nullable(),
  /** The network whose features fidelity is measured in. */
  feature_network: z.string().nullable(),
  /** The stored evaluation's id; null when nothing was stored (a --synthetic file has no run). */
  evaluationId: z.number().nullable(),
  runId: z.number().nullable(),
  createdAt: z.string(),
  /**
   * The protocol that produced the figures; `note` says in words when an
   * older version's figures are not comparable with the current one's (else '').
   */
  protocol: z.strictObject({ name: z.string(), version: z.number(), note: z.string() }),
  /** The data set whose held-out split judged the images. */
  realTest: z.string(),
  backend: z.string(),
  durationMs: z.number(),
  utility: z.array(EvalUtilityRow),
  fidelity: EvalFidelity.nullable(),
  /** null for a --synthetic file (no decoder to audit) or when the run's data set is gone. */
  audit: EvalAudit.nullable(),
  /**
   * ε of the run's synthetic images (null for a --synthetic file): its
   * release's, or for images labelled by a private classifier the release
   * and the classifier composed. The audit's bound is the decoder's own.
   */
  imagesEpsilon: z.number().nullable(),
  /** The paper's rows when the images were judged against MNIST, else null. */
  reference: EvalReference.nullable(),
});

export const ExportResponse = z.strictObject({
  outDir: z.string(),
  files: z.array(z.string()),
  /** Set when an older certificate was re-issued first (said once). */
  notice: z.string().nullable(),
});
