//! Native PostgreSQL and MySQL pools for the reads that return many rows.
//!
//! sqlx's `Any` driver turns every row it receives into a row of its own before handing it out: each
//! value copied into a new allocation, the row's column list rebuilt. For a page of runs (a row per
//! tag, param and metric, about 1,400 rows for 100 runs) that conversion cost more server CPU than
//! everything else in the request. Runs are therefore loaded through a native pool on the server
//! engines, decoding values straight from the received buffer.

use std::time::Duration;

use ferroflow_core::model::{Metric, RunInfo};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{ColumnIndex, Connection as _, Decode, Executor as _, Row, Type};

use crate::rows::{self, Float, RunChild, RunRow};
use crate::sql::Sql;
use crate::{Error, PoolSettings, Result};

/// A pooled connection that sat unused for this long is pinged before it is handed out. One used more
/// recently is taken as it is: a failure on it counts as a lost connection, which requests retry.
pub(crate) const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// A pool on one of the server engines, with its own driver.
#[derive(Clone)]
pub(crate) enum NativePool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// The session settings of every MySQL connection: an explicit id 0 (the Default experiment) must not
/// mean "next id", and reads see what other transactions committed, as on PostgreSQL.
pub(crate) const MYSQL_SESSION: &str = "SET SESSION sql_mode = CONCAT_WS(',', @@SESSION.sql_mode, \
     'NO_AUTO_VALUE_ON_ZERO'); SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

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
                Box::pin(async move { Ok(meta.idle_for < PING_WHEN_IDLE_FOR || conn.ping().await.is_ok()) })
            })
    };
}

impl NativePool {
    /// A pool that connects on first use (the database was reached already, through the main pool).
    pub(crate) fn postgres(url: &str, settings: &PoolSettings) -> Result<Self> {
        Ok(Self::Postgres(pool_options!(PgPoolOptions::new(), settings).connect_lazy(url)?))
    }

    /// As [`NativePool::postgres`], with the session settings of [`MYSQL_SESSION`].
    pub(crate) fn mysql(url: &str, settings: &PoolSettings) -> Result<Self> {
        let options = pool_options!(MySqlPoolOptions::new(), settings).after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(MYSQL_SESSION).await?;
                Ok(())
            })
        });
        Ok(Self::MySql(options.connect_lazy(url)?))
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::MySql(pool) => pool.close().await,
        }
    }

    /// Runs `page` (a SELECT of the run columns) and returns its runs, in order.
    pub(crate) async fn run_infos(&self, page: &Sql) -> Result<Vec<RunInfo>> {
        match self {
            Self::Postgres(pool) => page.query_for().fetch_all(pool).await?.iter().map(run_info).collect(),
            Self::MySql(pool) => page.query_for().fetch_all(pool).await?.iter().map(run_info).collect(),
        }
    }

    /// Runs `children` (see `SqlStore::server_run_children`) and decodes its rows.
    pub(crate) async fn run_children(&self, children: &Sql) -> Result<Vec<RunChild>> {
        match self {
            Self::Postgres(pool) => children.query_for().fetch_all(pool).await?.iter().map(run_child).collect(),
            Self::MySql(pool) => children.query_for().fetch_all(pool).await?.iter().map(run_child).collect(),
        }
    }
}

/// Reads column `index` of a native row. Without sqlx's type check: MySQL reports the text columns,
/// which use a binary collation, as VARBINARY, which the check refuses for a Rust string. The column
/// types are those of this crate's own tables and statements.
fn get<'r, R, T>(row: &'r R, index: usize) -> Result<T>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(row.try_get_unchecked(index)?)
}

fn required<T>(value: Option<T>, column: &str) -> Result<T> {
    value.ok_or_else(|| Error::Database(sqlx::Error::Decode(format!("column {column} is NULL").into())))
}

/// A row of [`crate::rows::RUN_SELECT`]'s columns.
fn run_info<R>(row: &R) -> Result<RunInfo>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
{
    let info: RunRow = (
        get(row, 0)?,
        get(row, 1)?,
        get(row, 2)?,
        get(row, 3)?,
        get(row, 4)?,
        get(row, 5)?,
        get(row, 6)?,
        get(row, 7)?,
        get(row, 8)?,
    );
    Ok(rows::run_info(info))
}

/// A row of `SqlStore::server_run_children`: kind, run_id, key, value, number, is_nan, timestamp,
/// step, dataset_name, dataset_digest, model_id, dataset.
fn run_child<R>(row: &R) -> Result<RunChild>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: &str = get(row, 0)?;
    let run_id: String = required(get(row, 1)?, "run_id")?;
    let text = |index: usize, column: &str| -> Result<String> { required(get(row, index)?, column) };
    let int = |index: usize, column: &str| -> Result<i64> { required(get(row, index)?, column) };
    Ok(match kind {
        "t" => RunChild::Tag { run_id, key: text(2, "key")?, value: text(3, "value")? },
        "p" => RunChild::Param { run_id, key: text(2, "key")?, value: text(3, "value")? },
        "m" => {
            let value: f64 = required(get(row, 4)?, "number")?;
            let metric = Metric {
                key: text(2, "key")?,
                value: rows::metric_value(Float(value), int(5, "is_nan")?),
                timestamp: int(6, "timestamp")?,
                step: int(7, "step")?,
                dataset_name: get(row, 8)?,
                dataset_digest: get(row, 9)?,
                model_id: get(row, 10)?,
                run_id: None,
            };
            RunChild::Metric { run_id, metric }
        }
        "d" => rows::decode_json(&text(11, "dataset")?)?,
        "i" => RunChild::ModelInput { run_id, model_id: text(10, "model_id")? },
        "o" => RunChild::ModelOutput { run_id, model_id: text(10, "model_id")?, step: int(7, "step")? },
        other => {
            return Err(Error::Database(sqlx::Error::Decode(format!("unknown run-child kind '{other}'").into())));
        }
    })
}
