//! Environment variable names, in one place.

/// `--host`
pub const HOST: &str = "FERROFLOW_HOST";
/// `--port`
pub const PORT: &str = "FERROFLOW_PORT";
/// `--backend-store-uri`
pub const BACKEND_STORE_URI: &str = "FERROFLOW_BACKEND_STORE_URI";
/// `--default-artifact-root`
pub const DEFAULT_ARTIFACT_ROOT: &str = "FERROFLOW_DEFAULT_ARTIFACT_ROOT";
/// `--artifacts-destination`
pub const ARTIFACTS_DESTINATION: &str = "FERROFLOW_ARTIFACTS_DESTINATION";
/// `--workers`
pub const WORKERS: &str = "FERROFLOW_WORKERS";
/// `--allowed-hosts`
pub const ALLOWED_HOSTS: &str = "FERROFLOW_ALLOWED_HOSTS";
/// `--cors-allowed-origins`
pub const CORS_ALLOWED_ORIGINS: &str = "FERROFLOW_CORS_ALLOWED_ORIGINS";
/// `--max-body-bytes`
pub const MAX_BODY_BYTES: &str = "FERROFLOW_MAX_BODY_BYTES";
/// `--db-read-connections`
pub const DB_READ_CONNECTIONS: &str = "FERROFLOW_DB_READ_CONNECTIONS";
