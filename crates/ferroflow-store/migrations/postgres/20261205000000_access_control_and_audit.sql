-- (PostgreSQL) Access control and the audit log. See the SQLite migration of the same version.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE user_groups (
    name TEXT PRIMARY KEY,
    description TEXT,
    created_ms BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE grants (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    principal TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, principal_kind, principal)
);
CREATE INDEX grants_principal ON grants (principal_kind, principal);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE auth_state (
    id BIGINT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO auth_state (id, epoch) VALUES (1, 0);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT UNIQUE,
    time_ms BIGINT NOT NULL,
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
    status BIGINT NOT NULL,
    error_code TEXT,
    details TEXT,
    digest TEXT NOT NULL,
    prev_hash TEXT,
    hash TEXT
);
CREATE INDEX audit_events_unsealed ON audit_events (id) WHERE seq IS NULL;
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
