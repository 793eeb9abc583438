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
/// `--no-serve-artifacts`
pub const NO_SERVE_ARTIFACTS: &str = "FERROFLOW_NO_SERVE_ARTIFACTS";
/// `--artifacts-only`
pub const ARTIFACTS_ONLY: &str = "FERROFLOW_ARTIFACTS_ONLY";
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
/// `--no-migrate`
pub const NO_MIGRATE: &str = "FERROFLOW_NO_MIGRATE";
/// `--db-pool-size`
pub const DB_POOL_SIZE: &str = "FERROFLOW_DB_POOL_SIZE";
/// `--db-acquire-timeout`
pub const DB_ACQUIRE_TIMEOUT: &str = "FERROFLOW_DB_ACQUIRE_TIMEOUT";
/// `--db-idle-timeout`
pub const DB_IDLE_TIMEOUT: &str = "FERROFLOW_DB_IDLE_TIMEOUT";
/// `--db-max-lifetime`
pub const DB_MAX_LIFETIME: &str = "FERROFLOW_DB_MAX_LIFETIME";
/// `--db-connect-timeout`
pub const DB_CONNECT_TIMEOUT: &str = "FERROFLOW_DB_CONNECT_TIMEOUT";
/// `--auth`
pub const AUTH: &str = "FERROFLOW_AUTH";
/// `--auth-default-permission`
pub const AUTH_DEFAULT_PERMISSION: &str = "FERROFLOW_AUTH_DEFAULT_PERMISSION";
/// `--audit-reads`
pub const AUDIT_READS: &str = "FERROFLOW_AUDIT_READS";
/// `--trusted-proxy` (comma-separated)
pub const TRUSTED_PROXIES: &str = "FERROFLOW_TRUSTED_PROXIES";
/// Key of the audit chain's HMAC (read from the environment only, so it never shows in `ps`).
pub const AUDIT_KEY: &str = "FERROFLOW_AUDIT_KEY";
/// The admin created on an empty user table.
pub const ADMIN_USERNAME: &str = "FERROFLOW_ADMIN_USERNAME";
/// Its password (environment only).
pub const ADMIN_PASSWORD: &str = "FERROFLOW_ADMIN_PASSWORD";

/// The variables `mlflow server` reads for the same options, accepted as aliases so a deployment can
/// swap the binary without touching its environment. Ours win when both are set.
pub const MLFLOW_ALIASES: &[(&str, &str)] = &[
    (HOST, "MLFLOW_HOST"),
    (PORT, "MLFLOW_PORT"),
    (BACKEND_STORE_URI, "MLFLOW_BACKEND_STORE_URI"),
    (DEFAULT_ARTIFACT_ROOT, "MLFLOW_DEFAULT_ARTIFACT_ROOT"),
    (ARTIFACTS_DESTINATION, "MLFLOW_ARTIFACTS_DESTINATION"),
    (ARTIFACTS_ONLY, "MLFLOW_ARTIFACTS_ONLY"),
    (WORKERS, "MLFLOW_WORKERS"),
    (ALLOWED_HOSTS, "MLFLOW_SERVER_ALLOWED_HOSTS"),
    (CORS_ALLOWED_ORIGINS, "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"),
    (ADMIN_USERNAME, "MLFLOW_AUTH_ADMIN_USERNAME"),
    (ADMIN_PASSWORD, "MLFLOW_AUTH_ADMIN_PASSWORD"),
];

/// Copies each MLflow alias that is set into our variable when ours is unset. Runs first thing in
/// `main`, before any thread exists, so changing the environment is safe.
pub fn apply_mlflow_aliases() {
    for (ours, theirs) in MLFLOW_ALIASES {
        if std::env::var_os(ours).is_none() {
            if let Some(value) = std::env::var_os(theirs) {
                std::env::set_var(ours, value);
            }
        }
    }
}
