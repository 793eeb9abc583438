//! The tracking store: experiments, runs and everything runs log, kept in a SQL database through
//! `sqlx`'s `Any` driver.
//!
//! [`SqlStore`] writes every query once against [`sql::Sql`], which spells placeholders and the few
//! engine-specific statements per [`sql::Dialect`]. SQLite is the embedded default; it gets a
//! single-connection writer pool (SQLite allows one writer at a time, and queueing writers in the pool
//! is cheaper than retrying `SQLITE_BUSY`) beside a reader pool, with the database in WAL mode so reads
//! never wait for writes.
//!
//! Two things carry the speed: metric/param/tag writes are coalesced into shared transactions by one
//! writer task (`batch`), and many-row reads come back as one aggregated JSON value (`rows`).

/// The pool options a [`PoolSettings`] gives, for the `Any` pool and the native ones alike. sqlx's own
/// test pings every connection on every checkout, a round trip before each query; here only a
/// connection that sat unused for [`PING_WHEN_IDLE_FOR`] is pinged. One used more recently is taken as
/// it is: a failure on it counts as a lost connection, which requests retry.
macro_rules! pool_options {
    ($options:expr, $settings:expr) => {
        $options
            .max_connections($settings.max_connections.max(1))
            .min_connections($settings.min_connections.min($settings.max_connections))
            .acquire_timeout($settings.acquire_timeout)
            .idle_timeout($settings.idle_timeout)
            .max_lifetime($settings.max_lifetime)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    Ok(meta.idle_for < $crate::PING_WHEN_IDLE_FOR || sqlx::Connection::ping(conn).await.is_ok())
                })
            })
    };
}

mod audit;
mod auth;
mod batch;
mod context;
mod error;
mod experiments;
pub mod import;
mod location;
mod logged_models;
mod metrics;
mod native;
mod registry;
mod roles;
mod rows;
mod runs;
mod search;
pub mod sql;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migrate as _, Migrator};
use sqlx::{AnyPool, Connection as _, Executor as _};

pub use audit::{AuditSearch, AuditVerdict};
pub use auth::{Grant, GrantMode, Group, PrincipalKind, ResourceType, TokenRecord, User, UserCredentials};
pub use context::RequestContext;
pub use error::{Error, Result};
pub use location::{redact, BackendUri};
pub use logged_models::{CreateLoggedModel, DatasetScope, LoggedModelSearch};
pub use metrics::{BulkIntervalQuery, HistoryQuery};
use native::NativePool;
pub use registry::{CreateModelVersion, RegistrySearch};
pub use roles::Membership;
pub use runs::{CreateRun, LogBatch, LogInputs, UpdateRun};
pub use search::{ExperimentSearch, RunSearch};
use sql::Dialect;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("migrations/mysql");

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Which database.
    pub backend: BackendUri,
    /// Root under which new experiments get their artifact location (`<root>/<experiment_id>`).
    pub default_artifact_root: String,
    /// Largest number of reading connections (SQLite, beside its single writer).
    pub max_read_connections: u32,
    /// Connection pool of PostgreSQL and MySQL.
    pub pool: PoolSettings,
    /// Apply pending migrations at start; otherwise refuse to start on an outdated schema.
    pub migrate: bool,
}

/// Connection pool settings for PostgreSQL and MySQL.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most open connections.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this long.
    pub idle_timeout: Option<Duration>,
    /// Connections are replaced after this long (below the server's or a proxy's own limit).
    pub max_lifetime: Option<Duration>,
    /// How long to keep trying to reach the database at start.
    pub connect_timeout: Duration,
}

/// A pooled connection that sat unused for this long is pinged before it is handed out (see
/// [`pool_options`]).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

impl PoolSettings {
    /// Splits the connection budget between the main pool (writes, and reads inside them) and the
    /// native pool for reads: half each, at least one each.
    fn split(&self) -> (Self, Self) {
        let reader = (self.max_connections / 2).max(1);
        let main = self.max_connections.saturating_sub(reader).max(1);
        let idle = |max: u32| self.min_connections.min(max);
        (
            Self { max_connections: main, min_connections: idle(main), ..self.clone() },
            Self { max_connections: reader, min_connections: idle(reader), ..self.clone() },
        )
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            connect_timeout: Duration::from_secs(60),
        }
    }
}

/// The SQL tracking store.
#[derive(Clone)]
pub struct SqlStore {
    dialect: Dialect,
    read: AnyPool,
    write: AnyPool,
    /// PostgreSQL and MySQL: the native pool for reads outside transactions (see `native`).
    reader: Option<NativePool>,
    artifact_root: String,
    /// Queue of the write-coalescing task; `None` inside that task itself.
    batch_writer: Option<batch::BatchWriter>,
    /// Key of the audit chain's HMAC (see [`SqlStore::set_audit_key`]), shared by every handle.
    audit_key: std::sync::Arc<std::sync::OnceLock<Vec<u8>>>,
    /// SQLite: the head of the audit chain as this process last extended it (see `audit`).
    sqlite_head: std::sync::Arc<std::sync::Mutex<Option<(i64, String)>>>,
}

