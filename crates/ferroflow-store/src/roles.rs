//! Groups, their grants and their memberships addressed by number, as MLflow 3.17's role API names
//! them: a role is a group, a role permission one of the group's grants, a role assignment a
//! membership. Everything else about groups is in [`crate::auth`].

use serde::Serialize;

use crate::auth::{group_not_found, validate_group_name, Tx};
use crate::context::RequestContext;
use crate::error::is_unique_violation;
use crate::sql::Dialect;
use crate::{Error, Grant, Group, PrincipalKind, ResourceType, Result, SqlStore};

/// One user's membership of one group (MLflow's role assignment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// Number.
    pub id: i64,
    /// The member.
    pub user_id: i64,
    /// The group.
    pub group_id: i64,
}

fn no_group_numbered(id: i64) -> Error {
    Error::NotFound(format!("Role with id={id} not found"))
}

fn no_grant_numbered(id: i64) -> Error {
    Error::NotFound(format!("Role permission with id={id} not found"))
}

impl SqlStore {
    /// The group numbered `id`, with its members.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn group_by_id(&self, id: i64) -> Result<Group> {
        self.groups_where(Some(id)).await?.into_iter().next().ok_or_else(|| no_group_numbered(id))
    }

    /// Renames a group (its grants and memberships follow) and/or replaces its description.
    ///
    /// # Errors
    /// `NotFound`, `AlreadyExists` for a name another group has, `InvalidParameterValue`.
    pub async fn update_group(&self, id: i64, name: Option<&str>, description: Option<&str>) -> Result<Group> {
        if let Some(name) = name {
            validate_group_name(name)?;
        }
        let mut tx = self.begin_write().await?;
        let old = self.locked_group_name(&mut tx, id).await?;
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.set_resource("group", old.as_str());
        }
        if let Some(name) = name.filter(|name| *name != old) {
            if let Some(context) = &context {
                context.note_change("name", Some(old.as_str().into()), Some(name.into()));
            }
            // Memberships follow by ON UPDATE CASCADE; grants name their group in a text column.
            let mut rename = self.sql("UPDATE user_groups SET name = ");
            rename.arg(name).push(" WHERE id = ").arg(id);
            rename.query().execute(&mut *tx).await.map_err(|err| {
                if is_unique_violation(&err) {
                    Error::AlreadyExists(format!("Group '{name}' already exists"))
                } else {
                    err.into()
                }
            })?;
            let mut grants = self.sql("UPDATE grants SET principal = ");
            grants.arg(name).push(" WHERE principal_kind = 'group' AND principal = ").arg(old.as_str());
            grants.query().execute(&mut *tx).await?;
        }
        if let Some(description) = description {
            if let Some(context) = &context {
                context.note("description", description);
            }
            let mut sql = self.sql("UPDATE user_groups SET description = ");
            sql.arg(description).push(" WHERE id = ").arg(id);
            sql.query().execute(&mut *tx).await?;
        }
        self.bump_auth_epoch(&mut tx).await?;
        self.commit(tx).await?;
        self.group_by_id(id).await
    }

    /// The name of the group numbered `id`, its row locked on the server engines.
    async fn locked_group_name(&self, tx: &mut Tx, id: i64) -> Result<String> {
        let lock = if self.dialect == Dialect::Sqlite { "" } else { " FOR UPDATE" };
        let mut sql = self.sql("SELECT name FROM user_groups WHERE id = ");
        sql.arg(id).push(lock);
        let rows: Vec<(String,)> = self.fetch_rows(&mut **tx, "name", &sql).await?;
        rows.into_iter().next().map(|(name,)| name).ok_or_else(|| no_group_numbered(id))
    }

    /// The group grant numbered `id`.
    ///
    /// # Errors
    /// `NotFound` when there is none (or it is a user's).
    pub async fn group_grant(&self, id: i64) -> Result<Grant> {
        let mut sql = self.sql(
            "SELECT resource_type, resource_id, principal, permission FROM grants \
             WHERE principal_kind = 'group' AND id = ",
        );
        sql.arg(id);
        let rows: Vec<(String, String, String, String)> =
            self.fetch_rows(&self.read, "resource_type, resource_id, principal, permission", &sql).await?;
        let (resource_type, resource_id, principal, permission) =
            rows.into_iter().next().ok_or_else(|| no_grant_numbered(id))?;
        Ok(Grant {
            id,
            resource_type: ResourceType::parse(&resource_type)?,
            resource_id,
            principal_kind: PrincipalKind::Group,
            principal,
            permission: ferroflow_auth::Permission::parse(&permission)
                .map_err(|e| Error::InvalidState(format!("Stored permission of grant {id}: {e}")))?,
        })
    }

    /// A group's grant on one resource, with its number.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn group_grant_on(&self, group: &str, resource_type: ResourceType, resource_id: &str) -> Result<Grant> {
        let mut sql = self.sql("SELECT id FROM grants WHERE principal_kind = 'group' AND principal = ");
        sql.arg(group)
            .push(" AND resource_type = ")
            .arg(resource_type.as_str())
            .push(" AND resource_id = ")
            .arg(resource_id);
        let rows: Vec<(i64,)> = self.fetch_rows(&self.read, "id", &sql).await?;
        let (id,) = rows.into_iter().next().ok_or_else(|| {
            Error::NotFound(format!("No permission for group '{group}' on {} '{resource_id}'", resource_type.as_str()))
        })?;
        self.group_grant(id).await
    }

    /// Memberships of one group (`group_id`) or of one user (`user_id`), by id.
    ///
    /// # Errors
    /// `NotFound` for an unknown group.
    pub async fn memberships(&self, group_id: Option<i64>, user_id: Option<i64>) -> Result<Vec<Membership>> {
        if let Some(id) = group_id {
            self.group_by_id(id).await?;
        }
        let mut sql = self.sql(
            "SELECT m.id, m.user_id, g.id AS group_id FROM group_members m JOIN user_groups g ON g.name = m.group_name",
        );
        let mut joiner = " WHERE ";
        if let Some(id) = group_id {
            sql.push(joiner).push("g.id = ").arg(id);
            joiner = " AND ";
        }
        if let Some(id) = user_id {
            sql.push(joiner).push("m.user_id = ").arg(id);
        }
        sql.push(" ORDER BY m.id");
        let rows: Vec<(i64, i64, i64)> = self.fetch_rows(&self.read, "id, user_id, group_id", &sql).await?;
        Ok(rows.into_iter().map(|(id, user_id, group_id)| Membership { id, user_id, group_id }).collect())
    }

    /// The name of the group numbered `id`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn group_name(&self, id: i64) -> Result<String> {
        let mut sql = self.sql("SELECT name FROM user_groups WHERE id = ");
        sql.arg(id);
        let rows: Vec<(String,)> = self.fetch_rows(&self.read, "name", &sql).await?;
        rows.into_iter().next().map(|(name,)| name).ok_or_else(|| no_group_numbered(id))
    }

    /// The number of the group named `name`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn group_id(&self, name: &str) -> Result<i64> {
        let mut sql = self.sql("SELECT id FROM user_groups WHERE name = ");
        sql.arg(name);
        let rows: Vec<(i64,)> = self.fetch_rows(&self.read, "id", &sql).await?;
        rows.into_iter().next().map(|(id,)| id).ok_or_else(|| group_not_found(name))
    }
}
