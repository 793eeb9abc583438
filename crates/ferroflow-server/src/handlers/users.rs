//! Users, groups, tokens and grants: MLflow's basic-auth endpoints (2.x and 3.17) and ferroflow's own.
//! The route table decides who may call each; the handlers add the rules that depend on the caller
//! (a user's own account).

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::requests::RequestMessage;
use ferroflow_auth::{password, token, Permission};
use ferroflow_store::{Grant, GrantMode, PrincipalKind, ResourceType, SqlStore, TokenRecord, User};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{AuthMethod, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::MlflowRequest;
use crate::AppState;

/// The caller, or the answer for a server running without `--auth`.
pub(super) fn caller(extension: Option<Extension<Caller>>) -> ApiResult<Caller> {
    extension.map(|Extension(c)| c).ok_or_else(|| {
        ApiError::new(
            ErrorCode::EndpointNotFound,
            "Access control is off on this server: start it with --auth to manage users and permissions",
        )
    })
}

pub(super) fn required(value: Option<String>, field: &str) -> ApiResult<String> {
    super::required(value, field)
}

pub(super) fn permission(value: Option<String>) -> ApiResult<Permission> {
    let name = required(value, "permission")?;
    Permission::parse(&name).map_err(|e| ApiError::invalid(e.to_string()))
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::PermissionDenied, message)
}

/// Refuses unless the caller is `username` or an admin.
pub(super) fn self_or_admin(caller: &Caller, username: &str) -> ApiResult<()> {
    if caller.user.is_admin || caller.user.username == username {
        Ok(())
    } else {
        Err(forbidden(format!("Permission denied: only '{username}' or an admin may do this")))
    }
}

/// Hashes a new password after checking it against the rules (Argon2id takes tens of milliseconds,
/// so off the async threads).
async fn hash_new_password(password: String) -> ApiResult<String> {
    password::check_policy(&password).map_err(|e| ApiError::invalid(e.0))?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "Password hashing failed"))
}

/// MLflow's `User` JSON, with the lists of the user's own grants that 2.x clients read.
pub(super) async fn user_json(store: &SqlStore, user: &User) -> ApiResult<Value> {
    let grants = store.principal_grants(PrincipalKind::User, &user.username, Some(user.id)).await?;
    let own = grants.iter().filter(|g| g.principal_kind == PrincipalKind::User);
    let experiments: Vec<Value> = own
        .clone()
        .filter(|g| g.resource_type == ResourceType::Experiment)
        .map(|g| json!({"experiment_id": g.resource_id, "user_id": user.id, "permission": g.permission.name()}))
        .collect();
    let models: Vec<Value> = own
        .filter(|g| g.resource_type == ResourceType::RegisteredModel)
        .map(|g| json!({"name": g.resource_id, "user_id": user.id, "permission": g.permission.name()}))
        .collect();
    Ok(json!({
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": experiments,
        "registered_model_permissions": models,
    }))
}

messages! {
    UserPassword { username: Option<String>, password: Option<String>, current_password: Option<String> }
    Username { username: Option<String> }
    UserAdmin { username: Option<String>, is_admin: Option<Value> }
    ExperimentPermission { experiment_id: Option<Value>, username: Option<String>, permission: Option<String> }
    ModelPermission { name: Option<String>, username: Option<String>, permission: Option<String> }
    UserGrant { username: Option<String>, resource_type: Option<String>, resource_id: Option<Value>, permission: Option<String> }
    GroupSpec { name: Option<String>, description: Option<String> }
    Membership { group: Option<String>, username: Option<String> }
    TokenSpec { name: Option<String>, username: Option<String>, expires_in_days: Option<Value> }
    TokenId { id: Option<String> }
    GrantSpec {
        resource_type: Option<String>,
        resource_id: Option<Value>,
        principal_kind: Option<String>,
        principal: Option<String>,
        permission: Option<String>,
    }
}

