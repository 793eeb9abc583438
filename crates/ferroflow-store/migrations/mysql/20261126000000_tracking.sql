-- Tracking schema: experiments, runs and what runs log (MySQL 8 / MariaDB 10.6+).
-- The same tables as the SQLite schema. Text is utf8mb4 with a binary collation, so names and
-- LIKE compare case-sensitively as on the other engines. Columns that are keys are VARCHARs sized
-- to the API's limits (InnoDB keys stop at 3072 bytes); long values are TEXT types, indexed by key only.
CREATE TABLE experiments (
    experiment_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(500) NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage VARCHAR(32) NOT NULL DEFAULT 'active',
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value MEDIUMTEXT NOT NULL,
    PRIMARY KEY (experiment_id, `key`),
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE runs (
    run_id VARCHAR(32) NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    status VARCHAR(20) NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage VARCHAR(32) NOT NULL DEFAULT 'active',
    deleted_time BIGINT,
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);

CREATE TABLE run_tags (
    run_id VARCHAR(32) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX run_tags_by_key ON run_tags (`key`);

CREATE TABLE params (
    run_id VARCHAR(32) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX params_by_key ON params (`key`);

CREATE TABLE metrics (
    run_id VARCHAR(32) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    is_nan BIGINT NOT NULL,
    dataset_name VARCHAR(500),
    dataset_digest VARCHAR(36),
    model_id VARCHAR(64),
    PRIMARY KEY (run_id, `key`, timestamp, step, value, is_nan),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE latest_metrics (
    run_id VARCHAR(32) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value DOUBLE NOT NULL,
    is_nan BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    dataset_name VARCHAR(500),
    dataset_digest VARCHAR(36),
    model_id VARCHAR(64),
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX latest_metrics_by_key ON latest_metrics (`key`, value);

CREATE TABLE datasets (
    dataset_id VARCHAR(36) NOT NULL PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name VARCHAR(500) NOT NULL,
    digest VARCHAR(36) NOT NULL,
    source_type TEXT NOT NULL,
    source MEDIUMTEXT NOT NULL,
    `schema` LONGTEXT,
    profile LONGTEXT,
    UNIQUE (experiment_id, name, digest),
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE run_dataset_inputs (
    run_id VARCHAR(32) NOT NULL,
    dataset_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (run_id, dataset_id),
    FOREIGN KEY (run_id) REFERENCES runs (run_id),
    FOREIGN KEY (dataset_id) REFERENCES datasets (dataset_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX run_dataset_inputs_by_dataset ON run_dataset_inputs (dataset_id);

CREATE TABLE run_input_tags (
    run_id VARCHAR(32) NOT NULL,
    dataset_id VARCHAR(36) NOT NULL,
    `key` VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset_id, `key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE run_model_inputs (
    run_id VARCHAR(32) NOT NULL,
    model_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (run_id, model_id),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE run_model_outputs (
    run_id VARCHAR(32) NOT NULL,
    model_id VARCHAR(64) NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id),
    FOREIGN KEY (run_id) REFERENCES runs (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
