//! The route table. Reads like MLflow's REST reference: every tracking endpoint is served under
//! `/api/2.0/mlflow` and again under `/ajax-api/2.0/mlflow` (the web UI's prefix); the artifact proxy
//! likewise under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`.

use axum::handler::Handler;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse as _;
use axum::routing::{any, MethodFilter, MethodRouter};
use axum::{middleware, Router};
use ferroflow_auth::Permission;

use crate::auth::{Access, Declared, Endpoint, Target};
use crate::error::{ApiError, ErrorCode};
use crate::handlers::artifacts::{self, Artifacts};
use crate::handlers::users::{ExperimentPermission, ModelPermission};
use crate::handlers::{
    audit, experiments, logged_models, metrics, registry, roles, run_artifacts, runs, server, session, ui, users,
};
use crate::{retry, AppState};

/// The route table: the only way routes are added. Each method of each path is declared with its
/// operation name, whether it writes, and who may call it, so a route cannot exist without a
/// permission (the auth middleware also refuses any path that is not declared here).
struct Table<S> {
    routes: Vec<(&'static str, MethodRouter<S>, Vec<Endpoint>)>,
}

/// One method of a route: its declaration and its handler.
struct Ep<S> {
    endpoint: Endpoint,
    router: MethodRouter<S>,
}

fn endpoint<S, H, T>(method: Method, action: &'static str, access: Access, writes: bool, handler: H) -> Ep<S>
where
    S: Clone + Send + Sync + 'static,
    H: Handler<T, S>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("route methods are standard");
    Ep { endpoint: Endpoint { method, action, access, writes }, router: axum::routing::on(filter, handler) }
}

/// A method that only reads.
fn read<S, H, T>(method: Method, action: &'static str, access: Access, handler: H) -> Ep<S>
where
    S: Clone + Send + Sync + 'static,
    H: Handler<T, S>,
    T: 'static,
{
    endpoint(method, action, access, false, handler)
}

/// A method that changes state (its call always leaves an audit event).
fn write<S, H, T>(method: Method, action: &'static str, access: Access, handler: H) -> Ep<S>
where
    S: Clone + Send + Sync + 'static,
    H: Handler<T, S>,
    T: 'static,
{
    endpoint(method, action, access, true, handler)
}

impl<S: Clone + Send + Sync + 'static> Table<S> {
    fn new() -> Self {
        Self { routes: Vec::new() }
    }

    fn route(mut self, path: &'static str, methods: impl IntoIterator<Item = Ep<S>>) -> Self {
        let mut router = MethodRouter::new();
        let mut endpoints = Vec::new();
        for ep in methods {
            router = router.merge(ep.router);
            endpoints.push(ep.endpoint);
        }
        self.routes.push((path, router, endpoints));
        self
    }

    /// The declarations, under each of `prefixes`.
    fn declared(&self, prefixes: &[&str]) -> Vec<Declared> {
        prefixes
            .iter()
            .flat_map(|prefix| {
                self.routes.iter().map(move |(path, _, endpoints)| Declared {
                    path: format!("{prefix}{path}"),
                    endpoints: endpoints.clone(),
                })
            })
            .collect()
    }

    fn into_router(self) -> Router<S> {
        self.routes.into_iter().fold(Router::new(), |router, (path, methods, _)| router.route(path, methods))
    }
}

const READ: Permission = Permission::Read;
const EDIT: Permission = Permission::Edit;
const MANAGE: Permission = Permission::Manage;
const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

fn need(target: Target, level: Permission) -> Access {
    Access::Need(target, level)
}

#[allow(clippy::too_many_lines)] // one line per endpoint, as MLflow's REST reference lists them
fn tracking_api() -> Table<AppState> {
    use Access::{Admin, Authenticated};
    use Target::{Experiment, ExperimentName, LoggedModel, ModelVersionSource, RegisteredModel, Run};
    Table::new()
        .route("/experiments/create", [write(POST, "CreateExperiment", Authenticated, experiments::create_experiment)])
        .route("/experiments/get", [read(GET, "GetExperiment", need(Experiment, READ), experiments::get_experiment)])
        .route(
            "/experiments/get-by-name",
            [read(GET, "GetExperimentByName", need(ExperimentName, READ), experiments::get_experiment_by_name)],
        )
        .route(
            "/experiments/search",
            [
                read(POST, "SearchExperiments", Authenticated, experiments::search_experiments),
                read(GET, "SearchExperiments", Authenticated, experiments::search_experiments),
            ],
        )
        .route(
            "/experiments/delete",
            [write(POST, "DeleteExperiment", need(Experiment, MANAGE), experiments::delete_experiment)],
        )
        .route(
            "/experiments/restore",
            [write(POST, "RestoreExperiment", need(Experiment, MANAGE), experiments::restore_experiment)],
        )
        .route(
            "/experiments/update",
            [write(POST, "UpdateExperiment", need(Experiment, EDIT), experiments::update_experiment)],
        )
        .route(
            "/experiments/set-experiment-tag",
            [write(POST, "SetExperimentTag", need(Experiment, EDIT), experiments::set_experiment_tag)],
        )
        .route(
            "/experiments/delete-experiment-tag",
            [write(POST, "DeleteExperimentTag", need(Experiment, EDIT), experiments::delete_experiment_tag)],
        )
        .route("/runs/create", [write(POST, "CreateRun", need(Experiment, EDIT), runs::create_run)])
        .route("/runs/get", [read(GET, "GetRun", need(Run, READ), runs::get_run)])
        .route("/artifacts/list", [read(GET, "ListArtifacts", need(Run, READ), run_artifacts::list)])
        .route("/runs/update", [write(POST, "UpdateRun", need(Run, EDIT), runs::update_run)])
        .route("/runs/delete", [write(POST, "DeleteRun", need(Run, MANAGE), runs::delete_run)])
        .route("/runs/restore", [write(POST, "RestoreRun", need(Run, MANAGE), runs::restore_run)])
        .route(
            "/runs/search",
            [
                read(POST, "SearchRuns", Authenticated, runs::search_runs),
                read(GET, "SearchRuns", Authenticated, runs::search_runs),
            ],
        )
        .route("/runs/set-tag", [write(POST, "SetTag", need(Run, EDIT), runs::set_tag)])
        .route("/runs/delete-tag", [write(POST, "DeleteTag", need(Run, EDIT), runs::delete_tag)])
        .route("/runs/log-metric", [write(POST, "LogMetric", need(Run, EDIT), runs::log_metric)])
        .route("/runs/log-parameter", [write(POST, "LogParam", need(Run, EDIT), runs::log_param)])
        .route("/runs/log-batch", [write(POST, "LogBatch", need(Run, EDIT), runs::log_batch)])
        .route("/runs/log-inputs", [write(POST, "LogInputs", need(Run, EDIT), runs::log_inputs)])
        .route("/runs/outputs", [write(POST, "LogOutputs", need(Run, EDIT), runs::log_outputs)])
        .route(
            "/logged-models",
            [write(POST, "CreateLoggedModel", need(Experiment, EDIT), logged_models::create_logged_model)],
        )
        .route(
            "/logged-models/search",
            [read(POST, "SearchLoggedModels", Authenticated, logged_models::search_logged_models)],
        )
        .route(
            "/logged-models/{model_id}",
            [
                read(GET, "GetLoggedModel", need(LoggedModel, READ), logged_models::get_logged_model),
                write(PATCH, "FinalizeLoggedModel", need(LoggedModel, EDIT), logged_models::finalize_logged_model),
                write(DELETE, "DeleteLoggedModel", need(LoggedModel, MANAGE), logged_models::delete_logged_model),
            ],
        )
        .route(
            "/logged-models/{model_id}/tags",
            [write(PATCH, "SetLoggedModelTags", need(LoggedModel, EDIT), logged_models::set_logged_model_tags)],
        )
        .route(
            "/logged-models/{model_id}/tags/{*key}",
            [write(DELETE, "DeleteLoggedModelTag", need(LoggedModel, EDIT), logged_models::delete_logged_model_tag)],
        )
        .route(
            "/logged-models/{model_id}/params",
            [write(POST, "LogLoggedModelParams", need(LoggedModel, EDIT), logged_models::log_logged_model_params)],
        )
        .route(
            "/registered-models/create",
            [write(POST, "CreateRegisteredModel", Authenticated, registry::create_registered_model)],
        )
        .route(
            "/registered-models/get",
            [read(GET, "GetRegisteredModel", need(RegisteredModel, READ), registry::get_registered_model)],
        )
        .route(
            "/registered-models/rename",
            [write(POST, "RenameRegisteredModel", need(RegisteredModel, EDIT), registry::rename_registered_model)],
        )
        .route(
            "/registered-models/update",
            [write(PATCH, "UpdateRegisteredModel", need(RegisteredModel, EDIT), registry::update_registered_model)],
        )
        .route(
            "/registered-models/delete",
            [write(DELETE, "DeleteRegisteredModel", need(RegisteredModel, MANAGE), registry::delete_registered_model)],
        )
        .route(
            "/registered-models/search",
            [
                read(GET, "SearchRegisteredModels", Authenticated, registry::search_registered_models),
                read(POST, "SearchRegisteredModels", Authenticated, registry::search_registered_models),
            ],
        )
        .route(
            "/registered-models/get-latest-versions",
            [
                read(POST, "GetLatestVersions", need(RegisteredModel, READ), registry::get_latest_versions),
                read(GET, "GetLatestVersions", need(RegisteredModel, READ), registry::get_latest_versions),
            ],
        )
        .route(
            "/registered-models/set-tag",
            [write(POST, "SetRegisteredModelTag", need(RegisteredModel, EDIT), registry::set_registered_model_tag)],
        )
        .route(
            "/registered-models/delete-tag",
            [write(
                DELETE,
                "DeleteRegisteredModelTag",
                need(RegisteredModel, EDIT),
                registry::delete_registered_model_tag,
            )],
        )
        .route(
            "/registered-models/alias",
            [
                write(POST, "SetRegisteredModelAlias", need(RegisteredModel, EDIT), registry::set_alias),
                write(DELETE, "DeleteRegisteredModelAlias", need(RegisteredModel, EDIT), registry::delete_alias),
                read(GET, "GetModelVersionByAlias", need(RegisteredModel, READ), registry::get_by_alias),
            ],
        )
        .route(
            "/model-versions/create",
            [write(POST, "CreateModelVersion", need(ModelVersionSource, EDIT), registry::create_model_version)],
        )
        .route(
            "/model-versions/get",
            [read(GET, "GetModelVersion", need(RegisteredModel, READ), registry::get_model_version)],
        )
        .route(
            "/model-versions/update",
            [write(PATCH, "UpdateModelVersion", need(RegisteredModel, EDIT), registry::update_model_version)],
        )
        .route(
            "/model-versions/delete",
            [write(DELETE, "DeleteModelVersion", need(RegisteredModel, MANAGE), registry::delete_model_version)],
        )
        .route(
            "/model-versions/search",
            [
                read(GET, "SearchModelVersions", Authenticated, registry::search_model_versions),
                read(POST, "SearchModelVersions", Authenticated, registry::search_model_versions),
            ],
        )
        .route(
            "/model-versions/transition-stage",
            [write(POST, "TransitionModelVersionStage", need(RegisteredModel, EDIT), registry::transition_stage)],
        )
        .route(
            "/model-versions/get-download-uri",
            [read(GET, "GetModelVersionDownloadUri", need(RegisteredModel, READ), registry::get_download_uri)],
        )
        .route(
            "/model-versions/set-tag",
            [write(POST, "SetModelVersionTag", need(RegisteredModel, EDIT), registry::set_model_version_tag)],
        )
        .route(
            "/model-versions/delete-tag",
            [write(DELETE, "DeleteModelVersionTag", need(RegisteredModel, MANAGE), registry::delete_model_version_tag)],
        )
        .route("/metrics/get-history", [read(GET, "GetMetricHistory", need(Run, READ), metrics::get_metric_history)])
        .route(
            "/metrics/get-history-bulk-interval",
            [read(GET, "GetMetricHistoryBulkInterval", Authenticated, metrics::get_metric_history_bulk_interval)],
        )
        // MLflow's basic-auth app (2.x endpoints).
        .route("/users/create", [write(POST, "CreateUser", Admin, users::create_user)])
        .route("/users/get", [read(GET, "GetUser", Authenticated, users::get_user)])
        .route("/users/current", [read(GET, "GetCurrentUser", Authenticated, users::current_user)])
        .route("/users/list", [read(GET, "ListUsers", Admin, users::list_users)])
        .route("/users/update-password", [write(PATCH, "UpdateUserPassword", Authenticated, users::update_password)])
        .route("/users/update-admin", [write(PATCH, "UpdateUserAdmin", Admin, users::update_admin)])
        .route("/users/delete", [write(DELETE, "DeleteUser", Admin, users::delete_user)])
        .route(
            "/experiments/permissions/create",
            [write(
                POST,
                "CreateExperimentPermission",
                need(Experiment, MANAGE),
                users::create_permission::<ExperimentPermission>,
            )],
        )
        .route(
            "/experiments/permissions/get",
            [read(
                GET,
                "GetExperimentPermission",
                need(Experiment, MANAGE),
                users::get_permission::<ExperimentPermission>,
            )],
        )
        .route(
            "/experiments/permissions/update",
            [write(
                PATCH,
                "UpdateExperimentPermission",
                need(Experiment, MANAGE),
                users::update_permission::<ExperimentPermission>,
            )],
        )
        .route(
            "/experiments/permissions/delete",
            [write(
                DELETE,
                "DeleteExperimentPermission",
                need(Experiment, MANAGE),
                users::delete_permission::<ExperimentPermission>,
            )],
        )
        .route(
            "/registered-models/permissions/create",
            [write(
                POST,
                "CreateRegisteredModelPermission",
                need(RegisteredModel, MANAGE),
                users::create_permission::<ModelPermission>,
            )],
        )
        .route(
            "/registered-models/permissions/get",
            [read(
                GET,
                "GetRegisteredModelPermission",
                need(RegisteredModel, MANAGE),
                users::get_permission::<ModelPermission>,
            )],
        )
        .route(
            "/registered-models/permissions/update",
            [write(
                PATCH,
                "UpdateRegisteredModelPermission",
                need(RegisteredModel, MANAGE),
                users::update_permission::<ModelPermission>,
            )],
        )
        .route(
            "/registered-models/permissions/delete",
            [write(
                DELETE,
                "DeleteRegisteredModelPermission",
                need(RegisteredModel, MANAGE),
                users::delete_permission::<ModelPermission>,
            )],
        )
}

/// MLflow's API 3.0 routes of the basic-auth app: per-user grants, and roles (served by groups).
fn tracking_api_v3() -> Table<AppState> {
    use Access::{Admin, Authenticated};
    Table::new()
        .route("/roles/create", [write(POST, "CreateRole", Admin, roles::create_role)])
        .route("/roles/get", [read(GET, "GetRole", Admin, roles::get_role)])
        .route("/roles/list", [read(GET, "ListRoles", Admin, roles::list_roles)])
        .route("/roles/update", [write(PATCH, "UpdateRole", Admin, roles::update_role)])
        .route("/roles/delete", [write(DELETE, "DeleteRole", Admin, roles::delete_role)])
        .route("/roles/permissions/add", [write(POST, "AddRolePermission", Admin, roles::add_role_permission)])
        .route(
            "/roles/permissions/remove",
            [write(DELETE, "RemoveRolePermission", Admin, roles::remove_role_permission)],
        )
        .route("/roles/permissions/list", [read(GET, "ListRolePermissions", Admin, roles::list_role_permissions)])
        .route(
            "/roles/permissions/update",
            [write(PATCH, "UpdateRolePermission", Admin, roles::update_role_permission)],
        )
        .route("/roles/assign", [write(POST, "AssignRole", Admin, roles::assign_role)])
        .route("/roles/unassign", [write(DELETE, "UnassignRole", Admin, roles::unassign_role)])
        .route("/roles/users/list", [read(GET, "ListRoleUsers", Admin, roles::list_role_users)])
        .route("/users/roles/list", [read(GET, "ListUserRoles", Authenticated, roles::list_user_roles)])
        .route(
            "/users/permissions/grant",
            [write(POST, "GrantUserPermission", need(Target::Named, MANAGE), users::grant_user_permission)],
        )
        .route(
            "/users/permissions/revoke",
            [write(POST, "RevokeUserPermission", need(Target::Named, MANAGE), users::revoke_user_permission)],
        )
        .route("/users/permissions/get", [read(GET, "GetUserPermission", Authenticated, users::get_user_permission)])
        .route(
            "/users/permissions/list",
            [read(GET, "ListUserPermissions", Authenticated, users::list_user_permissions)],
        )
        .route(
            "/users/current/permissions",
            [read(GET, "ListCurrentUserPermissions", Authenticated, users::list_current_user_permissions)],
        )
}

/// ferroflow's own management API: groups, tokens, grant listings, the audit log, web sessions.
fn ferroflow_api() -> Table<AppState> {
    use Access::{Admin, Auditor, Authenticated};
    Table::new()
        .route(
            "/groups",
            [
                read(GET, "ListGroups", Authenticated, users::list_groups),
                write(POST, "CreateGroup", Admin, users::create_group),
            ],
        )
        .route("/groups/delete", [write(POST, "DeleteGroup", Admin, users::delete_group)])
        .route("/groups/members/add", [write(POST, "AddGroupMember", Admin, users::add_group_member)])
        .route("/groups/members/remove", [write(POST, "RemoveGroupMember", Admin, users::remove_group_member)])
        .route(
            "/tokens",
            [
                read(GET, "ListTokens", Authenticated, users::list_tokens),
                write(POST, "CreateToken", Authenticated, users::create_token),
            ],
        )
        .route("/tokens/revoke", [write(POST, "RevokeToken", Authenticated, users::revoke_token)])
        .route(
            "/grants",
            [
                read(GET, "ListGrants", need(Target::Named, MANAGE), users::list_grants),
                write(POST, "PutGrant", need(Target::Named, MANAGE), users::put_grant),
            ],
        )
        .route("/grants/delete", [write(POST, "DeleteGrant", need(Target::Named, MANAGE), users::delete_grant)])
        .route("/audit/search", [read(GET, "SearchAuditEvents", Auditor, audit::search_events)])
        .route("/session/login", [write(POST, "CreateSession", Authenticated, session::login)])
        .route("/session/logout", [write(POST, "DeleteSession", Authenticated, session::logout)])
}

fn artifacts_api() -> Table<Artifacts> {
    use Target::Artifact;
    Table::new()
        .route("/artifacts", [read(GET, "ListArtifacts", need(Artifact, READ), artifacts::list)])
        .route(
            "/artifacts/{*path}",
            [
                read(GET, "DownloadArtifact", need(Artifact, READ), artifacts::download),
                write(PUT, "UploadArtifact", need(Artifact, EDIT), artifacts::upload),
                write(DELETE, "DeleteArtifact", need(Artifact, MANAGE), artifacts::delete),
            ],
        )
        .route(
            "/mpu/create/{*path}",
            [write(POST, "CreateMultipartUpload", need(Artifact, EDIT), artifacts::create_multipart)],
        )
        .route(
            "/mpu/complete/{*path}",
            [write(POST, "CompleteMultipartUpload", need(Artifact, EDIT), artifacts::complete_multipart)],
        )
        .route(
            "/mpu/abort/{*path}",
            [write(POST, "AbortMultipartUpload", need(Artifact, EDIT), artifacts::abort_multipart)],
        )
        .route("/mpu/part/{*path}", [write(PUT, "UploadPart", need(Artifact, EDIT), artifacts::upload_part)])
        .route(
            "/presigned/{*path}",
            [read(GET, "PresignedDownload", need(Artifact, READ), artifacts::presigned_download)],
        )
}

/// Routes outside the services, served even when one is off.
fn root_api(offer_multipart: bool, default_permission: Option<Permission>) -> Table<()> {
    let server_info = move || server::server_info(offer_multipart, default_permission);
    let page = ui::IndexPage::new(default_permission);
    Table::new()
        .route("/api/3.0/mlflow/server-info", [read(GET, "GetServerInfo", Access::Public, server_info)])
        .route("/ajax-api/3.0/mlflow/server-info", [read(GET, "GetServerInfo", Access::Public, server_info)])
        .route("/health", [read(GET, "Health", Access::Public, server::health)])
        .route("/version", [read(GET, "Version", Access::Public, server::version)])
        // The web UI's page and files: public, so that its sign-in page loads; what it shows comes
        // from the API, behind the same checks as every other client's calls.
        .route("/", [read(GET, "GetUiPage", Access::Public, move || ui::index(page.clone()))])
        .route("/assets/{*path}", [read(GET, "GetUiAsset", Access::Public, ui::asset)])
}

/// Routes of MLflow's UI that sit at the root, beside its page rather than under an API prefix.
fn tracking_ui_routes() -> Table<AppState> {
    Table::new()
        .route("/get-artifact", [read(GET, "GetArtifact", need(Target::Run, READ), run_artifacts::download)])
        .route(
            "/model-versions/get-artifact",
            [read(
                GET,
                "GetModelVersionArtifact",
                need(Target::RegisteredModel, READ),
                run_artifacts::model_version_download,
            )],
        )
}

const TRACKING_PREFIXES: [&str; 2] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];
const TRACKING_V3_PREFIXES: [&str; 2] = ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"];
const FERROFLOW_PREFIXES: [&str; 2] = ["/api/2.0/ferroflow", "/ajax-api/2.0/ferroflow"];
const ARTIFACT_PREFIXES: [&str; 2] = ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"];

/// All routes, without middleware, and their declarations. A service that is off (`None`) answers
/// 503 on its routes, as MLflow does for `--artifacts-only` and `--no-serve-artifacts`.
/// `default_permission` (access control on) is only reported, in server-info; the gate is a layer of
/// its own.
pub fn routes(
    tracking: Option<AppState>,
    artifacts: Option<Artifacts>,
    max_body_bytes: usize,
    default_permission: Option<Permission>,
) -> (Router, Vec<Declared>) {
    // As MLflow does, multipart uploads are offered for buckets only (on local disk one streamed PUT is
    // faster); the mpu routes work for local destinations all the same.
    let offer_multipart = artifacts.as_ref().is_some_and(|store| store.is_object_store());
    let mut declared = Vec::new();
    let mut router = Router::new();
    for (table, prefixes) in [
        (tracking_api(), TRACKING_PREFIXES),
        (tracking_api_v3(), TRACKING_V3_PREFIXES),
        (ferroflow_api(), FERROFLOW_PREFIXES),
    ] {
        declared.extend(table.declared(&prefixes));
        let table = table.into_router();
        for prefix in prefixes {
            router = match &tracking {
                Some(state) => router.nest(
                    prefix,
                    table
                        .clone()
                        .with_state(state.clone())
                        .layer(middleware::from_fn_with_state(max_body_bytes, retry::retry_transient)),
                ),
                None => router.route(&format!("{prefix}/{{*rest}}"), any(tracking_disabled)),
            };
        }
    }
    let table = tracking_ui_routes();
    declared.extend(table.declared(&[""]));
    router = match &tracking {
        Some(state) => router.merge(table.into_router().with_state(state.clone())),
        None => table.routes.iter().fold(router, |router, (path, _, _)| router.route(path, any(tracking_disabled))),
    };
    let table = artifacts_api();
    declared.extend(table.declared(&ARTIFACT_PREFIXES));
    let table = table.into_router();
    for prefix in ARTIFACT_PREFIXES {
        router = match &artifacts {
            Some(store) => router.nest(prefix, table.clone().with_state(store.clone())),
            None => router.route(&format!("{prefix}/{{*rest}}"), any(artifacts::disabled)),
        };
    }
    let table = root_api(offer_multipart, default_permission);
    declared.extend(table.declared(&[""]));
    let router =
        router.merge(table.into_router()).fallback(endpoint_not_found).method_not_allowed_fallback(method_not_allowed);
    (router, declared)
}

async fn tracking_disabled() -> axum::response::Response {
    (StatusCode::SERVICE_UNAVAILABLE, "This endpoint is disabled: the server was started with --artifacts-only.")
        .into_response()
}

async fn endpoint_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::EndpointNotFound, format!("No endpoint {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        code: ErrorCode::EndpointNotFound,
        message: format!("Method {method} is not allowed on {}", uri.path()),
        status: Some(axum::http::StatusCode::METHOD_NOT_ALLOWED),
    }
}