/// Experiment ids and resource ids arrive as strings or numbers.
pub(super) fn id_text(value: Option<Value>, field: &str) -> ApiResult<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ApiError::missing(field)),
    }
}

/// POST users/create
pub async fn create_user(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<UserPassword>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let hash = hash_new_password(required(request.password, "password")?).await?;
    let user = state.store.create_user(&username, &hash, false).await?;
    Ok(Json(json!({ "user": user_json(&state.store, &user).await? })))
}

/// GET users/get
pub async fn get_user(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<Username>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    self_or_admin(&caller, &username)?;
    let user = state.store.get_user(&username).await?;
    Ok(Json(json!({ "user": user_json(&state.store, &user).await? })))
}

/// GET users/current
pub async fn current_user(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    Ok(Json(json!({
        "user": user_json(&state.store, &caller.user).await?,
        "is_basic_auth": caller.method == AuthMethod::Password,
        // ferroflow's own: the caller's groups, and whether it may read the audit log.
        "groups": caller.holdings.groups,
        "is_auditor": caller.is_auditor(),
    })))
}

/// GET users/list
pub async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let mut users = Vec::new();
    for user in state.store.list_users().await? {
        users.push(user_json(&state.store, &user).await?);
    }
    Ok(Json(json!({ "users": users })))
}

/// PATCH users/update-password. Admins set anyone's; users their own. A user logged in with a token
/// or a web session must also give the current password, so a leaked token or an unattended browser
/// cannot take over the account.
pub async fn update_password(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<UserPassword>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    self_or_admin(&caller, &username)?;
    let own = caller.user.username == username;
    match (&request.current_password, own) {
        (Some(current), true) => {
            let stored = state.store.user_credentials(&username).await?.map(|c| c.password_hash).unwrap_or_default();
            let current = current.clone();
            let ok = tokio::task::spawn_blocking(move || password::verify(&current, &stored)).await.unwrap_or(false);
            if !ok {
                return Err(forbidden("The current password is wrong"));
            }
        }
        (None, true) if caller.method != AuthMethod::Password => {
            return Err(ApiError::invalid(
                "Changing your own password with an API token or a web session requires 'current_password'",
            ));
        }
        _ => {}
    }
    let hash = hash_new_password(required(request.password, "password")?).await?;
    state.store.update_password(&username, &hash).await?;
    Ok(Json(json!({})))
}

fn parse_bool(value: Option<Value>, field: &str) -> ApiResult<bool> {
    match value {
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        None => Err(ApiError::missing(field)),
        Some(other) => {
            Err(ApiError::invalid(format!("Invalid value {other} for parameter '{field}': expected true or false")))
        }
    }
}

/// PATCH users/update-admin
pub async fn update_admin(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<UserAdmin>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let is_admin = parse_bool(request.is_admin, "is_admin")?;
    state.store.update_admin(&username, is_admin).await?;
    Ok(Json(json!({})))
}

/// DELETE users/delete
pub async fn delete_user(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<Username>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    if caller.user.username == username {
        return Err(ApiError::invalid("You cannot delete your own account"));
    }
    state.store.delete_user(&username).await?;
    Ok(Json(json!({})))
}

async fn put_user_grant(
    store: &SqlStore,
    resource_type: ResourceType,
    resource_id: &str,
    username: &str,
    permission: Permission,
    mode: GrantMode,
) -> ApiResult<()> {
    store.put_grant(resource_type, resource_id, PrincipalKind::User, username, permission, mode).await?;
    Ok(())
}

/// The two kinds of MLflow 2.x per-resource permission calls, which differ only in the resource
/// they name and the JSON they answer with.
pub trait ResourcePermission: RequestMessage {
    /// What the grant is on.
    const RESOURCE: ResourceType;
    /// The key of the answer's object (`experiment_permission`, ...).
    const ANSWER_KEY: &'static str;
    /// The field naming the resource, in requests and answers.
    const ID_FIELD: &'static str;
    /// The resource id, the username and the permission name of the request.
    fn into_parts(self) -> ApiResult<(String, String, Option<String>)>;
}

