//! MLflow 3.17's role API (`roles/*` under API 3.0), served by groups: a role is a group, a role
//! permission one of the group's grants, an assignment a membership. So a role made here is a group
//! in `ferroflow groups`, and the reverse. ferroflow has one workspace, `default`.

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::requests::RequestMessage;
use ferroflow_store::{Grant, GrantMode, Group, Membership, PrincipalKind, ResourceType, SqlStore};
use serde::Deserialize;
use serde_json::{json, Value};

use super::users::{caller, id_text, permission, required, self_or_admin};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// The one workspace, as MLflow names its default.
const WORKSPACE: &str = "default";

messages! {
    RoleSpec { role_id: Option<Value>, name: Option<String>, workspace: Option<String>, description: Option<String> }
    RolePermissionSpec {
        role_id: Option<Value>,
        role_permission_id: Option<Value>,
        resource_type: Option<String>,
        resource_pattern: Option<Value>,
        permission: Option<String>,
    }
    RoleAssignment { role_id: Option<Value>, username: Option<String> }
}

/// An id parameter: a JSON number, or digits (a query string carries only text).
fn number(value: Option<Value>, field: &str) -> ApiResult<i64> {
    let parsed = match &value {
        None | Some(Value::Null) => return Err(ApiError::missing(field)),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    parsed.ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid value {} for parameter '{field}': it must be an integer",
            value.unwrap_or_default()
        ))
    })
}

fn role_name(value: Option<String>) -> ApiResult<String> {
    value.filter(|name| !name.trim().is_empty()).ok_or_else(|| ApiError::invalid("Role name cannot be empty."))
}

fn permission_json(grant: &Grant, role_id: i64) -> Value {
    json!({
        "id": grant.id,
        "role_id": role_id,
        "resource_type": grant.resource_type.as_str(),
        "resource_pattern": grant.resource_id,
        "permission": grant.permission.name(),
    })
}

async fn role_json(store: &SqlStore, group: &Group) -> ApiResult<Value> {
    let grants = store.principal_grants(PrincipalKind::Group, &group.name, None).await?;
    Ok(json!({
        "id": group.id,
        "name": group.name,
        "workspace": WORKSPACE,
        "description": group.description,
        "permissions": grants.iter().map(|g| permission_json(g, group.id)).collect::<Vec<_>>(),
    }))
}

async fn roles_json(store: &SqlStore, groups: &[Group]) -> ApiResult<Json<Value>> {
    let mut roles = Vec::with_capacity(groups.len());
    for group in groups {
        roles.push(role_json(store, group).await?);
    }
    Ok(Json(json!({ "roles": roles })))
}

fn assignment_json(membership: &Membership) -> Value {
    json!({"id": membership.id, "user_id": membership.user_id, "role_id": membership.group_id})
}

/// POST roles/create
pub async fn create_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleSpec>,
) -> ApiResult<Json<Value>> {
    let name = role_name(request.name)?;
    let workspace = request
        .workspace
        .filter(|w| !w.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("Workspace cannot be empty."))?;
    if workspace != WORKSPACE {
        return Err(ApiError::invalid(format!(
            "Workspace '{workspace}' does not exist: this server has one workspace, '{WORKSPACE}'"
        )));
    }
    let group = state.store.create_group(&name, request.description.as_deref()).await?;
    Ok(Json(json!({ "role": role_json(&state.store, &group).await? })))
}

/// GET roles/get
pub async fn get_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleSpec>,
) -> ApiResult<Json<Value>> {
    let group = state.store.group_by_id(number(request.role_id, "role_id")?).await?;
    Ok(Json(json!({ "role": role_json(&state.store, &group).await? })))
}

/// GET roles/list: the roles of a workspace (all of them without one).
pub async fn list_roles(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleSpec>,
) -> ApiResult<Json<Value>> {
    if let Some(workspace) = request.workspace {
        if workspace.trim().is_empty() {
            return Err(ApiError::invalid("Parameter 'workspace' must be a non-empty string when provided."));
        }
        if workspace != WORKSPACE {
            return Ok(Json(json!({ "roles": [] })));
        }
    }
    roles_json(&state.store, &state.store.list_groups().await?).await
}

/// PATCH roles/update: a new name and/or description.
pub async fn update_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleSpec>,
) -> ApiResult<Json<Value>> {
    let id = number(request.role_id, "role_id")?;
    if request.name.is_none() && request.description.is_none() {
        return Err(ApiError::invalid("At least one of 'name' or 'description' must be provided to update a role."));
    }
    let name = request.name.map(|name| role_name(Some(name))).transpose()?;
    let group = state.store.update_group(id, name.as_deref(), request.description.as_deref()).await?;
    Ok(Json(json!({ "role": role_json(&state.store, &group).await? })))
}

