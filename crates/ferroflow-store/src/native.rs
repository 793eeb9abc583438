//! Native PostgreSQL and MySQL pools for the reads outside transactions.
//!
//! sqlx's `Any` driver turns every row it receives into a row of its own before handing it out: each
//! value copied into a new allocation, the row's column list rebuilt. For a page of runs (a row per
//! tag, param and metric, about 1,400 rows for 100 runs) that conversion cost more server CPU than
//! everything else in the request. Reads that need no transaction therefore go through a native pool
//! on the server engines, decoding values straight from the received buffer: runs by column index
//! into their types, other rows through JSON into tuples as [`crate::rows`] does for `Any`.

use ferroflow_core::model::{Metric, RunInfo};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Column as _, ColumnIndex, Decode, Executor as _, Row, Type, TypeInfo as _, ValueRef as _};

use crate::rows::{self, Float, RunChild, RunRow};
use crate::sql::Sql;
use crate::{Error, PoolSettings, Result};

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

    /// Runs `sql` and decodes each row into `T`, a tuple of its columns in order.
    pub(crate) async fn rows<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Vec<T>> {
        match self {
            Self::Postgres(pool) => sql.query_for().fetch_all(pool).await?.iter().map(pg_row).collect(),
            Self::MySql(pool) => sql.query_for().fetch_all(pool).await?.iter().map(mysql_row).collect(),
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

/// A PostgreSQL row as `T`, each column read as the type it reports (see [`tuple`]).
fn pg_row<T: DeserializeOwned>(row: &PgRow) -> Result<T> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        values.push(match column.type_info().name() {
            _ if row.try_get_raw(i)?.is_null() => Value::Null,
            "INT2" => Value::from(get::<_, i16>(row, i)?),
            "INT4" => Value::from(get::<_, i32>(row, i)?),
            "INT8" => Value::from(get::<_, i64>(row, i)?),
            "FLOAT4" => exact(f64::from(get::<_, f32>(row, i)?)),
            "FLOAT8" => exact(get::<_, f64>(row, i)?),
            "BOOL" => Value::Bool(get(row, i)?),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Value::String(get(row, i)?),
            other => return Err(unsupported(other)),
        });
    }
    tuple(values)
}

/// A MySQL row as `T`, each column read as the type it reports (see [`tuple`]). Text in a binary
/// collation is reported as binary; it is this crate's own text, decoded as UTF-8.
fn mysql_row<T: DeserializeOwned>(row: &MySqlRow) -> Result<T> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.type_info().name();
        values.push(match name.trim_end_matches(" UNSIGNED") {
            _ if row.try_get_raw(i)?.is_null() => Value::Null,
            "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "BOOLEAN" => Value::from(get::<_, i64>(row, i)?),
            "FLOAT" => exact(f64::from(get::<_, f32>(row, i)?)),
            "DOUBLE" => exact(get::<_, f64>(row, i)?),
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "BINARY" | "VARBINARY"
            | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "JSON" | "ENUM" => Value::String(get(row, i)?),
            _ => return Err(unsupported(name)),
        });
    }
    tuple(values)
}

/// A double as exact text, which [`Float`] reads back without losing a digit or an infinity.
fn exact(value: f64) -> Value {
    Value::String(format!("{value:?}"))
}

fn unsupported(type_name: &str) -> Error {
    Error::Database(sqlx::Error::Decode(format!("unexpected column type {type_name}").into()))
}

/// The values of one row, in column order, as the tuple `T`.
fn tuple<T: DeserializeOwned>(values: Vec<Value>) -> Result<T> {
    serde_json::from_value(Value::Array(values)).map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))
}