impl ResourcePermission for ExperimentPermission {
    const RESOURCE: ResourceType = ResourceType::Experiment;
    const ANSWER_KEY: &'static str = "experiment_permission";
    const ID_FIELD: &'static str = "experiment_id";
    fn into_parts(self) -> ApiResult<(String, String, Option<String>)> {
        Ok((id_text(self.experiment_id, Self::ID_FIELD)?, required(self.username, "username")?, self.permission))
    }
}

impl ResourcePermission for ModelPermission {
    const RESOURCE: ResourceType = ResourceType::RegisteredModel;
    const ANSWER_KEY: &'static str = "registered_model_permission";
    const ID_FIELD: &'static str = "name";
    fn into_parts(self) -> ApiResult<(String, String, Option<String>)> {
        Ok((required(self.name, Self::ID_FIELD)?, required(self.username, "username")?, self.permission))
    }
}

/// `{"<answer key>": {"<id field>": id, "user_id": ..., "permission": ...}}`
async fn permission_answer<M: ResourcePermission>(
    store: &SqlStore,
    id: String,
    username: &str,
    level: Permission,
) -> ApiResult<Json<Value>> {
    let user = store.get_user(username).await?;
    let mut grant = serde_json::Map::new();
    grant.insert(M::ID_FIELD.to_owned(), Value::String(id));
    grant.insert("user_id".to_owned(), json!(user.id));
    grant.insert("permission".to_owned(), json!(level.name()));
    Ok(Json(json!({ M::ANSWER_KEY: grant })))
}

/// POST experiments/permissions/create, registered-models/permissions/create
pub async fn create_permission<M: ResourcePermission>(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<M>,
) -> ApiResult<Json<Value>> {
    let (id, username, level) = request.into_parts()?;
    let level = permission(level)?;
    put_user_grant(&state.store, M::RESOURCE, &id, &username, level, GrantMode::Create).await?;
    permission_answer::<M>(&state.store, id, &username, level).await
}

/// GET experiments/permissions/get, registered-models/permissions/get
pub async fn get_permission<M: ResourcePermission>(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<M>,
) -> ApiResult<Json<Value>> {
    let (id, username, _) = request.into_parts()?;
    let level = state.store.get_grant(M::RESOURCE, &id, PrincipalKind::User, &username).await?;
    permission_answer::<M>(&state.store, id, &username, level).await
}

/// PATCH experiments/permissions/update, registered-models/permissions/update
pub async fn update_permission<M: ResourcePermission>(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<M>,
) -> ApiResult<Json<Value>> {
    let (id, username, level) = request.into_parts()?;
    put_user_grant(&state.store, M::RESOURCE, &id, &username, permission(level)?, GrantMode::Update).await?;
    Ok(Json(json!({})))
}

/// DELETE experiments/permissions/delete, registered-models/permissions/delete
pub async fn delete_permission<M: ResourcePermission>(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<M>,
) -> ApiResult<Json<Value>> {
    let (id, username, _) = request.into_parts()?;
    state.store.delete_grant(M::RESOURCE, &id, PrincipalKind::User, &username).await?;
    Ok(Json(json!({})))
}

/// POST 3.0 users/permissions/grant
pub async fn grant_user_permission(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<UserGrant>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    let level = permission(request.permission)?;
    put_user_grant(&state.store, resource_type, &id, &username, level, GrantMode::Upsert).await?;
    Ok(Json(json!({})))
}

/// POST 3.0 users/permissions/revoke
pub async fn revoke_user_permission(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<UserGrant>,
) -> ApiResult<Json<Value>> {
    let username = required(request.username, "username")?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    state.store.delete_grant(resource_type, &id, PrincipalKind::User, &username).await?;
    Ok(Json(json!({})))
}

