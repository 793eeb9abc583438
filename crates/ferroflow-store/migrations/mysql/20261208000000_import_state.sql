-- Where `ferroflow db import` stands: one row while an import runs and after it ends. Each committed
-- chunk of the import moves `stage` and `after_key` in the same transaction, so an interrupted import
-- resumes after the last chunk that landed.
CREATE TABLE import_state (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    source VARCHAR(2000) NOT NULL,
    revision VARCHAR(64) NOT NULL,
    stage VARCHAR(64) NOT NULL,
    after_key VARCHAR(1000) NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
