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
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Users of a server running with --auth (admins; `get` and `set-password` for oneself too).
    Users(Managed<UsersCommand>),
    /// Groups of users, which grants can name.
    Groups(Managed<GroupsCommand>),
    /// API tokens, sent as `MLFLOW_TRACKING_TOKEN` or as the Basic password.
    Tokens(Managed<TokensCommand>),
    /// Who holds which permission on an experiment or a registered model.
    Grants(Managed<GrantsCommand>),
}

/// The server a management command talks to. It logs in as the stock client does: with
/// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, or with `MLFLOW_TRACKING_TOKEN`
/// (credentials come from the environment only, so they never show in `ps`).
#[derive(Debug, Clone, Args)]
pub struct ServerAddress {
    /// The server's address, as the client's MLFLOW_TRACKING_URI.
    #[arg(long, global = true, env = "MLFLOW_TRACKING_URI", default_value = "http://127.0.0.1:5000")]
    pub tracking_uri: String,
}

/// A management command and the server it talks to.
#[derive(Debug, Args)]
pub struct Managed<C: Subcommand> {
    #[command(flatten)]
    pub server: ServerAddress,
    #[command(subcommand)]
    pub command: C,
}

/// `ferroflow users ...`. New passwords are read from standard input, never from the command line.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List every user (admins).
    List,
    /// Show a user and their own grants.
    Get { username: String },
    /// Create a user; the password (12 characters or more) is read from standard input.
    Create { username: String },
    /// Set a user's password, read from standard input.
    SetPassword { username: String },
    /// Make a user an admin (`true`) or take it back (`false`).
    SetAdmin {
        username: String,
        #[arg(action = clap::ArgAction::Set)]
        is_admin: bool,
    },
    /// Delete a user, with their grants, tokens and group memberships.
    Delete { username: String },
}

/// `ferroflow groups ...`
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List groups and their members (admins see all, others their own).
    List,
    /// Create a group (admins).
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group and the grants made to it (admins).
    Delete { name: String },
    /// Add a user to a group (admins).
    AddMember { group: String, username: String },
    /// Remove a user from a group (admins).
    RemoveMember { group: String, username: String },
}

/// `ferroflow tokens ...`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// List your tokens (admins: anyone's, with --username).
    List {
        #[arg(long)]
        username: Option<String>,
    },
    /// Create a token and print it: it is shown this once.
    Create {
        /// What the token is for.
        name: String,
        /// Whose token (admins only; yourself by default).
        #[arg(long)]
        username: Option<String>,
        /// Days until it expires (never, by default).
        #[arg(long)]
        expires_in_days: Option<f64>,
    },
    /// Revoke a token by its id (the `id` of `tokens list`).
    Revoke { id: String },
}

/// Whom a grant names.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Principal {
    /// A user.
    #[arg(long)]
    pub user: Option<String>,
    /// A group.
    #[arg(long)]
    pub group: Option<String>,
}

/// `ferroflow grants ...` (needs MANAGE on the resource). RESOURCE_TYPE is `experiment` or
/// `registered_model`; RESOURCE_ID an experiment id, a model name, or `*` for all of them.
#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// Who holds what on the resource, `*` grants included.
    List { resource_type: String, resource_id: String },
    /// Grant READ, USE, EDIT, MANAGE or DENY, replacing the principal's grant on the resource.
    Set {
        resource_type: String,
        resource_id: String,
        permission: String,
        #[command(flatten)]
        principal: Principal,
    },
    /// Remove the principal's grant on the resource.
    Delete {
        resource_type: String,
        resource_id: String,
        #[command(flatten)]
        principal: Principal,
    },
}

/// `ferroflow audit ...`: `verify` and `export` read the database directly, `search` asks a server.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain: exits 0 when intact, 1 naming the first bad event.
    /// With FERROFLOW_AUDIT_KEY set, checks the keyed (HMAC) chain the server wrote with that key.
    Verify {
        /// The database, as for `server --backend-store-uri`.
        #[arg(long, env = env_vars::BACKEND_STORE_URI)]
        backend_store_uri: String,
    },
    /// Print events as JSON lines, read from the database, filtered as `audit search` filters them.
    Export {
        /// The database, as for `server --backend-store-uri`.
        #[arg(long, env = env_vars::BACKEND_STORE_URI)]
        backend_store_uri: String,
        /// Output format (only `jsonl`).
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        #[command(flatten)]
        filter: AuditFilter,
    },
    /// Print events as JSON lines, asked of a running server (admins and the `auditor` group).
    Search {
        #[command(flatten)]
        server: ServerAddress,
        #[command(flatten)]
        filter: AuditFilter,
        /// Stop after this many events.
        #[arg(long)]
        max_results: Option<usize>,
    },
}

/// Which audit events to show.
#[derive(Debug, Clone, Args)]
pub struct AuditFilter {
    /// Only events of this user.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this operation (`CreateRun`, `Login`, ...).
    #[arg(long)]
    pub action: Option<String>,
    /// Only events on resources of this type (`experiment`, `registered_model`, `run`, `user`, ...).
    #[arg(long)]
    pub resource_type: Option<String>,
    /// Only events on this resource id or name.
    #[arg(long)]
    pub resource_id: Option<String>,
    /// Only events at or after this time (ms since the epoch).
    #[arg(long)]
    pub since: Option<i64>,
    /// Only events at or before this time (ms since the epoch).
    #[arg(long)]
    pub until: Option<i64>,
    /// `success`, `failure`, or an HTTP status.
    #[arg(long)]
    pub outcome: Option<String>,
}