/// DELETE roles/delete: the group, its grants and its memberships.
pub async fn delete_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleSpec>,
) -> ApiResult<Json<Value>> {
    let name = state.store.group_name(number(request.role_id, "role_id")?).await?;
    state.store.delete_group(&name).await?;
    Ok(Json(json!({})))
}

/// POST roles/permissions/add: a grant to the role's group on one experiment or registered model, or
/// (pattern `*`) on all of them.
pub async fn add_role_permission(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RolePermissionSpec>,
) -> ApiResult<Json<Value>> {
    let role_id = number(request.role_id, "role_id")?;
    let group = state.store.group_name(role_id).await?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let pattern = id_text(request.resource_pattern, "resource_pattern")?;
    let level = permission(request.permission)?;
    state.store.put_grant(resource_type, &pattern, PrincipalKind::Group, &group, level, GrantMode::Create).await?;
    let grant = state.store.group_grant_on(&group, resource_type, &pattern).await?;
    Ok(Json(json!({ "role_permission": permission_json(&grant, role_id) })))
}

/// DELETE roles/permissions/remove
pub async fn remove_role_permission(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RolePermissionSpec>,
) -> ApiResult<Json<Value>> {
    let grant = state.store.group_grant(number(request.role_permission_id, "role_permission_id")?).await?;
    state.store.delete_grant(grant.resource_type, &grant.resource_id, PrincipalKind::Group, &grant.principal).await?;
    Ok(Json(json!({})))
}

/// GET roles/permissions/list
pub async fn list_role_permissions(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RolePermissionSpec>,
) -> ApiResult<Json<Value>> {
    let role_id = number(request.role_id, "role_id")?;
    let group = state.store.group_name(role_id).await?;
    let grants = state.store.principal_grants(PrincipalKind::Group, &group, None).await?;
    Ok(Json(json!({ "role_permissions": grants.iter().map(|g| permission_json(g, role_id)).collect::<Vec<_>>() })))
}

/// PATCH roles/permissions/update: a new level for one of a role's grants.
pub async fn update_role_permission(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RolePermissionSpec>,
) -> ApiResult<Json<Value>> {
    let id = number(request.role_permission_id, "role_permission_id")?;
    let level = permission(request.permission)?;
    let grant = state.store.group_grant(id).await?;
    state
        .store
        .put_grant(
            grant.resource_type,
            &grant.resource_id,
            PrincipalKind::Group,
            &grant.principal,
            level,
            GrantMode::Update,
        )
        .await?;
    let role_id = state.store.group_id(&grant.principal).await?;
    Ok(Json(json!({ "role_permission": permission_json(&state.store.group_grant(id).await?, role_id) })))
}

/// POST roles/assign: makes the user a member of the role's group.
pub async fn assign_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleAssignment>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let role_id = number(request.role_id, "role_id")?;
    let group = state.store.group_name(role_id).await?;
    state.store.set_group_member(&group, &username, true).await?;
    let user = state.store.get_user(&username).await?;
    let membership =
        state.store.memberships(Some(role_id), Some(user.id)).await?.into_iter().next().ok_or_else(|| {
            ApiError::from(ferroflow_store::Error::NotFound(format!(
                "User '{username}' is not a member of role {role_id}"
            )))
        })?;
    Ok(Json(json!({ "assignment": assignment_json(&membership) })))
}

/// DELETE roles/unassign
pub async fn unassign_role(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleAssignment>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let group = state.store.group_name(number(request.role_id, "role_id")?).await?;
    state.store.set_group_member(&group, &username, false).await?;
    Ok(Json(json!({})))
}

/// GET users/roles/list: a user's roles (the user's own, or any user's for an admin).
pub async fn list_user_roles(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<RoleAssignment>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    self_or_admin(&caller, &username)?;
    let user = state.store.get_user(&username).await?;
    let mut groups = Vec::new();
    for membership in state.store.memberships(None, Some(user.id)).await? {
        groups.push(state.store.group_by_id(membership.group_id).await?);
    }
    roles_json(&state.store, &groups).await
}

/// GET roles/users/list: the role's assignments.
pub async fn list_role_users(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<RoleAssignment>,
) -> ApiResult<Json<Value>> {
    let memberships = state.store.memberships(Some(number(request.role_id, "role_id")?), None).await?;
    Ok(Json(json!({ "assignments": memberships.iter().map(assignment_json).collect::<Vec<_>>() })))
}
