-- Logged models (MLflow 3), MySQL. See the SQLite migration of the same version.
CREATE TABLE logged_models (
    model_id VARCHAR(64) NOT NULL PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name VARCHAR(500) NOT NULL,
    artifact_location TEXT NOT NULL,
    creation_timestamp_ms BIGINT NOT NULL,
    last_updated_timestamp_ms BIGINT NOT NULL,
    status VARCHAR(40) NOT NULL,
    lifecycle_stage VARCHAR(32) NOT NULL DEFAULT 'active',
    model_type TEXT,
    source_run_id VARCHAR(32),
    status_message TEXT,
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, lifecycle_stage, creation_timestamp_ms DESC);
CREATE INDEX logged_models_by_name ON logged_models (name);

CREATE TABLE logged_model_tags (
    model_id VARCHAR(64) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value MEDIUMTEXT NOT NULL,
    PRIMARY KEY (model_id, `key`),
    FOREIGN KEY (model_id) REFERENCES logged_models (model_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE logged_model_params (
    model_id VARCHAR(64) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value MEDIUMTEXT NOT NULL,
    PRIMARY KEY (model_id, `key`),
    FOREIGN KEY (model_id) REFERENCES logged_models (model_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The primary key takes the first 150 characters of the dataset name: InnoDB keys stop at 3072 bytes.
CREATE TABLE logged_model_metrics (
    model_id VARCHAR(64) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    is_nan BIGINT NOT NULL,
    run_id VARCHAR(32) NOT NULL,
    dataset_name VARCHAR(500) NOT NULL DEFAULT '',
    dataset_digest VARCHAR(36) NOT NULL DEFAULT '',
    PRIMARY KEY (model_id, `key`, timestamp, step, run_id, dataset_name(150), dataset_digest, value, is_nan)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
