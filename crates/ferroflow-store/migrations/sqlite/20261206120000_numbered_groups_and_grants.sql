-- Numbers for groups, memberships and grants.
--
-- MLflow 3.17's role API is served by groups: a role is a group, a role permission one of the
-- group's grants, a role assignment a membership. That API names each of them by number, so each
-- gets a stable id here. Renaming a role renames its group, so a membership follows its group's
-- name (ON UPDATE CASCADE).
--
-- SQLite cannot add a numbered column to a table, so the three are rebuilt with their rows. The
-- memberships' table goes first: nothing references it, and once it is gone the old groups' table
-- can be dropped without its ON DELETE CASCADE touching a membership.
CREATE TABLE user_groups_numbered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_ms INTEGER NOT NULL
);
INSERT INTO user_groups_numbered (name, description, created_ms)
SELECT name, description, created_ms FROM user_groups ORDER BY created_ms, name;

CREATE TABLE group_members_numbered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL REFERENCES user_groups_numbered (name) ON DELETE CASCADE ON UPDATE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    UNIQUE (group_name, user_id)
);
INSERT INTO group_members_numbered (group_name, user_id)
SELECT group_name, user_id FROM group_members ORDER BY group_name, user_id;

DROP TABLE group_members;
DROP TABLE user_groups;
ALTER TABLE user_groups_numbered RENAME TO user_groups;
ALTER TABLE group_members_numbered RENAME TO group_members;
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE grants_numbered (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    principal TEXT NOT NULL,
    permission TEXT NOT NULL,
    UNIQUE (resource_type, resource_id, principal_kind, principal)
);
INSERT INTO grants_numbered (resource_type, resource_id, principal_kind, principal, permission)
SELECT resource_type, resource_id, principal_kind, principal, permission FROM grants
ORDER BY resource_type, resource_id, principal_kind, principal;
DROP TABLE grants;
ALTER TABLE grants_numbered RENAME TO grants;
CREATE INDEX grants_principal ON grants (principal_kind, principal);
