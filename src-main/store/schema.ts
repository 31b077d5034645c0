/**
 * The database schema as an ordered list of forward migrations. Migration `i`
 * takes a database from `user_version = i` to `i + 1`; `openStore` runs the
 * missing ones at start-up in one transaction. Never edit a shipped step:
 * append a new one.
 */

/** `PRAGMA application_id` of every DP² Studio database: the bytes "DP2S". */
export const APPLICATION_ID = 0x44503253;

/**
 * Artifact kinds that may be releasable: the stage-2 decoder and what is
 * computed from it, a method's noisy release (`mepf`'s class sums), and a
 * model trained under noise (a private classifier, issue #21).
 */
export const RELEASABLE_KINDS = [
  'decoder',
  'samples',
  'certificate',
  'grid',
  'release',
  'classifier',
] as const;

/** Every artifact kind; all but `RELEASABLE_KINDS` touched private data without noise. */
export const ARTIFACT_KINDS = [
  ...RELEASABLE_KINDS,
  'encoders',
  'stage1-model',
  'checkpoint',
  'reconstructions',
  'dataset-arrays',
  'thumbnails',
  'metrics',
] as const;

/** Statuses a run can have. */
export const RUN_STATUSES = [
  'queued',
  'running',
  'paused',
  'interrupted',
  'completed',
  'failed',
  'cancelled',
] as const;

/** Training methods (the ids of src-main/methods/catalog.ts; a test checks both agree). */
export const RUN_METHODS = [
  'dp2vae',
  'dpsgd',
  'dp2vae-per-record',
  'mepf',
  'randp',
  'termwise',
] as const;

/** The downstream classifiers of an evaluation, in the order of DP²-VAE's Table 1. */
export const EVAL_CLASSIFIERS = ['lr', 'mlp', 'cnn'] as const;

/** The kinds of v1, as it was written (a migration never changes once shipped). */
const V1_RELEASABLE_KINDS = ['decoder', 'samples', 'certificate', 'grid'];
const V1_ARTIFACT_KINDS = [
  ...V1_RELEASABLE_KINDS,
  'encoders',
  'stage1-model',
  'checkpoint',
  'reconstructions',
  'dataset-arrays',
  'thumbnails',
  'metrics',
];

