/**
 * The database schema as an ordered list of forward migrations. Migration `i`
 * takes a database from `user_version = i` to `i + 1`; `openStore` runs the
 * missing ones at start-up in one transaction. Never edit a shipped step:
 * append a new one.
 */

/** `PRAGMA application_id` of every DP² Studio database: the bytes "DP2S". */
export const APPLICATION_ID = 0x44503253;

/** Artifact kinds that may be releasable: the stage-2 decoder and what is computed from it. */
export const RELEASABLE_KINDS = ['decoder', 'samples', 'certificate', 'grid'] as const;

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

/** Training methods. */
export const RUN_METHODS = ['dp2vae', 'dpsgd'] as const;

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
    method TEXT NOT NULL CHECK (method IN (${list(RUN_METHODS)})),
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
    kind TEXT NOT NULL CHECK (kind IN (${list(ARTIFACT_KINDS)})),
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'releasable')),
    path TEXT NOT NULL,
    bytes INTEGER CHECK (bytes IS NULL OR bytes >= 0),
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    CHECK (visibility = 'private' OR (kind IN (${list(RELEASABLE_KINDS)}) AND run_id IS NOT NULL))
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
];

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;
