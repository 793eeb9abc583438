//! The ferroflow HTTP server: MLflow's tracking REST API over a [`ferroflow_store::SqlStore`], and the
//! artifact proxy over a [`ferroflow_artifacts::ArtifactStore`].
//!
//! A library so tests can build the [`router`] and call it in-process, or [`serve`] it on a listener
//! they bound themselves (port 0).

pub mod auth;
pub mod error;
mod extract;
mod handlers;
mod retry;
mod router;
pub mod security;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::response::IntoResponse as _;
use axum::{middleware, Router};
use ferroflow_artifacts::{ArtifactStore, LocationPolicy};
use ferroflow_store::SqlStore;
use handlers::run_artifacts::RunArtifacts;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use handlers::server::MLFLOW_COMPATIBLE_VERSION;
pub use security::AllowedHosts;

/// Settings of the HTTP layer, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Host headers to answer.
    pub allowed_hosts: AllowedHosts,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Access control and the audit log; `None` leaves the server open, as MLflow's is by default.
    pub auth: Option<auth::AuthConfig>,
}

/// What every tracking handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The tracking store.
    pub store: SqlStore,
    /// Which artifact locations experiments may be given (and runs' artifacts are read from).
    pub locations: Arc<LocationPolicy>,
    /// Where runs' artifacts are read from for `artifacts/list` and `get-artifact`.
    pub run_artifacts: Arc<RunArtifacts>,
}

impl AppState {
    /// The tracking service of a server whose experiments default to `default_artifact_root`, and
    /// which serves `served` through its artifact proxy (when it does).
    pub fn new(store: SqlStore, default_artifact_root: &str, served: Option<Arc<ArtifactStore>>) -> Self {
        let locations = Arc::new(LocationPolicy::for_server(default_artifact_root, served.as_deref()));
        Self { store, run_artifacts: Arc::new(RunArtifacts::new(served, locations.clone())), locations }
    }
}

/// The services a server runs; `None` turns one off (its routes answer 503).
#[derive(Clone)]
pub struct Services {
    /// The tracking API (off with `--artifacts-only`).
    pub tracking: Option<AppState>,
    /// The artifact proxy (off with `--no-serve-artifacts`).
    pub artifacts: Option<Arc<ArtifactStore>>,
}

/// The application with all middleware, ready to serve.
///
/// Layer order, outermost first: panic guard, trace span, Host check, CORS, access control (with
/// `auth`), security headers, body limit. The body limit applies to JSON requests; artifact uploads
/// are streamed and not limited.
///
/// # Panics
/// With `auth` on but the tracking service off: access control needs the tracking database (the
/// command line refuses that combination).
pub fn router(services: Services, config: &ServerConfig) -> Router {
    let store = services.tracking.as_ref().map(|t| t.store.clone());
    let default_permission = config.auth.as_ref().map(|auth| auth.default_permission);
    let (routes, declared) =
        router::routes(services.tracking, services.artifacts, config.max_body_bytes, default_permission);
    let mut app = routes.layer(DefaultBodyLimit::max(config.max_body_bytes));
    app = app.layer(middleware::from_fn(security::security_headers));
    if let Some(auth) = &config.auth {
        let store = store.expect("access control needs the tracking store");
        let gate = auth::Gate::new(store, auth.clone(), &declared, config.max_body_bytes);
        app = app.layer(middleware::from_fn_with_state(Arc::new(gate), auth::gate::check));
    }
    if let Some(cors) = cors_layer(&config.cors_allowed_origins) {
        app = app.layer(cors);
    }
    app.layer(middleware::from_fn_with_state(config.allowed_hosts.clone(), security::check_host))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let path = request.extensions().get::<MatchedPath>().map_or(request.uri().path(), MatchedPath::as_str);
            tracing::debug_span!("request", method = %request.method(), path = %path)
        }))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            error::ApiError::new(error::ErrorCode::InternalError, "Internal server error").into_response()
        }))
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::AUTHORIZATION])
            .max_age(Duration::from_secs(3600)),
    )
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests finish.
///
/// # Errors
/// Fails only if the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The route table's declarations (path and, per method, operation and access), for tests that walk
/// it.
pub fn declared_routes() -> Vec<auth::Declared> {
    router::routes(None, None, 1024, None).1
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
