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

mod batch;
mod error;
mod experiments;
mod location;
mod logged_models;
mod metrics;
mod registry;
mod rows;
mod runs;
mod search;
pub mod sql;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor as _};

pub use error::{Error, Result};
pub use location::BackendUri;
pub use logged_models::{CreateLoggedModel, DatasetScope, LoggedModelSearch};
pub use metrics::{BulkIntervalQuery, HistoryQuery};
pub use registry::{CreateModelVersion, RegistrySearch};
pub use runs::{CreateRun, LogBatch, LogInputs, UpdateRun};
pub use search::{ExperimentSearch, RunSearch};
use sql::Dialect;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How to open a store.
#[derive(Clone)]
pub struct StoreConfig {
    /// Which database.
    pub backend: BackendUri,
    /// Root under which new experiments get their artifact location (`<root>/<experiment_id>`).
    pub default_artifact_root: String,
    /// Largest number of reading connections.
    pub max_read_connections: u32,
}

/// The SQL tracking store.
#[derive(Clone)]
pub struct SqlStore {
    dialect: Dialect,
    read: AnyPool,
    write: AnyPool,
    artifact_root: String,
    /// Queue of the write-coalescing task; `None` inside that task itself.
    batch_writer: Option<batch::BatchWriter>,
}

impl SqlStore {
    /// Opens (creating if needed) the database, applies pending migrations and makes sure the
    /// Default experiment exists.
    ///
    /// # Errors
    /// `Database` when the database cannot be opened, `Migrate` when the schema cannot be brought up to date.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let BackendUri::Sqlite { path } = &config.backend;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let write = sqlite_pool(&url, 1).await?;
        SQLITE_MIGRATIONS.run(&write).await?;
        let read = sqlite_pool(&url, config.max_read_connections.max(1)).await?;
        let store = Self {
            dialect: Dialect::Sqlite,
            read,
            write,
            artifact_root: config.default_artifact_root.trim_end_matches('/').to_owned(),
            batch_writer: None,
        };
        // The task's own store has no queue, so the queue closes (and the task ends) with the last handle.
        let store = Self { batch_writer: Some(batch::BatchWriter::spawn(store.clone())), ..store };
        store.ensure_default_experiment().await?;
        tracing::info!(database = %path.display(), "tracking store ready");
        Ok(store)
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    fn sql(&self, text: &str) -> sql::Sql {
        sql::Sql::new(self.dialect, text)
    }
}

async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A local file connection cannot go stale; the default ping per checkout costs a thread round trip.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer. FULL syncs the WAL at every commit, so an
                // acknowledged write survives a power cut; write coalescing keeps that to one sync per group.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA cache_size = -16000;",
                )
                .await?;
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
