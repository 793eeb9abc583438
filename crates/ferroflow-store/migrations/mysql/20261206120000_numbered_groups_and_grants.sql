-- Numbers for groups, memberships and grants.
--
-- MLflow 3.17's role API is served by groups: a role is a group, a role permission one of the
-- group's grants, a role assignment a membership. That API names each of them by number, so each
-- gets a stable id here. Renaming a role renames its group, so a membership follows its group's
-- name (ON UPDATE CASCADE). group_members_ibfk_1 is the name InnoDB gave the first foreign key of
-- group_members, the one on group_name.
ALTER TABLE user_groups ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT UNIQUE;
ALTER TABLE group_members ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT UNIQUE;
ALTER TABLE group_members DROP FOREIGN KEY group_members_ibfk_1;
ALTER TABLE group_members
    ADD CONSTRAINT group_members_group FOREIGN KEY (group_name) REFERENCES user_groups (name)
        ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE grants ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT UNIQUE;
