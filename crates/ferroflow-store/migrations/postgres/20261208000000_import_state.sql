-- Where `ferroflow db import` stands: one row while an import runs and after it ends. Each committed
-- chunk of the import moves `stage` and `after_key` in the same transaction, so an interrupted import
-- resumes after the last chunk that landed.
CREATE TABLE import_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    source TEXT NOT NULL,
    revision TEXT NOT NULL,
    stage TEXT NOT NULL,
    after_key TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
