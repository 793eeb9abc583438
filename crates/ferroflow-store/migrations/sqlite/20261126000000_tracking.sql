-- Tracking schema: experiments, runs and what runs log.
CREATE TABLE experiments (
    experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    creation_time INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    deleted_time INTEGER
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX run_tags_by_key ON run_tags (key, value);

CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params (key, value);

-- Every logged point. NaN is kept as value 0 with is_nan = 1 (SQLite turns NaN into NULL).
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    step INTEGER NOT NULL,
    value REAL NOT NULL,
    is_nan INTEGER NOT NULL,
    dataset_name TEXT,
    dataset_digest TEXT,
    model_id TEXT,
    PRIMARY KEY (run_id, key, timestamp, step, value, is_nan)
) WITHOUT ROWID;

-- The latest point per (run, key): highest step, then timestamp, then value.
CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    key TEXT NOT NULL,
    value REAL NOT NULL,
    is_nan INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    step INTEGER NOT NULL,
    dataset_name TEXT,
    dataset_digest TEXT,
    model_id TEXT,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);

CREATE TABLE datasets (
    dataset_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source TEXT NOT NULL,
    schema TEXT,
    profile TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_dataset_inputs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    dataset_id TEXT NOT NULL REFERENCES datasets (dataset_id),
    PRIMARY KEY (run_id, dataset_id)
) WITHOUT ROWID;
CREATE INDEX run_dataset_inputs_by_dataset ON run_dataset_inputs (dataset_id);

CREATE TABLE run_input_tags (
    run_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset_id, key)
) WITHOUT ROWID;

CREATE TABLE run_model_inputs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    model_id TEXT NOT NULL,
    PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;

CREATE TABLE run_model_outputs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    model_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;