/// `ferroflow db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Bring a database's schema up to date (what the server does at start unless --no-migrate).
    Upgrade {
        /// The database, as for --backend-store-uri (e.g. postgresql://user:password@host/db).
        url: String,
        #[command(flatten)]
        pool: PoolArgs,
    },
    /// Copy an MLflow server's database into a new ferroflow database, keeping every id.
    ///
    /// Reads a database created by `mlflow server` or `mlflow db upgrade` (MLflow 2.0 to 3.17, on
    /// SQLite, PostgreSQL or MySQL) without writing to it, and fills an empty ferroflow database.
    /// Artifacts are not copied: their locations stay as they were.
    Import {
        /// The MLflow database, as MLflow's --backend-store-uri names it (sqlite:///mlflow.db,
        /// postgresql://user:password@host/db, mysql+pymysql://user:password@host/db), or its file
        /// store (file:./mlruns, or the directory).
        #[arg(long, value_name = "URI")]
        from: String,
        /// The ferroflow database to fill (created or migrated as needed; it must hold no data).
        #[arg(long, value_name = "URI")]
        to: String,
        /// Continue an interrupted import into --to.
        #[arg(long)]
        resume: bool,
        /// Afterwards, compare both sides (rows per table and a checksum over every metric point);
        /// exit with status 1 on any difference.
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        pool: PoolArgs,
    },
}

/// Connection pool settings for PostgreSQL and MySQL.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most PostgreSQL or MySQL connections of this server; half of them serve reads outside
    /// transactions (at least one for those, one for everything else).
    #[arg(long, env = env_vars::DB_POOL_SIZE, default_value_t = 10)]
    pub db_pool_size: u32,

    /// Seconds a request waits for a free database connection before failing.
    #[arg(long, env = env_vars::DB_ACQUIRE_TIMEOUT, default_value_t = 30)]
    pub db_acquire_timeout: u64,

    /// Seconds after which idle database connections are closed (0: never).
    #[arg(long, env = env_vars::DB_IDLE_TIMEOUT, default_value_t = 600)]
    pub db_idle_timeout: u64,

    /// Seconds after which database connections are replaced (0: never); keep it below the database's
    /// or a proxy's own connection lifetime.
    #[arg(long, env = env_vars::DB_MAX_LIFETIME, default_value_t = 1800)]
    pub db_max_lifetime: u64,

    /// Seconds to keep retrying while the database is unreachable at start.
    #[arg(long, env = env_vars::DB_CONNECT_TIMEOUT, default_value_t = 60)]
    pub db_connect_timeout: u64,
}

impl PoolArgs {
    /// As the store takes them.
    pub fn settings(&self) -> ferroflow_store::PoolSettings {
        let optional = |secs: u64| (secs > 0).then(|| std::time::Duration::from_secs(secs));
        ferroflow_store::PoolSettings {
            max_connections: self.db_pool_size.max(1),
            min_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(self.db_acquire_timeout.max(1)),
            idle_timeout: optional(self.db_idle_timeout),
            max_lifetime: optional(self.db_max_lifetime),
            connect_timeout: std::time::Duration::from_secs(self.db_connect_timeout),
        }
    }
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

    /// Database for experiments, runs and the registry: `sqlite:///mlflow.db` (relative path),
    /// `sqlite:////var/lib/ferroflow/mlflow.db` (absolute), `postgresql://user:password@host:5432/db` or
    /// `mysql://user:password@host:3306/db` (SQLAlchemy forms such as `mysql+pymysql://` work too).
    /// The schema is created or upgraded at start.
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

    /// Largest number of SQLite connections used for reads.
    #[arg(long, env = env_vars::DB_READ_CONNECTIONS, default_value_t = 8)]
    pub db_read_connections: u32,

    /// Do not apply database migrations at start; refuse to start if the schema is not up to date
    /// (run `ferroflow db upgrade` instead).
    #[arg(long, env = env_vars::NO_MIGRATE)]
    pub no_migrate: bool,

    /// Require users to log in (HTTP Basic or API tokens), enforce permissions and keep the audit log.
    /// On an empty user table the admin is created from FERROFLOW_ADMIN_USERNAME (default `admin`) and
    /// FERROFLOW_ADMIN_PASSWORD (MLflow's MLFLOW_AUTH_ADMIN_* are read too).
    #[arg(long, env = env_vars::AUTH)]
    pub auth: bool,

    /// What a user may do where no grant applies: READ (as MLflow), NO_PERMISSIONS for closed teams,
    /// or USE, EDIT, MANAGE.
    #[arg(long, env = env_vars::AUTH_DEFAULT_PERMISSION, default_value = "READ", requires = "auth")]
    pub auth_default_permission: String,

    /// Record reads in the audit log too (changes, refusals and logins are always recorded).
    #[arg(long, env = env_vars::AUDIT_READS, requires = "auth")]
    pub audit_reads: bool,

    /// A load balancer or reverse proxy in front of the server (an address or a CIDR block such as
    /// 10.0.0.0/8; repeat it, or separate with commas). For requests from these, the client's
    /// address (in audit events, and for slowing down failed logins) is read from X-Forwarded-For.
    #[arg(long = "trusted-proxy", env = env_vars::TRUSTED_PROXIES, value_delimiter = ',', requires = "auth")]
    pub trusted_proxies: Vec<String>,

    #[command(flatten)]
    pub pool: PoolArgs,
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