const list = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/** The forward migrations, oldest first. */
export const MIGRATIONS: readonly string[] = [
  // v1: data sets (tombstoned, never deleted), runs, metrics, checkpoints,
  // artifacts with their visibility, the privacy ledger, pending file removals.
  `
  CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    format TEXT NOT NULL,
    preprocessing TEXT NOT NULL CHECK (json_valid(preprocessing)),
    split_seed INTEGER NOT NULL,
    train_count INTEGER NOT NULL CHECK (train_count >= 0),
    test_count INTEGER NOT NULL CHECK (test_count >= 0),
    class_names TEXT NOT NULL CHECK (json_valid(class_names)),
    files_dir TEXT NOT NULL,
    budget_epsilon REAL CHECK (budget_epsilon IS NULL OR budget_epsilon > 0),
    budget_delta REAL NOT NULL CHECK (budget_delta > 0 AND budget_delta < 1),
    created_at TEXT NOT NULL,
    deleted_at TEXT
  ) STRICT;
  CREATE UNIQUE INDEX datasets_live_name ON datasets(name_key) WHERE deleted_at IS NULL;
  CREATE INDEX datasets_fingerprint ON datasets(fingerprint);
  CREATE TRIGGER datasets_never_deleted BEFORE DELETE ON datasets
  BEGIN SELECT RAISE(ABORT, 'data sets are kept as tombstones for the privacy ledger, never deleted'); END;

  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    method TEXT NOT NULL CHECK (method IN ('dp2vae', 'dpsgd')),
    hyperparameters TEXT NOT NULL CHECK (json_valid(hyperparameters)),
    architecture TEXT NOT NULL CHECK (json_valid(architecture)),
    backend TEXT,
    status TEXT NOT NULL CHECK (status IN (${list(RUN_STATUSES)})),
    target_epsilon REAL CHECK (target_epsilon IS NULL OR target_epsilon > 0),
    delta REAL NOT NULL CHECK (delta > 0 AND delta < 1),
    error_message TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    running_since TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    accountant_name TEXT,
    accountant_version TEXT
  ) STRICT;
  CREATE INDEX runs_dataset ON runs(dataset_id);
  CREATE INDEX runs_status ON runs(status);

  CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    stage TEXT NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL CHECK (step >= 0),
    value REAL,
    PRIMARY KEY (run_id, stage, name, step)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    stage TEXT NOT NULL,
    step INTEGER NOT NULL CHECK (step >= 0),
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX checkpoints_run ON checkpoints(run_id, id);

  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_id INTEGER REFERENCES runs(id),
    kind TEXT NOT NULL CHECK (kind IN (${list(V1_ARTIFACT_KINDS)})),
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'releasable')),
    path TEXT NOT NULL,
    bytes INTEGER CHECK (bytes IS NULL OR bytes >= 0),
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    CHECK (visibility = 'private' OR (kind IN (${list(V1_RELEASABLE_KINDS)}) AND run_id IS NOT NULL))
  ) STRICT;
  CREATE UNIQUE INDEX artifacts_live_path ON artifacts(path) WHERE deleted_at IS NULL;
  CREATE INDEX artifacts_run ON artifacts(run_id);
  CREATE INDEX artifacts_dataset ON artifacts(dataset_id);
  CREATE TRIGGER artifacts_private_stays_private BEFORE UPDATE OF visibility ON artifacts
  WHEN OLD.visibility = 'private' AND NEW.visibility <> 'private'
  BEGIN SELECT RAISE(ABORT, 'a private artifact can never become releasable'); END;

  CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    from_step INTEGER NOT NULL CHECK (from_step >= 0),
    to_step INTEGER NOT NULL CHECK (to_step >= from_step),
    delta REAL NOT NULL CHECK (delta > 0 AND delta < 1),
    recorded_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX ledger_dataset ON ledger(dataset_id, id);
  CREATE INDEX ledger_run ON ledger(run_id, id);
  CREATE TRIGGER ledger_never_deleted BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'privacy ledger rows are never deleted'); END;
  CREATE TRIGGER ledger_only_extended BEFORE UPDATE ON ledger
  WHEN NEW.id IS NOT OLD.id OR NEW.dataset_id IS NOT OLD.dataset_id OR NEW.run_id IS NOT OLD.run_id
    OR NEW.spec IS NOT OLD.spec OR NEW.from_step IS NOT OLD.from_step OR NEW.to_step < OLD.to_step
    OR NEW.delta IS NOT OLD.delta OR NEW.recorded_at IS NOT OLD.recorded_at
  BEGIN SELECT RAISE(ABORT, 'privacy ledger rows can only be extended'); END;

  CREATE TABLE pending_removals (
    path TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    queued_at TEXT NOT NULL
  ) STRICT;
  `,
  // v2: sample grids drawn from the stage-2 decoder during training.
  `
  CREATE TABLE sample_grids (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step INTEGER NOT NULL CHECK (step >= 0),
    png BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
  ) STRICT;
  `,
  // v3: evaluations of a run's released decoder (DP²-VAE Table 1 protocol):
  // utility per classifier with one row per seed, fidelity with one row per
  // class, and the membership audit. Computed on private data: private
  // figures, never exported. A group of columns is all set or all NULL.
  `
  CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    created_at TEXT NOT NULL,
    protocol TEXT NOT NULL,
    protocol_version INTEGER NOT NULL CHECK (protocol_version >= 1),
    real_test TEXT NOT NULL,
    n_synthetic INTEGER NOT NULL CHECK (n_synthetic >= 1),
    n_test INTEGER NOT NULL CHECK (n_test >= 1),
    seeds TEXT NOT NULL CHECK (json_valid(seeds) AND json_type(seeds) = 'array'),
    train_configs TEXT NOT NULL CHECK (json_valid(train_configs)),
    lr_mean REAL CHECK (lr_mean IS NULL OR lr_mean BETWEEN 0 AND 100),
    lr_std REAL CHECK (lr_std IS NULL OR lr_std >= 0),
    mlp_mean REAL CHECK (mlp_mean IS NULL OR mlp_mean BETWEEN 0 AND 100),
    mlp_std REAL CHECK (mlp_std IS NULL OR mlp_std >= 0),
    cnn_mean REAL CHECK (cnn_mean IS NULL OR cnn_mean BETWEEN 0 AND 100),
    cnn_std REAL CHECK (cnn_std IS NULL OR cnn_std >= 0),
    fld REAL CHECK (fld IS NULL OR fld >= 0),
    feature_space TEXT,
    feature_dims INTEGER CHECK (feature_dims IS NULL OR feature_dims >= 1),
    extractor_accuracy REAL CHECK (extractor_accuracy IS NULL OR extractor_accuracy BETWEEN 0 AND 100),
    precision REAL CHECK (precision IS NULL OR precision BETWEEN 0 AND 1),
    recall REAL CHECK (recall IS NULL OR recall BETWEEN 0 AND 1),
    manifold_k INTEGER CHECK (manifold_k IS NULL OR manifold_k >= 1),
    audit_scorer TEXT,
    audit_members INTEGER CHECK (audit_members IS NULL OR audit_members >= 1),
    audit_non_members INTEGER CHECK (audit_non_members IS NULL OR audit_non_members >= 1),
    audit_auc REAL CHECK (audit_auc IS NULL OR audit_auc BETWEEN 0 AND 1),
    audit_fpr REAL CHECK (audit_fpr IS NULL OR audit_fpr BETWEEN 0 AND 1),
    audit_tpr REAL CHECK (audit_tpr IS NULL OR audit_tpr BETWEEN 0 AND 1),
    audit_achieved_fpr REAL CHECK (audit_achieved_fpr IS NULL OR audit_achieved_fpr BETWEEN 0 AND 1),
    audit_epsilon REAL CHECK (audit_epsilon IS NULL OR audit_epsilon >= 0),
    audit_delta REAL CHECK (audit_delta IS NULL OR (audit_delta >= 0 AND audit_delta < 1)),
    audit_bound_tpr REAL CHECK (audit_bound_tpr IS NULL OR audit_bound_tpr BETWEEN 0 AND 1),
    audit_bound_auc REAL CHECK (audit_bound_auc IS NULL OR audit_bound_auc BETWEEN 0 AND 1),
    audit_exceeds_bound INTEGER CHECK (audit_exceeds_bound IS NULL OR audit_exceeds_bound IN (0, 1)),
    backend TEXT NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    CHECK ((lr_mean IS NULL) = (lr_std IS NULL)),
    CHECK ((mlp_mean IS NULL) = (mlp_std IS NULL)),
    CHECK ((cnn_mean IS NULL) = (cnn_std IS NULL)),
    CHECK ((fld IS NULL) = (feature_space IS NULL) AND (fld IS NULL) = (feature_dims IS NULL)
      AND (fld IS NULL) = (manifold_k IS NULL)),
    CHECK (fld IS NOT NULL OR (extractor_accuracy IS NULL AND precision IS NULL AND recall IS NULL)),
    CHECK ((audit_auc IS NULL) = (audit_scorer IS NULL) AND (audit_auc IS NULL) = (audit_members IS NULL)
      AND (audit_auc IS NULL) = (audit_non_members IS NULL) AND (audit_auc IS NULL) = (audit_fpr IS NULL)
      AND (audit_auc IS NULL) = (audit_tpr IS NULL) AND (audit_auc IS NULL) = (audit_achieved_fpr IS NULL)
      AND (audit_auc IS NULL) = (audit_epsilon IS NULL) AND (audit_auc IS NULL) = (audit_delta IS NULL)
      AND (audit_auc IS NULL) = (audit_bound_tpr IS NULL) AND (audit_auc IS NULL) = (audit_bound_auc IS NULL)
      AND (audit_auc IS NULL) = (audit_exceeds_bound IS NULL))
  ) STRICT;
  CREATE INDEX evaluations_run ON evaluations(run_id, id);

  CREATE TABLE evaluation_accuracies (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    classifier TEXT NOT NULL CHECK (classifier IN (${list(EVAL_CLASSIFIERS)})),
    seed INTEGER NOT NULL CHECK (seed >= 0),
    accuracy REAL NOT NULL CHECK (accuracy BETWEEN 0 AND 100),
    PRIMARY KEY (evaluation_id, classifier, seed)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE evaluation_classes (
    evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
    label INTEGER NOT NULL CHECK (label >= 0),
    real_count INTEGER NOT NULL CHECK (real_count >= 0),
    synthetic_count INTEGER NOT NULL CHECK (synthetic_count >= 0),
    precision REAL CHECK (precision IS NULL OR precision BETWEEN 0 AND 1),
    recall REAL CHECK (recall IS NULL OR recall BETWEEN 0 AND 1),
    PRIMARY KEY (evaluation_id, label)
  ) STRICT, WITHOUT ROWID;
  `,
  // v4: the connection that set a run running ("<pid>:<random>", since then
  // with ":<start mark>", see owner.ts), so that only runs whose owner is gone
  // are marked interrupted when another process opens.
  `
  ALTER TABLE runs ADD COLUMN owner TEXT;
  `,
  // v5: a random public identifier per data set, made at import: what a
  // certificate names the data set by (the content fingerprint is a noise-free
  // function of the private images and never leaves the machine); and a
  // random identifier of this database file, which the ledger journal
  // (ledger-journal.ts) tags its lines with.
  `
  ALTER TABLE datasets ADD COLUMN public_id TEXT;
  UPDATE datasets SET public_id = lower(hex(randomblob(16))) WHERE public_id IS NULL;
  CREATE UNIQUE INDEX datasets_public_id ON datasets(public_id);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  INSERT INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(16))));
  `,
  // v6: DP²-VAE with per-record encoders. SQLite cannot change a CHECK
  // constraint, so the runs table is rebuilt once (the documented procedure,
  // sqlite.org/lang_altertable.html §7; migrate() turns foreign keys off
  // around it and checks them before commit) with the method checked by
  // triggers instead: a later method replaces the triggers, not the table.
  `
  CREATE TABLE runs_v6 (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    method TEXT NOT NULL,
    hyperparameters TEXT NOT NULL CHECK (json_valid(hyperparameters)),
    architecture TEXT NOT NULL CHECK (json_valid(architecture)),
    backend TEXT,
    status TEXT NOT NULL CHECK (status IN (${list(RUN_STATUSES)})),
    target_epsilon REAL CHECK (target_epsilon IS NULL OR target_epsilon > 0),
    delta REAL NOT NULL CHECK (delta > 0 AND delta < 1),
    error_message TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    running_since TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    accountant_name TEXT,
    accountant_version TEXT,
    owner TEXT
  ) STRICT;
  INSERT INTO runs_v6 SELECT id, dataset_id, method, hyperparameters, architecture, backend,
    status, target_epsilon, delta, error_message, created_at, started_at, finished_at,
    running_since, duration_ms, accountant_name, accountant_version, owner FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v6 RENAME TO runs;
  CREATE INDEX runs_dataset ON runs(dataset_id);
  CREATE INDEX runs_status ON runs(status);
  ${methodTriggers(['dp2vae', 'dpsgd', 'dp2vae-per-record'])}
  `,
  // v7: method `mepf` (new triggers), and two releasable artifact kinds, its
  // release and a private classifier's model: the artifacts table is rebuilt
  // once for its CHECKs (the procedure of v6), keeping every row, index and
  // trigger.
  `
  DROP TRIGGER runs_method_known;
  DROP TRIGGER runs_method_kept;
  ${methodTriggers(['dp2vae', 'dpsgd', 'dp2vae-per-record', 'mepf'])}
  CREATE TABLE artifacts_v7 (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    run_id INTEGER REFERENCES runs(id),
    kind TEXT NOT NULL CHECK (kind IN (${list(ARTIFACT_KINDS)})),
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'releasable')),
    path TEXT NOT NULL,
    bytes INTEGER CHECK (bytes IS NULL OR bytes >= 0),
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    CHECK (visibility = 'private' OR (kind IN (${list(RELEASABLE_KINDS)}) AND run_id IS NOT NULL))
  ) STRICT;
  INSERT INTO artifacts_v7 SELECT id, dataset_id, run_id, kind, visibility, path, bytes,
    created_at, deleted_at FROM artifacts;
  DROP TABLE artifacts;
  ALTER TABLE artifacts_v7 RENAME TO artifacts;
  CREATE UNIQUE INDEX artifacts_live_path ON artifacts(path) WHERE deleted_at IS NULL;
  CREATE INDEX artifacts_run ON artifacts(run_id);
  CREATE INDEX artifacts_dataset ON artifacts(dataset_id);
  CREATE TRIGGER artifacts_private_stays_private BEFORE UPDATE OF visibility ON artifacts
  WHEN OLD.visibility = 'private' AND NEW.visibility <> 'private'
  BEGIN SELECT RAISE(ABORT, 'a private artifact can never become releasable'); END;
  `,
  // v8: method `randp` (a private classifier; its model is the releasable
  // kind 'classifier' of v7): new triggers only.
  `
  DROP TRIGGER runs_method_known;
  DROP TRIGGER runs_method_kept;
  ${methodTriggers(['dp2vae', 'dpsgd', 'dp2vae-per-record', 'mepf', 'randp'])}
  `,
  // v9: method `termwise` (term-wise DP-SGD; releases a decoder like dpsgd): new triggers only.
  `
  DROP TRIGGER runs_method_known;
  DROP TRIGGER runs_method_kept;
  ${methodTriggers(['dp2vae', 'dpsgd', 'dp2vae-per-record', 'mepf', 'randp', 'termwise'])}
  `,
];

/** Triggers that refuse a run whose method is not one of `methods` (v6 and later). */
function methodTriggers(methods: readonly string[]): string {
  const refuse = `SELECT RAISE(ABORT, 'unknown training method')`;
  return `
  CREATE TRIGGER runs_method_known BEFORE INSERT ON runs
  WHEN NEW.method NOT IN (${list(methods)}) BEGIN ${refuse}; END;
  CREATE TRIGGER runs_method_kept BEFORE UPDATE OF method ON runs
  WHEN NEW.method NOT IN (${list(methods)}) BEGIN ${refuse}; END;`;
}

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;
