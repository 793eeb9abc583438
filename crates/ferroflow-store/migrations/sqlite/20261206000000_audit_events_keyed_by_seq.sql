-- The audit log on SQLite, keyed by its sequence number.
--
-- SQLite chains every event in the transaction that stores it, so every row has its seq. Making seq
-- the rowid drops two B-trees that each such transaction used to touch (the unique index on seq
-- and AUTOINCREMENT's sqlite_sequence row), and with them two of the pages every commit writes to
-- the WAL and syncs. The two search indexes go too: a request that changes something would write
-- each of them on every commit, and with synchronous=FULL that cost a third of log-metric's
-- throughput. An audit search on SQLite walks the log from its newest event instead (SQLite reads
-- some millions of rows a second); PostgreSQL and MySQL keep their indexes.
--
-- No released version leaves an SQLite event without its seq; were there one, it would be kept, numbered
-- after the last sealed event, and `audit verify` would report it.
--
-- `id` stays, as a virtual column equal to seq, for the statements shared with the server engines
-- (which seal rows by id); it is never written.
CREATE TABLE audit_events_by_seq (
    seq INTEGER PRIMARY KEY,
    id INTEGER GENERATED ALWAYS AS (seq) VIRTUAL,
    time_ms INTEGER NOT NULL,
    actor TEXT,
    auth_method TEXT,
    token_id TEXT,
    source TEXT,
    user_agent TEXT,
    action TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    details TEXT,
    digest TEXT NOT NULL,
    prev_hash TEXT,
    hash TEXT
);

INSERT INTO audit_events_by_seq (seq, time_ms, actor, auth_method, token_id, source, user_agent, action, method,
                                 path, resource_type, resource_id, status, error_code, details, digest, prev_hash, hash)
SELECT seq, time_ms, actor, auth_method, token_id, source, user_agent, action, method,
       path, resource_type, resource_id, status, error_code, details, digest, prev_hash, hash
FROM audit_events
ORDER BY seq IS NULL, seq, id;

DROP TABLE audit_events;
ALTER TABLE audit_events_by_seq RENAME TO audit_events;
