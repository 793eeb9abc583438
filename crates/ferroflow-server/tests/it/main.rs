//! HTTP-level tests: the router is called in-process on a fresh SQLite file per test.

mod artifacts;
mod auth;
mod connections;
mod errors;
mod experiments;
mod logged_models;
mod registry;
mod runs;
mod schema;
mod search;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use std::sync::Arc;

use ferroflow_artifacts::ArtifactStore;
use ferroflow_server::{AllowedHosts, AppState, ServerConfig, Services};
use ferroflow_store::{BackendUri, PoolSettings, SqlStore, StoreConfig};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// The database a test runs on: a SQLite file in `dir`, or with `FERROFLOW_TEST_DATABASE=postgres` or
/// `mysql`, a fresh database on the server named by `FERROFLOW_TEST_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432`) or `FERROFLOW_TEST_MYSQL_URL` (default
/// `mysql://root@127.0.0.1:3306`). Databases are named `ff_it_*`; scripts/test.sh drops them afterwards.
pub async fn test_database(dir: &std::path::Path) -> BackendUri {
    use sqlx::Connection as _;
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let engine = std::env::var("FERROFLOW_TEST_DATABASE").unwrap_or_default();
    let (base, admin_db) = match engine.as_str() {
        "" | "sqlite" => return BackendUri::Sqlite { path: dir.join("mlflow.db") },
        "postgres" => (
            std::env::var("FERROFLOW_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
            "/postgres",
        ),
        "mysql" => {
            (std::env::var("FERROFLOW_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()), "")
        }
        other => panic!("FERROFLOW_TEST_DATABASE must be sqlite, postgres or mysql, not {other:?}"),
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("ff_it_{}_{serial}_{nanos}", std::process::id());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&format!("{base}{admin_db}")).await.expect("test database server");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    BackendUri::parse(&format!("{base}/{name}")).unwrap()
}

/// Whether the tests run on MySQL/MariaDB (`FERROFLOW_TEST_DATABASE=mysql`).
pub fn on_mysql() -> bool {
    std::env::var("FERROFLOW_TEST_DATABASE").is_ok_and(|engine| engine == "mysql")
}

pub struct TestApp {
    pub router: Router,
    /// The artifact destination (a directory for local destinations).
    pub artifacts: String,
    /// The tracking database (`None` with `artifacts_only`).
    pub database: Option<BackendUri>,
    /// The tracking store behind the router (`None` with `artifacts_only`).
    pub store: Option<SqlStore>,
    pub dir: tempfile::TempDir,
}

/// How a [`TestApp`] is set up.
pub struct Options {
    pub cors_allowed_origins: Vec<String>,
    /// `None`: a local directory in the test's temp dir.
    pub artifacts_destination: Option<String>,
    pub serve_artifacts: bool,
    pub artifacts_only: bool,
    /// `None`: a fresh database from [`test_database`].
    pub database: Option<BackendUri>,
    /// Access control (`None`: off).
    pub auth: Option<ferroflow_server::auth::AuthConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cors_allowed_origins: Vec::new(),
            artifacts_destination: None,
            serve_artifacts: true,
            artifacts_only: false,
            database: None,
            auth: None,
        }
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with_cors(cors_allowed_origins: Vec<String>) -> Self {
        Self::with(Options { cors_allowed_origins, ..Options::default() }).await
    }

    pub async fn with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let artifacts =
            options.artifacts_destination.unwrap_or_else(|| dir.path().join("artifacts").to_str().unwrap().to_owned());
        let store =
            if options.serve_artifacts { Some(Arc::new(ArtifactStore::open(&artifacts).unwrap())) } else { None };
        let database = match options.database {
            _ if options.artifacts_only => None,
            Some(database) => Some(database),
            None => Some(test_database(dir.path()).await),
        };
        let tracking = if let Some(backend) = &database {
            let default_root = if options.serve_artifacts { "mlflow-artifacts:/" } else { artifacts.as_str() };
            let sql = SqlStore::open(&StoreConfig {
                backend: backend.clone(),
                default_artifact_root: default_root.to_owned(),
                max_read_connections: 4,
                pool: PoolSettings { max_connections: 4, ..PoolSettings::default() },
                migrate: true,
            })
            .await
            .unwrap();
            Some(AppState::new(sql, default_root, store.clone()))
        } else {
            None
        };
        let config = ServerConfig {
            allowed_hosts: AllowedHosts::default_for("127.0.0.1"),
            cors_allowed_origins: options.cors_allowed_origins,
            max_body_bytes: 8 * 1024 * 1024,
            auth: options.auth,
        };
        let sql = tracking.as_ref().map(|t| t.store.clone());
        let router = ferroflow_server::router(Services { tracking, artifacts: store }, &config);
        Self { router, artifacts, database, store: sql, dir }
    }

    pub async fn raw(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn post(&self, endpoint: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, endpoint, body).await
    }

    /// A JSON request with any method (PATCH and DELETE endpoints).
    pub async fn call(&self, method: Method, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(format!("/api/2.0/mlflow/{endpoint}"))
            .header(header::HOST, "localhost:5000")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.raw(request).await
    }

    pub async fn get(&self, endpoint_and_query: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .uri(format!("/api/2.0/mlflow/{endpoint_and_query}"))
            .header(header::HOST, "localhost:5000")
            .body(Body::empty())
            .unwrap();
        self.raw(request).await
    }

    /// POST that must succeed; returns the body.
    pub async fn ok(&self, endpoint: &str, body: Value) -> Value {
        let (status, value) = self.post(endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: {value}");
        value
    }

    pub async fn create_experiment(&self, name: &str) -> String {
        let body = self.ok("experiments/create", json!({ "name": name })).await;
        body["experiment_id"].as_str().unwrap().to_owned()
    }

    pub async fn create_run(&self, experiment_id: &str, start_time: i64) -> String {
        let body = self.ok("runs/create", json!({ "experiment_id": experiment_id, "start_time": start_time })).await;
        body["run"]["info"]["run_id"].as_str().unwrap().to_owned()
    }
}

/// Asserts an MLflow error response.
pub fn assert_error(response: &(StatusCode, Value), status: StatusCode, code: &str, fragment: &str) {
    let (actual_status, body) = response;
    assert_eq!(*actual_status, status, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(fragment), "message {message:?} lacks {fragment:?}");
}
