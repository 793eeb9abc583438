//! Users, groups, grants and API tokens.
//!
//! Every change here bumps `auth_state.epoch` in its own transaction. A server caches what it verified
//! (credentials, a user's grants) only for the epoch it read; one indexed read per request tells it
//! whether anything changed on any replica.

use ferroflow_auth::Permission;
use serde::Serialize;
use sqlx::{Any, Row as _};

use crate::context::RequestContext;
use crate::error::is_unique_violation;
use crate::sql::Dialect;
use crate::{now_ms, Error, Result, SqlStore};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Passes every permission check.
    pub is_admin: bool,
}

/// A user with the stored password hash, for logging in.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// PHC string of the password's hash.
    pub password_hash: String,
}

/// A group of users; grants to it apply to every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Number (MLflow's role id).
    pub id: i64,
    /// Name.
    pub name: String,
    /// What the group is for.
    pub description: Option<String>,
    /// Usernames of the members, sorted.
    pub members: Vec<String>,
}

/// An API token's stored record (never the token itself).
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    /// Public id (part of the token).
    pub id: String,
    /// Owner.
    pub user: User,
    /// Label given at creation.
    pub name: String,
    /// Hex SHA-256 of the token.
    #[serde(skip)]
    pub digest: String,
    /// When it was made (ms).
    pub created_ms: i64,
    /// When it stops working (ms), if ever.
    pub expires_ms: Option<i64>,
    /// When it was revoked (ms).
    pub revoked_ms: Option<i64>,
}

/// Whom a grant is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// One user.
    User,
    /// Every member of a group.
    Group,
}

impl PrincipalKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

/// What a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// An experiment (and its runs, logged models, artifacts).
    Experiment,
    /// A registered model (and its versions and aliases).
    RegisteredModel,
}

impl ResourceType {
    /// The name used in the API and the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Experiment => "experiment",
            Self::RegisteredModel => "registered_model",
        }
    }

    /// Parses [`ResourceType::as_str`].
    ///
    /// # Errors
    /// `InvalidParameterValue` naming the valid types.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "experiment" => Ok(Self::Experiment),
            "registered_model" => Ok(Self::RegisteredModel),
            other => Err(Error::InvalidParameterValue(format!(
                "Invalid resource type '{other}'. Valid types are: experiment, registered_model"
            ))),
        }
    }
}

/// One grant, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Number (MLflow's role permission id, for a group's grant).
    pub id: i64,
    /// What it is on.
    pub resource_type: ResourceType,
    /// Experiment id, model name, or `*`.
    pub resource_id: String,
    /// Whom it is to.
    pub principal_kind: PrincipalKind,
    /// Username or group name.
    pub principal: String,
    /// The level.
    #[serde(serialize_with = "permission_name")]
    pub permission: Permission,
}

fn permission_name<S: serde::Serializer>(permission: &Permission, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(permission.name())
}

/// How [`SqlStore::put_grant`] treats an existing grant for the same resource and principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantMode {
    /// Fail if there is one (MLflow's `permissions/create`).
    Create,
    /// Fail if there is none (MLflow's `permissions/update`).
    Update,
    /// Either way.
    Upsert,
}

pub(crate) type Tx = sqlx::Transaction<'static, Any>;

fn user_not_found(username: &str) -> Error {
    Error::NotFound(format!("User with username={username} not found"))
}

pub(crate) fn group_not_found(name: &str) -> Error {
    Error::NotFound(format!("Group '{name}' not found"))
}

/// Usernames go into `user:password`, so they cannot hold a colon.
fn validate_username(username: &str) -> Result<()> {
    if username.is_empty() || username.chars().count() > 255 {
        return Err(Error::InvalidParameterValue("Username must be between 1 and 255 characters".to_owned()));
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(Error::InvalidParameterValue(format!(
            "Invalid username '{username}': it must not contain ':' or control characters"
        )));
    }
    Ok(())
}

