-- Access control and the audit log.
--
-- Users, groups and their grants on experiments and registered models; API tokens (only their
-- SHA-256 digest); a counter every change to any of these bumps, so each replica can tell in one
-- cheap read whether what it cached is still good.
--
-- The audit log: each event is inserted, with the digest of its contents, in the transaction of the
-- change it records. SQLite runs one write transaction at a time, so the event gets its gapless
-- seq, the hash of the event before and its own chain hash right there, and audit_head (the last
-- seq and hash) moves on in the same transaction. seq stays nullable as on the server engines,
-- where a sealer chains the events after their transactions.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE user_groups (
    name TEXT PRIMARY KEY,
    description TEXT,
    created_ms INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (user_id);

-- principal_kind is 'user' (principal = the user's id) or 'group' (principal = the group's name).
CREATE TABLE grants (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    principal TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, principal_kind, principal)
) WITHOUT ROWID;
CREATE INDEX grants_principal ON grants (principal_kind, principal);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE auth_state (
    id INTEGER PRIMARY KEY,
    epoch INTEGER NOT NULL
);
INSERT INTO auth_state (id, epoch) VALUES (1, 0);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER UNIQUE,
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
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
