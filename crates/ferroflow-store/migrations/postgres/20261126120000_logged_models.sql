-- (PostgreSQL)
-- Logged models (MLflow 3): created by every `log_model`, with their own artifact location under the
-- experiment's (`<location>/models/<model_id>/artifacts`).
CREATE TABLE logged_models (
    model_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name TEXT NOT NULL,
    artifact_location TEXT NOT NULL,
    creation_timestamp_ms BIGINT NOT NULL,
    last_updated_timestamp_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    model_type TEXT,
    source_run_id TEXT,
    status_message TEXT
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, lifecycle_stage, creation_timestamp_ms DESC);
CREATE INDEX logged_models_by_name ON logged_models (name);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- Metric points logged against a model (log-batch/log-metric with `model_id`). They are also run
-- metrics, but `metrics` keeps one point per (run, key, timestamp, step, value) across models and
-- datasets, so the model's own copy lives here. Absent dataset fields are stored as ''.
CREATE TABLE logged_model_metrics (
    model_id TEXT NOT NULL,
    key TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL,
    run_id TEXT NOT NULL,
    dataset_name TEXT NOT NULL DEFAULT '',
    dataset_digest TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, key, timestamp, step, run_id, dataset_name, dataset_digest, value, is_nan)
);
