-- The model registry, MySQL. See the SQLite migration of the same version.
CREATE TABLE registered_models (
    name VARCHAR(256) NOT NULL PRIMARY KEY,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description TEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE registered_model_tags (
    name VARCHAR(256) NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value MEDIUMTEXT NOT NULL,
    PRIMARY KEY (name, `key`),
    FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE model_versions (
    name VARCHAR(256) NOT NULL,
    version BIGINT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    user_id TEXT,
    current_stage VARCHAR(20) NOT NULL,
    description TEXT,
    source TEXT NOT NULL,
    storage_location TEXT NOT NULL,
    run_id VARCHAR(32),
    run_link TEXT,
    model_id VARCHAR(64),
    PRIMARY KEY (name, version),
    FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX model_versions_by_update ON model_versions (last_updated_timestamp DESC);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    name VARCHAR(256) NOT NULL,
    version BIGINT NOT NULL,
    `key` VARCHAR(250) NOT NULL,
    value MEDIUMTEXT NOT NULL,
    PRIMARY KEY (name, version, `key`),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE registered_model_aliases (
    name VARCHAR(256) NOT NULL,
    alias VARCHAR(256) NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name) REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
