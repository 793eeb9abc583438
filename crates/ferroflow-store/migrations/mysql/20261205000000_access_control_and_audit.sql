-- Access control and the audit log, MySQL. See the SQLite migration of the same version.
CREATE TABLE users (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(255) NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE user_groups (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    description TEXT,
    created_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE group_members (
    group_name VARCHAR(255) NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (group_name, user_id),
    KEY group_members_user (user_id),
    FOREIGN KEY (group_name) REFERENCES user_groups (name) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE grants (
    resource_type VARCHAR(32) NOT NULL,
    resource_id VARCHAR(256) NOT NULL,
    principal_kind VARCHAR(8) NOT NULL,
    principal VARCHAR(255) NOT NULL,
    permission VARCHAR(16) NOT NULL,
    PRIMARY KEY (resource_type, resource_id, principal_kind, principal),
    KEY grants_principal (principal_kind, principal)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE api_tokens (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    digest VARCHAR(64) NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    revoked_ms BIGINT,
    KEY api_tokens_user (user_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE auth_state (
    id BIGINT NOT NULL PRIMARY KEY,
    epoch BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO auth_state (id, epoch) VALUES (1, 0);

CREATE TABLE audit_events (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    seq BIGINT UNIQUE,
    time_ms BIGINT NOT NULL,
    actor VARCHAR(255),
    auth_method VARCHAR(16),
    token_id VARCHAR(32),
    source VARCHAR(255),
    user_agent TEXT,
    action VARCHAR(64) NOT NULL,
    method VARCHAR(16) NOT NULL,
    path TEXT NOT NULL,
    resource_type VARCHAR(32),
    resource_id VARCHAR(512),
    status BIGINT NOT NULL,
    error_code VARCHAR(64),
    details MEDIUMTEXT,
    digest VARCHAR(64) NOT NULL,
    prev_hash VARCHAR(64),
    hash VARCHAR(64),
    KEY audit_events_actor (actor, seq),
    KEY audit_events_resource (resource_type, resource_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_head (
    id BIGINT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash VARCHAR(64) NOT NULL
) ENGINE=InnoDB;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
