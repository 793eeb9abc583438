//! Command-line definitions (clap only). Every option can also come from an environment variable;
//! precedence is flag, then environment, then default. Option names follow `mlflow server` where they
//! mean the same thing.

use clap::{Args, Parser, Subcommand};

use crate::env_vars;

/// ferroflow: an MLflow-compatible tracking server.
#[derive(Debug, Parser)]
#[command(name = "ferroflow", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the tracking server.
    Server(ServerArgs),
}

/// `ferroflow server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on. Use 0.0.0.0 to accept connections from other machines.
    #[arg(long, env = env_vars::HOST, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, env = env_vars::PORT, default_value_t = 5000)]
    pub port: u16,

    /// Database for experiments and runs, e.g. `sqlite:///mlflow.db` (relative) or
    /// `sqlite:////var/lib/ferroflow/mlflow.db` (absolute). Created and migrated on first start.
    #[arg(long, env = env_vars::BACKEND_STORE_URI, default_value = "sqlite:///mlflow.db")]
    pub backend_store_uri: String,

    /// Artifact root given to new experiments (`<root>/<experiment_id>`). Defaults to `mlflow-artifacts:/`,
    /// which routes client uploads through this server, or to `./mlruns` with --no-serve-artifacts.
    #[arg(long, env = env_vars::DEFAULT_ARTIFACT_ROOT)]
    pub default_artifact_root: Option<String>,

    /// Where proxied artifacts are stored: a local directory (created if missing), `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `wasbs://container@account.blob.core.windows.net/prefix` or `az://container/prefix`.
    /// S3 reads the usual AWS variables; `MLFLOW_S3_ENDPOINT_URL` selects an S3-compatible server.
    #[arg(long, env = env_vars::ARTIFACTS_DESTINATION, default_value = "./mlartifacts")]
    pub artifacts_destination: String,

    /// Serve the artifact proxy (the default).
    #[arg(long, overrides_with = "no_serve_artifacts")]
    pub serve_artifacts: bool,

    /// Do not serve the artifact proxy: its routes answer 503 and clients write to the artifact root
    /// themselves.
    #[arg(long, env = env_vars::NO_SERVE_ARTIFACTS, overrides_with = "serve_artifacts")]
    pub no_serve_artifacts: bool,

    /// Serve only the artifact proxy (no tracking API, no database).
    #[arg(long, env = env_vars::ARTIFACTS_ONLY, conflicts_with = "no_serve_artifacts")]
    pub artifacts_only: bool,

    /// Worker threads serving requests (defaults to the number of CPU cores).
    #[arg(long, env = env_vars::WORKERS)]
    pub workers: Option<usize>,

    /// Comma-separated Host header values to answer (`host`, `host:port`, `*.domain`, `*`). By default
    /// only localhost names, IP addresses and the --host name are answered, which defeats DNS rebinding.
    #[arg(long, env = env_vars::ALLOWED_HOSTS, value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Comma-separated origins allowed to call the API from a browser (`*` for any). None by default.
    #[arg(long, env = env_vars::CORS_ALLOWED_ORIGINS, value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = env_vars::MAX_BODY_BYTES, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest number of database connections used for reads.
    #[arg(long, env = env_vars::DB_READ_CONNECTIONS, default_value_t = 8)]
    pub db_read_connections: u32,
}

impl ServerArgs {
    /// The artifact root new experiments get.
    pub fn default_artifact_root(&self) -> String {
        match &self.default_artifact_root {
            Some(root) => root.clone(),
            None if self.no_serve_artifacts => "./mlruns".to_owned(),
            None => "mlflow-artifacts:/".to_owned(),
        }
    }
}