impl SqlStore {
    /// Opens the database (creating a SQLite file if needed), brings its schema up to date (or checks
    /// it is, without `migrate`) and makes sure the Default experiment exists. PostgreSQL and MySQL are
    /// retried until `pool.connect_timeout` while they are unreachable.
    ///
    /// # Errors
    /// `Database` when the database cannot be reached, `Migrate` when the schema cannot be brought up
    /// to date, `InvalidState` when it is outdated and `migrate` is off.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        sqlx::any::install_default_drivers();
        // On the server engines the connection budget is shared between the main pool and the native
        // pool for reads (see `native`), each with at least one connection.
        let (main_settings, reader_settings) = config.pool.split();
        let (dialect, write) = writer_pool(&config.backend, &main_settings).await?;
        prepare_schema(migrator(dialect), &write, config.migrate, &config.backend).await?;
        let (read, reader) = match &config.backend {
            // SQLite's single writer gets readers of its own beside it.
            BackendUri::Sqlite { path } => {
                (sqlite_pool(&sqlite_url(path), config.max_read_connections.max(1)).await?, None)
            }
            BackendUri::Postgres { url } => (write.clone(), Some(NativePool::postgres(url, &reader_settings)?)),
            BackendUri::MySql { url } => (write.clone(), Some(NativePool::mysql(url, &reader_settings)?)),
        };
        let store = Self {
            dialect,
            read,
            write,
            reader,
            artifact_root: config.default_artifact_root.trim_end_matches('/').to_owned(),
            batch_writer: None,
            audit_key: std::sync::Arc::default(),
            sqlite_head: std::sync::Arc::default(),
        };
        // The task's own store has no queue, so the queue closes (and the task ends) with the last handle.
        let store = Self { batch_writer: Some(batch::BatchWriter::spawn(store.clone())), ..store };
        store.ensure_default_experiment().await?;
        tracing::info!(database = %config.backend, "tracking store ready");
        Ok(store)
    }

    /// Applies pending migrations to the database and returns the versions it applied (`ferroflow db
    /// upgrade`). Concurrent callers (replicas starting together) wait for each other: the migrator holds
    /// a database lock while it works.
    ///
    /// # Errors
    /// As [`SqlStore::open`].
    pub async fn upgrade(backend: &BackendUri, pool: &PoolSettings) -> Result<Vec<i64>> {
        sqlx::any::install_default_drivers();
        let (dialect, pool) = writer_pool(backend, pool).await?;
        let migrator = migrator(dialect);
        refuse_mlflow_schema(&pool, backend).await?;
        let before = applied_versions(&pool).await?;
        migrate(migrator, &pool, backend).await?;
        let after = applied_versions(&pool).await?;
        pool.close().await;
        Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
        if let Some(pool) = &self.reader {
            pool.close().await;
        }
    }

    fn sql(&self, text: &str) -> sql::Sql {
        sql::Sql::new(self.dialect, text)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// transaction that reads first and writes later cannot wait for another process's writer (SQLite
    /// answers "database is locked" instead), while one that starts as a writer waits its turn.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres | Dialect::MySql => self.write.begin().await?,
        })
    }
}

/// The pool that writes (and migrates): SQLite's single connection (creating the file's directory), or
/// the PostgreSQL/MySQL pool.
async fn writer_pool(backend: &BackendUri, settings: &PoolSettings) -> Result<(Dialect, AnyPool)> {
    Ok(match backend {
        BackendUri::Sqlite { path } => {
            create_parent_dir(path)?;
            (Dialect::Sqlite, sqlite_pool(&sqlite_url(path), 1).await?)
        }
        BackendUri::Postgres { url } => {
            (Dialect::Postgres, server_pool(url, Dialect::Postgres, settings, backend).await?)
        }
        BackendUri::MySql { url } => (Dialect::MySql, server_pool(url, Dialect::MySql, settings, backend).await?),
    })
}

/// Creates the directory a new SQLite file goes into.
fn create_parent_dir(path: &std::path::Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
    }
    Ok(())
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn migrator(dialect: Dialect) -> &'static Migrator {
    match dialect {
        Dialect::Sqlite => &SQLITE_MIGRATIONS,
        Dialect::Postgres => &POSTGRES_MIGRATIONS,
        Dialect::MySql => &MYSQL_MIGRATIONS,
    }
}

async fn applied_versions(pool: &AnyPool) -> Result<Vec<i64>> {
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table().await?;
    Ok(conn.list_applied_migrations().await?.into_iter().map(|m| m.version).collect())
}