pub(crate) fn validate_group_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Error::InvalidParameterValue(format!(
            "Invalid group name '{name}': it must be 1 to 255 characters, without control characters"
        )));
    }
    Ok(())
}

impl SqlStore {
    /// The counter every auth change bumps.
    ///
    /// # Errors
    /// `Database`.
    pub async fn auth_epoch(&self) -> Result<i64> {
        let row = self.sql("SELECT epoch FROM auth_state WHERE id = 1").query().fetch_one(&self.read).await?;
        Ok(row.try_get("epoch")?)
    }

    pub(crate) async fn bump_auth_epoch(&self, tx: &mut Tx) -> Result<()> {
        self.sql("UPDATE auth_state SET epoch = epoch + 1 WHERE id = 1").query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Number of users.
    ///
    /// # Errors
    /// `Database`.
    pub async fn count_users(&self) -> Result<i64> {
        let row = self.sql("SELECT COUNT(*) AS n FROM users").query().fetch_one(&self.read).await?;
        Ok(row.try_get("n")?)
    }

    /// Creates a user with an already hashed password.
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidParameterValue` for a bad username.
    pub async fn create_user(&self, username: &str, password_hash: &str, is_admin: bool) -> Result<User> {
        validate_username(username)?;
        if let Some(context) = RequestContext::current() {
            context.set_resource("user", username);
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut insert =
            self.sql("INSERT INTO users (username, password_hash, is_admin, created_ms, updated_ms) VALUES (");
        insert
            .arg(username)
            .push(", ")
            .arg(password_hash)
            .push(", ")
            .arg(i64::from(is_admin))
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(now)
            .push(")");
        let id = self
            .insert_returning_id(&mut tx, insert, || Error::AlreadyExists(format!("User '{username}' already exists")))
            .await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await?;
        Ok(User { id, username: username.to_owned(), is_admin })
    }

    /// Runs an INSERT and returns the new row's `id`; a unique violation becomes `duplicate()`.
    async fn insert_returning_id(
        &self,
        tx: &mut Tx,
        mut insert: crate::sql::Sql,
        duplicate: impl Fn() -> Error,
    ) -> Result<i64> {
        let duplicate = |err: sqlx::Error| if is_unique_violation(&err) { duplicate() } else { err.into() };
        if self.dialect == Dialect::MySql {
            let done = insert.query().execute(&mut **tx).await.map_err(duplicate)?;
            done.last_insert_id().ok_or(Error::Database(sqlx::Error::RowNotFound))
        } else {
            insert.push(" RETURNING id");
            Ok(insert.query().fetch_one(&mut **tx).await.map_err(duplicate)?.try_get("id")?)
        }
    }

    /// A user and the password hash, or `None`.
    ///
    /// # Errors
    /// `Database`.
    pub async fn user_credentials(&self, username: &str) -> Result<Option<UserCredentials>> {
        let mut sql = self.sql("SELECT id, username, password_hash, is_admin FROM users WHERE username = ");
        sql.arg(username);
        let rows: Vec<(i64, String, String, i64)> =
            self.fetch_rows(&self.read, "id, username, password_hash, is_admin", &sql).await?;
        Ok(rows.into_iter().next().map(|(id, username, password_hash, admin)| UserCredentials {
            user: User { id, username, is_admin: admin != 0 },
            password_hash,
        }))
    }

    /// A user.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get_user(&self, username: &str) -> Result<User> {
        Ok(self.user_credentials(username).await?.ok_or_else(|| user_not_found(username))?.user)
    }

    /// All users, by name.
    ///
    /// # Errors
    /// `Database`.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = self.sql("SELECT id, username, is_admin FROM users ORDER BY username");
        let rows: Vec<(i64, String, i64)> = self.fetch_rows(&self.read, "id, username, is_admin", &sql).await?;
        Ok(rows.into_iter().map(|(id, username, admin)| User { id, username, is_admin: admin != 0 }).collect())
    }

    /// Replaces a user's password hash.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn update_password(&self, username: &str, password_hash: &str) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("user", username);
        }
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("UPDATE users SET password_hash = ");
        sql.arg(password_hash).push(", updated_ms = ").arg(now_ms()).push(" WHERE username = ").arg(username);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(user_not_found(username));
        }
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// Makes a user an admin or not. The last admin cannot lose the role.
    ///
    /// # Errors
    /// `NotFound`, `InvalidState` for the last admin.
    pub async fn update_admin(&self, username: &str, is_admin: bool) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("user", username);
        }
        let mut tx = self.begin_write().await?;
        let user = self.locked_user(&mut tx, username).await?;
        if let Some(context) = RequestContext::current() {
            context.note_change("is_admin", Some(user.is_admin.into()), Some(is_admin.into()));
        }
        if user.is_admin && !is_admin {
            self.refuse_last_admin(&mut tx, "remove the admin role from").await?;
        }
        let mut sql = self.sql("UPDATE users SET is_admin = ");
        sql.arg(i64::from(is_admin)).push(", updated_ms = ").arg(now_ms()).push(" WHERE id = ").arg(user.id);
        sql.query().execute(&mut *tx).await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// Deletes a user, with the user's grants, memberships and tokens. The last admin cannot be
    /// deleted.
    ///
    /// # Errors
    /// `NotFound`, `InvalidState` for the last admin.
    pub async fn delete_user(&self, username: &str) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("user", username);
        }
        let mut tx = self.begin_write().await?;
        let user = self.locked_user(&mut tx, username).await?;
        if user.is_admin {
            self.refuse_last_admin(&mut tx, "delete").await?;
        }
        let mut grants = self.sql("DELETE FROM grants WHERE principal_kind = 'user' AND principal = ");
        grants.arg(user.id.to_string());
        grants.query().execute(&mut *tx).await?;
        for table in ["group_members", "api_tokens"] {
            let mut sql = self.sql(&format!("DELETE FROM {table} WHERE user_id = "));
            sql.arg(user.id);
            sql.query().execute(&mut *tx).await?;
        }
        let mut sql = self.sql("DELETE FROM users WHERE id = ");
        sql.arg(user.id);
        sql.query().execute(&mut *tx).await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// Reads a user inside `tx`, locking the row on the server engines.
    async fn locked_user(&self, tx: &mut Tx, username: &str) -> Result<User> {
        let lock = if self.dialect == Dialect::Sqlite { "" } else { " FOR UPDATE" };
        let mut sql = self.sql("SELECT id, is_admin FROM users WHERE username = ");
        sql.arg(username).push(lock);
        let row = sql.query().fetch_optional(&mut **tx).await?.ok_or_else(|| user_not_found(username))?;
        Ok(User {
            id: row.try_get("id")?,
            username: username.to_owned(),
            is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        })
    }

    /// Fails unless another admin remains. The admins' rows are locked, so two replicas cannot each
    /// demote one of the last two admins.
    async fn refuse_last_admin(&self, tx: &mut Tx, what: &str) -> Result<()> {
        let lock = if self.dialect == Dialect::Sqlite { "" } else { " FOR UPDATE" };
        let sql = self.sql(&format!("SELECT id FROM users WHERE is_admin = 1{lock}"));
        let admins = sql.query().fetch_all(&mut **tx).await?.len();
        if admins <= 1 {
            return Err(Error::InvalidState(format!(
                "Cannot {what} the last admin user: make another user an admin first"
            )));
        }
        Ok(())
    }

    /// Creates a group.
    ///
    /// # Errors
    /// `AlreadyExists`, `InvalidParameterValue`.
    pub async fn create_group(&self, name: &str, description: Option<&str>) -> Result<Group> {
        validate_group_name(name)?;
        if let Some(context) = RequestContext::current() {
            context.set_resource("group", name);
        }
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("INSERT INTO user_groups (name, description, created_ms) VALUES (");
        sql.arg(name).push(", ").arg(description.map(str::to_owned)).push(", ").arg(now_ms()).push(")");
        let id = self
            .insert_returning_id(&mut tx, sql, || Error::AlreadyExists(format!("Group '{name}' already exists")))
            .await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await?;
        Ok(Group { id, name: name.to_owned(), description: description.map(str::to_owned), members: Vec::new() })
    }

    /// Deletes a group and its grants.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("group", name);
        }
        let mut tx = self.begin_write().await?;
        let mut grants = self.sql("DELETE FROM grants WHERE principal_kind = 'group' AND principal = ");
        grants.arg(name);
        grants.query().execute(&mut *tx).await?;
        let mut members = self.sql("DELETE FROM group_members WHERE group_name = ");
        members.arg(name);
        members.query().execute(&mut *tx).await?;
        let mut sql = self.sql("DELETE FROM user_groups WHERE name = ");
        sql.arg(name);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(group_not_found(name));
        }
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// All groups with their members, by name.
    ///
    /// # Errors
    /// `Database`.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        self.groups_where(None).await
    }

    /// The groups (all, or the one numbered `id`) with their members, by name.
    pub(crate) async fn groups_where(&self, id: Option<i64>) -> Result<Vec<Group>> {
        let mut sql = self.sql("SELECT id, name, description FROM user_groups");
        let mut members =
            self.sql("SELECT m.group_name, u.username FROM group_members m JOIN users u ON u.id = m.user_id");
        if let Some(id) = id {
            sql.push(" WHERE id = ").arg(id);
            members.push(" WHERE m.group_name IN (SELECT name FROM user_groups WHERE id = ").arg(id).push(")");
        }
        sql.push(" ORDER BY name");
        members.push(" ORDER BY m.group_name, u.username");
        let groups: Vec<(i64, String, Option<String>)> =
            self.fetch_rows(&self.read, "id, name, description", &sql).await?;
        let members: Vec<(String, String)> = self.fetch_rows(&self.read, "group_name, username", &members).await?;
        Ok(groups
            .into_iter()
            .map(|(id, name, description)| {
                let members = members.iter().filter(|(g, _)| *g == name).map(|(_, u)| u.clone()).collect();
                Group { id, name, description, members }
            })
            .collect())
    }

    /// Names of the groups `user_id` belongs to.
    ///
    /// # Errors
    /// `Database`.
    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<String>> {
        let mut sql = self.sql("SELECT group_name FROM group_members WHERE user_id = ");
        sql.arg(user_id).push(" ORDER BY group_name");
        let rows: Vec<(String,)> = self.fetch_rows(&self.read, "group_name", &sql).await?;
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    /// Adds a user to a group, or (`add` false) removes them.
    ///
    /// # Errors
    /// `NotFound` for an unknown user, group or (removing) membership; `AlreadyExists` for adding a
    /// member.
    pub async fn set_group_member(&self, group: &str, username: &str, add: bool) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("group", group);
            context.note(if add { "added" } else { "removed" }, username);
        }
        let mut tx = self.begin_write().await?;
        let user = self.locked_user(&mut tx, username).await?;
        self.require_group(&mut tx, group).await?;
        if add {
            let mut sql = self.sql("INSERT INTO group_members (group_name, user_id) VALUES (");
            sql.arg(group).push(", ").arg(user.id).push(")");
            sql.query().execute(&mut *tx).await.map_err(|err| {
                if is_unique_violation(&err) {
                    Error::AlreadyExists(format!("User '{username}' is already a member of group '{group}'"))
                } else {
                    err.into()
                }
            })?;
        } else {
            let mut sql = self.sql("DELETE FROM group_members WHERE group_name = ");
            sql.arg(group).push(" AND user_id = ").arg(user.id);
            if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(Error::NotFound(format!("User '{username}' is not a member of group '{group}'")));
            }
        }
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    async fn require_group(&self, tx: &mut Tx, name: &str) -> Result<()> {
        let mut sql = self.sql("SELECT name FROM user_groups WHERE name = ");
        sql.arg(name);
        sql.query().fetch_optional(&mut **tx).await?.ok_or_else(|| group_not_found(name))?;
        Ok(())
    }

    /// The database's value of `principal` (a user's id, a group's name), checking it exists.
    async fn principal_key(&self, tx: &mut Tx, kind: PrincipalKind, principal: &str) -> Result<String> {
        match kind {
            PrincipalKind::User => Ok(self.locked_user(tx, principal).await?.id.to_string()),
            PrincipalKind::Group => {
                self.require_group(tx, principal).await?;
                Ok(principal.to_owned())
            }
        }
    }

    async fn require_resource(&self, tx: &mut Tx, resource_type: ResourceType, resource_id: &str) -> Result<()> {
        if resource_id == ferroflow_auth::WILDCARD {
            return Ok(());
        }
        let found = match resource_type {
            ResourceType::Experiment => match resource_id.parse::<i64>() {
                Ok(id) => {
                    let mut sql = self.sql("SELECT experiment_id FROM experiments WHERE experiment_id = ");
                    sql.arg(id);
                    sql.query().fetch_optional(&mut **tx).await?.is_some()
                }
                Err(_) => false,
            },
            ResourceType::RegisteredModel => {
                let mut sql = self.sql("SELECT name FROM registered_models WHERE name = ");
                sql.arg(resource_id);
                sql.query().fetch_optional(&mut **tx).await?.is_some()
            }
        };
        if found {
            Ok(())
        } else {
            Err(Error::NotFound(match resource_type {
                ResourceType::Experiment => format!("No Experiment with id={resource_id} exists"),
                ResourceType::RegisteredModel => format!("Registered Model with name={resource_id} not found"),
            }))
        }
    }

    /// Grants `permission` on a resource to a user or group. Returns the permission it replaced.
    ///
    /// # Errors
    /// `NotFound` for an unknown resource, user or group (or, with [`GrantMode::Update`], grant);
    /// `AlreadyExists` with [`GrantMode::Create`] when there is one.
    pub async fn put_grant(
        &self,
        resource_type: ResourceType,
        resource_id: &str,
        kind: PrincipalKind,
        principal: &str,
        permission: Permission,
        mode: GrantMode,
    ) -> Result<Option<Permission>> {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.set_resource(resource_type.as_str(), resource_id);
            context.note("principal", format!("{}:{principal}", kind.as_str()));
        }
        let mut tx = self.begin_write().await?;
        self.require_resource(&mut tx, resource_type, resource_id).await?;
        let key = self.principal_key(&mut tx, kind, principal).await?;
        let before = self.grant_in(&mut tx, resource_type, resource_id, kind, &key).await?;
        match (mode, before) {
            (GrantMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists(format!(
                    "A permission for {} '{principal}' on {} '{resource_id}' already exists",
                    kind.as_str(),
                    resource_type.as_str()
                )))
            }
            (GrantMode::Update, None) => return Err(self.no_grant(resource_type, resource_id, kind, principal)),
            _ => {}
        }
        if let Some(context) = &context {
            context.note_change("permission", before.map(|p| p.name().into()), Some(permission.name().into()));
        }
        self.write_grant(&mut tx, resource_type, resource_id, kind, &key, permission).await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await?;
        Ok(before)
    }

    pub(crate) async fn write_grant(
        &self,
        tx: &mut Tx,
        resource_type: ResourceType,
        resource_id: &str,
        kind: PrincipalKind,
        key: &str,
        permission: Permission,
    ) -> Result<()> {
        let mut sql =
            self.sql("INSERT INTO grants (resource_type, resource_id, principal_kind, principal, permission) VALUES (");
        sql.arg(resource_type.as_str())
            .push(", ")
            .arg(resource_id)
            .push(", ")
            .arg(kind.as_str())
            .push(", ")
            .arg(key)
            .push(", ")
            .arg(permission.name())
            .push(")")
            .on_conflict_update("(resource_type, resource_id, principal_kind, principal)", &["permission"]);
        sql.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Gives the current request's user MANAGE on a resource it just created, inside the creating
    /// transaction (MLflow does the same after the request).
    pub(crate) async fn grant_creator(
        &self,
        tx: &mut Tx,
        resource_type: ResourceType,
        resource_id: &str,
    ) -> Result<()> {
        let Some(user_id) = RequestContext::current().and_then(|c| c.user_id) else { return Ok(()) };
        self.write_grant(tx, resource_type, resource_id, PrincipalKind::User, &user_id.to_string(), Permission::Manage)
            .await?;
        self.bump_auth_epoch(tx).await
    }

    async fn grant_in(
        &self,
        tx: &mut Tx,
        resource_type: ResourceType,
        resource_id: &str,
        kind: PrincipalKind,
        key: &str,
    ) -> Result<Option<Permission>> {
        let mut sql = self.sql("SELECT permission FROM grants WHERE resource_type = ");
        sql.arg(resource_type.as_str())
            .push(" AND resource_id = ")
            .arg(resource_id)
            .push(" AND principal_kind = ")
            .arg(kind.as_str())
            .push(" AND principal = ")
            .arg(key);
        let rows: Vec<(String,)> = self.fetch_rows(&mut **tx, "permission", &sql).await?;
        Ok(rows.into_iter().next().and_then(|(name,)| Permission::parse(&name).ok()))
    }

    fn no_grant(&self, resource_type: ResourceType, resource_id: &str, kind: PrincipalKind, principal: &str) -> Error {
        Error::NotFound(format!(
            "No permission for {} '{principal}' on {} '{resource_id}'",
            kind.as_str(),
            resource_type.as_str()
        ))
    }

    /// The grant of one principal on one resource.
    ///
    /// # Errors
    /// `NotFound` for an unknown principal or when there is no such grant.
    pub async fn get_grant(
        &self,
        resource_type: ResourceType,
        resource_id: &str,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<Permission> {
        let mut tx = self.begin_write().await?;
        let key = self.principal_key(&mut tx, kind, principal).await?;
        let found = self.grant_in(&mut tx, resource_type, resource_id, kind, &key).await?;
        tx.rollback().await?;
        found.ok_or_else(|| self.no_grant(resource_type, resource_id, kind, principal))
    }

    /// Removes a grant.
    ///
    /// # Errors
    /// `NotFound` for an unknown principal or when there is no such grant.
    pub async fn delete_grant(
        &self,
        resource_type: ResourceType,
        resource_id: &str,
        kind: PrincipalKind,
        principal: &str,
    ) -> Result<()> {
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.set_resource(resource_type.as_str(), resource_id);
            context.note("principal", format!("{}:{principal}", kind.as_str()));
        }
        let mut tx = self.begin_write().await?;
        let key = self.principal_key(&mut tx, kind, principal).await?;
        let before = self
            .grant_in(&mut tx, resource_type, resource_id, kind, &key)
            .await?
            .ok_or_else(|| self.no_grant(resource_type, resource_id, kind, principal))?;
        if let Some(context) = &context {
            context.note_change("permission", Some(before.name().into()), None);
        }
        let mut sql = self.sql("DELETE FROM grants WHERE resource_type = ");
        sql.arg(resource_type.as_str())
            .push(" AND resource_id = ")
            .arg(resource_id)
            .push(" AND principal_kind = ")
            .arg(kind.as_str())
            .push(" AND principal = ")
            .arg(key.as_str());
        sql.query().execute(&mut *tx).await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// Every grant on a resource (and, when `resource_id` is not `*`, the wildcard grants of its
    /// type, which apply to it too): who holds what.
    ///
    /// # Errors
    /// `Database`.
    pub async fn resource_grants(&self, resource_type: ResourceType, resource_id: &str) -> Result<Vec<Grant>> {
        let mut sql = self.sql(
            "SELECT g.id, g.resource_id, g.principal_kind, COALESCE(u.username, g.principal) AS principal, g.permission \
             FROM grants g LEFT JOIN users u ON g.principal_kind = 'user' AND g.principal = ",
        );
        sql.push(match self.dialect {
            Dialect::Postgres => "CAST(u.id AS TEXT)",
            Dialect::MySql => "CAST(u.id AS CHAR)",
            Dialect::Sqlite => "CAST(u.id AS TEXT)",
        });
        sql.push(" WHERE g.resource_type = ")
            .arg(resource_type.as_str())
            .push(" AND g.resource_id IN (")
            .arg(resource_id)
            .push(", '*') ORDER BY g.resource_id, g.principal_kind, principal");
        self.grants_from(resource_type, &sql).await
    }

    /// Every grant held by a user directly or through a group, or (for a group) by the group.
    ///
    /// # Errors
    /// `Database`.
    pub async fn principal_grants(
        &self,
        kind: PrincipalKind,
        principal: &str,
        user_id: Option<i64>,
    ) -> Result<Vec<Grant>> {
        let mut sql = self.sql(
            "SELECT g.id, g.resource_type, g.resource_id, g.principal_kind, g.principal, g.permission FROM grants g WHERE ",
        );
        match (kind, user_id) {
            (PrincipalKind::User, Some(id)) => {
                sql.push("(g.principal_kind = 'user' AND g.principal = ")
                    .arg(id.to_string())
                    .push(") OR (g.principal_kind = 'group' AND g.principal IN (SELECT group_name FROM group_members WHERE user_id = ")
                    .arg(id)
                    .push("))");
            }
            _ => {
                sql.push("g.principal_kind = 'group' AND g.principal = ").arg(principal);
            }
        }
        sql.push(" ORDER BY g.resource_type, g.resource_id");
        let rows: Vec<(i64, String, String, String, String, String)> = self
            .fetch_rows(&self.read, "id, resource_type, resource_id, principal_kind, principal, permission", &sql)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, rtype, resource_id, pkind, p, perm)| {
                let principal_kind = if pkind == "group" { PrincipalKind::Group } else { PrincipalKind::User };
                Some(Grant {
                    id,
                    resource_type: ResourceType::parse(&rtype).ok()?,
                    resource_id,
                    principal_kind,
                    principal: if principal_kind == PrincipalKind::User { principal.to_owned() } else { p },
                    permission: Permission::parse(&perm).ok()?,
                })
            })
            .collect())
    }

    async fn grants_from(&self, resource_type: ResourceType, sql: &crate::sql::Sql) -> Result<Vec<Grant>> {
        let rows: Vec<(i64, String, String, String, String)> =
            self.fetch_rows(&self.read, "id, resource_id, principal_kind, principal, permission", sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, resource_id, kind, principal, permission)| {
                Some(Grant {
                    id,
                    resource_type,
                    resource_id,
                    principal_kind: if kind == "group" { PrincipalKind::Group } else { PrincipalKind::User },
                    principal,
                    permission: Permission::parse(&permission).ok()?,
                })
            })
            .collect())
    }

    /// Stores a new API token (its digest) for a user.
    ///
    /// # Errors
    /// `Database`.
    pub async fn create_token(
        &self,
        user: &User,
        name: &str,
        token: &ferroflow_auth::token::NewToken,
        expires_ms: Option<i64>,
    ) -> Result<TokenRecord> {
        if name.is_empty() || name.chars().count() > 255 {
            return Err(Error::InvalidParameterValue("Token name must be between 1 and 255 characters".to_owned()));
        }
        if let Some(context) = RequestContext::current() {
            context.set_resource("token", token.id.as_str());
            context.note("owner", user.username.as_str());
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("INSERT INTO api_tokens (id, user_id, name, digest, created_ms, expires_ms) VALUES (");
        sql.arg(token.id.as_str())
            .push(", ")
            .arg(user.id)
            .push(", ")
            .arg(name)
            .push(", ")
            .arg(token.digest.as_str())
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(expires_ms)
            .push(")");
        sql.query().execute(&mut *tx).await?;
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await?;
        Ok(TokenRecord {
            id: token.id.clone(),
            user: user.clone(),
            name: name.to_owned(),
            digest: token.digest.clone(),
            created_ms: now,
            expires_ms,
            revoked_ms: None,
        })
    }

    const TOKEN_SELECT: &'static str = "SELECT t.id, t.name, t.digest, t.created_ms, t.expires_ms, t.revoked_ms, \
                                        u.id AS user_id, u.username, u.is_admin FROM api_tokens t JOIN users u ON u.id = t.user_id";

    /// A token's record, or `None`.
    ///
    /// # Errors
    /// `Database`.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let mut sql = self.sql(Self::TOKEN_SELECT);
        sql.push(" WHERE t.id = ").arg(id);
        Ok(self.tokens_from(&sql).await?.into_iter().next())
    }

    /// The tokens of one user, or all.
    ///
    /// # Errors
    /// `Database`.
    pub async fn list_tokens(&self, user_id: Option<i64>) -> Result<Vec<TokenRecord>> {
        let mut sql = self.sql(Self::TOKEN_SELECT);
        if let Some(id) = user_id {
            sql.push(" WHERE t.user_id = ").arg(id);
        }
        sql.push(" ORDER BY t.created_ms, t.id");
        self.tokens_from(&sql).await
    }

    async fn tokens_from(&self, sql: &crate::sql::Sql) -> Result<Vec<TokenRecord>> {
        type Row = (String, String, String, i64, Option<i64>, Option<i64>, i64, String, i64);
        let rows: Vec<Row> = self
            .fetch_rows(
                &self.read,
                "id, name, digest, created_ms, expires_ms, revoked_ms, user_id, username, is_admin",
                sql,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, digest, created_ms, expires_ms, revoked_ms, user_id, username, admin)| TokenRecord {
                id,
                user: User { id: user_id, username, is_admin: admin != 0 },
                name,
                digest,
                created_ms,
                expires_ms,
                revoked_ms,
            })
            .collect())
    }

    /// Revokes a token; it stops working at once on every replica.
    ///
    /// # Errors
    /// `NotFound` for an unknown or already revoked token.
    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        if let Some(context) = RequestContext::current() {
            context.set_resource("token", id);
        }
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("UPDATE api_tokens SET revoked_ms = ");
        sql.arg(now_ms()).push(" WHERE id = ").arg(id).push(" AND revoked_ms IS NULL");
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(Error::NotFound(format!("No active token with id '{id}'")));
        }
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await
    }

    /// Experiment of a run, for permission checks.
    ///
    /// # Errors
    /// `Database`.
    pub async fn experiment_of_run(&self, run_id: &str) -> Result<Option<i64>> {
        let mut sql = self.sql("SELECT experiment_id FROM runs WHERE run_id = ");
        sql.arg(run_id);
        Ok(sql.query().fetch_optional(&self.read).await?.map(|row| row.try_get("experiment_id")).transpose()?)
    }

    /// Experiment of a logged model, for permission checks.
    ///
    /// # Errors
    /// `Database`.
    pub async fn experiment_of_logged_model(&self, model_id: &str) -> Result<Option<i64>> {
        let mut sql = self.sql("SELECT experiment_id FROM logged_models WHERE model_id = ");
        sql.arg(model_id);
        Ok(sql.query().fetch_optional(&self.read).await?.map(|row| row.try_get("experiment_id")).transpose()?)
    }

    /// Id of an experiment by name, for permission checks.
    ///
    /// # Errors
    /// `Database`.
    pub async fn experiment_id_by_name(&self, name: &str) -> Result<Option<i64>> {
        let mut sql = self.sql("SELECT experiment_id FROM experiments WHERE name = ");
        sql.arg(name);
        Ok(sql.query().fetch_optional(&self.read).await?.map(|row| row.try_get("experiment_id")).transpose()?)
    }
}
