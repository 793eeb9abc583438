//! What each route declares: its operation name (for the audit log), whether it changes state, and
//! who may call it.

use axum::http::Method;
use ferroflow_auth::Permission;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials (`/health`, `/version`, `server-info`).
    Public,
    /// Any logged-in user; what they see is filtered by the handler (searches) or decided by it
    /// (a user's own account).
    Authenticated,
    /// Admins only.
    Admin,
    /// Admins and members of the `auditor` group.
    Auditor,
    /// A permission on the resource the request names.
    Need(Target, Permission),
}

/// How to find the resource a request acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The experiment in `experiment_id` (MLflow's default experiment `0` when absent).
    Experiment,
    /// The experiment named `experiment_name`.
    ExperimentName,
    /// The experiment of the run in `run_id` (or `run_uuid`).
    Run,
    /// The experiment of the logged model in the path (`{model_id}`).
    LoggedModel,
    /// The registered model in `name`.
    RegisteredModel,
    /// Creating a model version: the permission on the registered model in `name`, and READ on the
    /// run or logged model its source names.
    ModelVersionSource,
    /// The experiment named by the first segment of the artifact path (`{*path}`, or `path` in the
    /// query of a listing).
    Artifact,
    /// The resource in `resource_type` and `resource_id` (the grant endpoints).
    Named,
}

/// One method of one route, as declared in the route table.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Operation name (MLflow's where it has one), recorded in audit events.
    pub action: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Whether a call changes state (and so always leaves an audit event).
    pub writes: bool,
}

/// A declared route: its full path (axum syntax) and its endpoints.
#[derive(Debug, Clone)]
pub struct Declared {
    /// Path, e.g. `/api/2.0/mlflow/logged-models/{model_id}`.
    pub path: String,
    /// One per method.
    pub endpoints: Vec<Endpoint>,
}