/// Applies `migrator`'s pending migrations under a database lock, so concurrent starters migrate once.
/// sqlx takes a blocking advisory lock on PostgreSQL; on MySQL its `GET_LOCK(name, -1)` does not wait
/// on MariaDB (it returns NULL at once), so there the lock is taken here, with a real timeout, on the
/// connection that migrates.
async fn migrate(migrator: &Migrator, pool: &AnyPool, backend: &BackendUri) -> Result<()> {
    if let BackendUri::Sqlite { .. } = backend {
        // SQLite has no lock to take here: when two servers start together on a new file, one of them
        // fails to create tables the other just created. Trying again finds them recorded as applied.
        let mut attempt = 0;
        loop {
            match migrator.run(pool).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < 10 => {
                    tracing::info!(error = %err, "migration raced another server; checking again");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    if !matches!(backend, BackendUri::MySql { .. }) {
        migrator.run(pool).await?;
        return Ok(());
    }
    let mut conn = pool.acquire().await?;
    let got: Option<i64> =
        sqlx::query_scalar("SELECT GET_LOCK('ferroflow_migrations', 600)").fetch_one(&mut *conn).await?;
    if got != Some(1) {
        return Err(Error::InvalidState(
            "Could not take the migration lock on the MySQL database within 10 minutes".to_owned(),
        ));
    }
    let unlocked = Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: migrator.ignore_missing,
        locking: false,
        no_tx: migrator.no_tx,
    };
    let outcome = unlocked.run(&mut *conn).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK('ferroflow_migrations')").execute(&mut *conn).await;
    Ok(outcome?)
}

/// Refuses a database that `mlflow server` created: its tables share names with ours but not their
/// layout, so migrating it would fail halfway with a confusing error.
async fn refuse_mlflow_schema(pool: &AnyPool, backend: &BackendUri) -> Result<()> {
    let query = match backend {
        BackendUri::Sqlite { .. } => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        }
        BackendUri::Postgres { .. } => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'alembic_version' \
             AND table_schema = current_schema()"
        }
        BackendUri::MySql { .. } => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'alembic_version' \
             AND table_schema = DATABASE()"
        }
    };
    let found: i64 = sqlx::query_scalar(query).fetch_one(pool).await?;
    if found > 0 {
        return Err(Error::InvalidState(format!(
            "The database {} was created by `mlflow server` (it has MLflow's alembic_version table). ferroflow keeps \
             its own schema and cannot use or convert MLflow's yet: point --backend-store-uri at a new, empty \
             database.",
            backend
        )));
    }
    Ok(())
}

/// Runs the pending migrations, or with `migrate` off, checks there are none.
async fn prepare_schema(migrator: &Migrator, pool: &AnyPool, migrate_now: bool, backend: &BackendUri) -> Result<()> {
    refuse_mlflow_schema(pool, backend).await?;
    if migrate_now {
        return migrate(migrator, pool, backend).await;
    }
    let applied = applied_versions(pool).await?;
    let pending: Vec<i64> = migrator.iter().map(|m| m.version).filter(|v| !applied.contains(v)).collect();
    if !pending.is_empty() {
        return Err(Error::InvalidState(format!(
            "The {} schema is not up to date ({} migration(s) pending). Run `ferroflow db upgrade <uri>`, or start \
             the server without --no-migrate.",
            backend.engine(),
            pending.len()
        )));
    }
    Ok(())
}

/// A pool on PostgreSQL or MySQL, retrying while the database is unreachable at start.
async fn server_pool(url: &str, dialect: Dialect, settings: &PoolSettings, backend: &BackendUri) -> Result<AnyPool> {
    // First wait until one connection can be made (a pool would hide the cause behind its own timeout).
    let deadline = tokio::time::Instant::now() + settings.connect_timeout;
    let mut delay = Duration::from_millis(250);
    loop {
        match sqlx::AnyConnection::connect(url).await {
            Ok(conn) => {
                let _ = conn.close().await;
                break;
            }
            Err(err) if tokio::time::Instant::now() + delay < deadline && error::is_transient(&err) => {
                tracing::warn!(database = %backend, error = %err, "database unreachable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(err) => return Err(Error::Database(err)),
        }
    }
    let options = pool_options!(AnyPoolOptions::new(), settings).after_connect(move |conn, _meta| {
        Box::pin(async move {
            if dialect == Dialect::MySql {
                conn.execute(native::MYSQL_SESSION).await?;
            }
            Ok(())
        })
    });
    Ok(options.connect(url).await?)
}

async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool> {
    sqlite_pool_attaching(url, max_connections, None).await
}

/// [`sqlite_pool`], each connection with `attach` (a database file URI) attached as
/// [`import::ATTACHED_SOURCE`].
async fn sqlite_pool_attaching(url: &str, max_connections: u32, attach: Option<String>) -> Result<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A local file connection cannot go stale; the default ping per checkout costs a thread round trip.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let attach = attach.clone();
            Box::pin(async move {
                // WAL lets readers run beside the writer. FULL syncs the WAL at every commit, so an
                // acknowledged write survives a power cut; write coalescing keeps that to one sync per group.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA cache_size = -16000;",
                )
                .await?;
                if let Some(uri) = attach {
                    let statement = format!("ATTACH DATABASE ? AS {}", import::ATTACHED_SOURCE);
                    conn.execute(sqlx::query(&statement).bind(uri)).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}