/// The permission a user holds on a resource, groups and wildcards included.
async fn effective_permission(
    store: &SqlStore,
    caller: &Caller,
    user: &User,
    resource_type: ResourceType,
    id: &str,
) -> ApiResult<Permission> {
    if user.is_admin {
        return Ok(Permission::Manage);
    }
    let mut set = ferroflow_auth::GrantSet::default();
    for grant in store.principal_grants(PrincipalKind::User, &user.username, Some(user.id)).await? {
        if grant.resource_type == resource_type {
            set.add(grant.resource_id, grant.permission);
        }
    }
    Ok(set.permission(id, caller.default))
}

/// GET 3.0 users/permissions/get: the user's effective permission, as a request would see it.
pub async fn get_user_permission(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<UserGrant>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    if caller.user.username != username && !caller.permission(resource_type, &id).satisfies(Permission::Manage) {
        return Err(forbidden(format!(
            "Permission denied: reading another user's permission on {} '{id}' requires MANAGE on it",
            resource_type.as_str()
        )));
    }
    let user = state.store.get_user(&username).await?;
    let level = effective_permission(&state.store, &caller, &user, resource_type, &id).await?;
    Ok(Json(json!({"allowed": level.satisfies(Permission::Use), "permission": level.name()})))
}

fn grant_rows(grants: &[Grant]) -> Vec<Value> {
    grants
        .iter()
        .map(|g| {
            json!({
                "role_id": Value::Null,
                "role_name": match g.principal_kind {
                    PrincipalKind::User => "user".to_owned(),
                    PrincipalKind::Group => format!("group:{}", g.principal),
                },
                "workspace": "default",
                "resource_type": g.resource_type.as_str(),
                "resource_pattern": g.resource_id,
                "permission": g.permission.name(),
            })
        })
        .collect()
}

async fn permissions_of(store: &SqlStore, user: &User) -> ApiResult<Json<Value>> {
    let grants = store.principal_grants(PrincipalKind::User, &user.username, Some(user.id)).await?;
    Ok(Json(json!({"is_admin": user.is_admin, "permissions": grant_rows(&grants)})))
}

/// GET 3.0 users/permissions/list
pub async fn list_user_permissions(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<Username>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = required(request.username, "username")?;
    self_or_admin(&caller, &username)?;
    let user = state.store.get_user(&username).await?;
    permissions_of(&state.store, &user).await
}

/// GET 3.0 users/current/permissions
pub async fn list_current_user_permissions(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    permissions_of(&state.store, &caller.user).await
}

/// GET ferroflow groups: admins see all; others the groups they belong to.
pub async fn list_groups(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let groups: Vec<_> = state
        .store
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| caller.user.is_admin || g.members.contains(&caller.user.username))
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

/// POST ferroflow groups
pub async fn create_group(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<GroupSpec>,
) -> ApiResult<Json<Value>> {
    let name = required(request.name, "name")?;
    let group = state.store.create_group(&name, request.description.as_deref()).await?;
    Ok(Json(json!({ "group": group })))
}

/// POST ferroflow groups/delete
pub async fn delete_group(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<GroupSpec>,
) -> ApiResult<Json<Value>> {
    state.store.delete_group(&required(request.name, "name")?).await?;
    Ok(Json(json!({})))
}

/// POST ferroflow groups/members/add
pub async fn add_group_member(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<Membership>,
) -> ApiResult<Json<Value>> {
    let group = required(request.group, "group")?;
    state.store.set_group_member(&group, &required(request.username, "username")?, true).await?;
    Ok(Json(json!({})))
}

/// POST ferroflow groups/members/remove
pub async fn remove_group_member(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<Membership>,
) -> ApiResult<Json<Value>> {
    let group = required(request.group, "group")?;
    state.store.set_group_member(&group, &required(request.username, "username")?, false).await?;
    Ok(Json(json!({})))
}

pub(super) fn token_json(record: &TokenRecord) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "username": record.user.username,
        "created_ms": record.created_ms,
        "expires_ms": record.expires_ms,
        "revoked_ms": record.revoked_ms,
    })
}

/// GET ferroflow tokens: the caller's own, or (admins, `?username=`) another user's.
pub async fn list_tokens(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<Username>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let username = request.username.filter(|u| !u.is_empty()).unwrap_or_else(|| caller.user.username.clone());
    self_or_admin(&caller, &username)?;
    let user = state.store.get_user(&username).await?;
    let tokens: Vec<Value> = state.store.list_tokens(Some(user.id)).await?.iter().map(token_json).collect();
    Ok(Json(json!({ "tokens": tokens })))
}

/// POST ferroflow tokens: a new token for the caller (or, for admins, another user). The token text
/// is in this answer only.
pub async fn create_token(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<TokenSpec>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let name = required(request.name, "name")?;
    let username = request.username.filter(|u| !u.is_empty()).unwrap_or_else(|| caller.user.username.clone());
    self_or_admin(&caller, &username)?;
    let days = match request.expires_in_days {
        None | Some(Value::Null) => None,
        Some(value) => {
            let days = value.as_f64().or_else(|| value.as_str().and_then(|s| s.parse().ok()));
            match days {
                Some(d) if d > 0.0 && d <= 3650.0 => Some(d),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid value {value} for 'expires_in_days': use a number of days between 0 and 3650"
                    )))
                }
            }
        }
    };
    #[allow(clippy::cast_possible_truncation)]
    let expires_ms = days.map(|d| crate::now_ms() + (d * 86_400_000.0) as i64);
    let user = state.store.get_user(&username).await?;
    let new = token::generate();
    let record = state.store.create_token(&user, &name, &new, expires_ms).await?;
    Ok(Json(json!({ "token": new.secret, "token_info": token_json(&record) })))
}

/// POST ferroflow tokens/revoke: the owner or an admin.
pub async fn revoke_token(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<TokenId>,
) -> ApiResult<Json<Value>> {
    let caller = caller(caller_ext)?;
    let id = required(request.id, "id")?;
    let record = state
        .store
        .token(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::ResourceDoesNotExist, format!("No active token with id '{id}'")))?;
    if record.user.id != caller.user.id && !caller.user.is_admin {
        return Err(ApiError::new(ErrorCode::ResourceDoesNotExist, format!("No active token with id '{id}'")));
    }
    state.store.revoke_token(&id).await?;
    Ok(Json(json!({})))
}

fn principal(spec: &GrantSpec) -> ApiResult<(PrincipalKind, String)> {
    let kind = match spec.principal_kind.as_deref().unwrap_or("user") {
        "user" => PrincipalKind::User,
        "group" => PrincipalKind::Group,
        other => return Err(ApiError::invalid(format!("Invalid principal_kind '{other}': use 'user' or 'group'"))),
    };
    Ok((kind, required(spec.principal.clone(), "principal")?))
}

/// GET ferroflow grants: who holds what on a resource (wildcard grants included).
pub async fn list_grants(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<GrantSpec>,
) -> ApiResult<Json<Value>> {
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    let grants = state.store.resource_grants(resource_type, &id).await?;
    Ok(Json(json!({ "grants": grants })))
}

/// POST ferroflow grants: grant to a user or a group (replacing their grant on the resource).
pub async fn put_grant(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<GrantSpec>,
) -> ApiResult<Json<Value>> {
    let (kind, name) = principal(&request)?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    let level = permission(request.permission)?;
    state.store.put_grant(resource_type, &id, kind, &name, level, GrantMode::Upsert).await?;
    Ok(Json(json!({})))
}

/// POST ferroflow grants/delete
pub async fn delete_grant(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<GrantSpec>,
) -> ApiResult<Json<Value>> {
    let (kind, name) = principal(&request)?;
    let resource_type = ResourceType::parse(&required(request.resource_type, "resource_type")?)?;
    let id = id_text(request.resource_id, "resource_id")?;
    state.store.delete_grant(resource_type, &id, kind, &name).await?;
    Ok(Json(json!({})))
}
