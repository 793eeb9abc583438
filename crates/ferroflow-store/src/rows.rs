//! Reading result sets, and turning rows into domain values.
//!
//! sqlx's SQLite driver hands each row from its worker thread to the async side separately, which
//! costs microseconds per row. Queries that return many rows are therefore wrapped so the database
//! aggregates the whole result into one JSON array (each row a `json_array(...)`, joined with
//! `group_concat`), which comes back as a single value and is decoded here with serde into tuples.
//! Doubles travel as `%!.17g` text, which round-trips every finite value exactly (SQLite's JSON
//! rendering keeps only 15 digits).

use ferroflow_core::model::{Dataset, Experiment, KeyValue, LifecycleStage, Metric, RunInfo, RunStatus};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Any, Column as _, Executor, Row as _};

use crate::sql::{Dialect, Sql};
use crate::{Error, Result, SqlStore};

impl SqlStore {
    /// Runs `inner` outside any transaction and decodes its rows as `T` (see [`SqlStore::fetch_rows`]):
    /// through the native pool on the server engines, the read pool on SQLite.
    pub(crate) async fn read_rows<T: DeserializeOwned>(&self, columns: &str, inner: &Sql) -> Result<Vec<T>> {
        match &self.reader {
            Some(native) => native.rows(inner).await,
            None => self.fetch_rows(&self.read, columns, inner).await,
        }
    }

    /// Runs `inner` and decodes its rows as `T`, a tuple of the columns `inner` selects, in order.
    ///
    /// On SQLite the rows come back as one aggregated value, `columns` naming the values of each row
    /// (as expressions over `inner`'s output); elsewhere rows are read one by one and decoded natively.
    pub(crate) async fn fetch_rows<T: DeserializeOwned>(
        &self,
        executor: impl Executor<'_, Database = Any>,
        columns: &str,
        inner: &Sql,
    ) -> Result<Vec<T>> {
        match self.dialect {
            Dialect::Sqlite => {
                let rows = inner.wrapped(&format!("SELECT json_array({columns}) AS item FROM ("), ") AS r");
                self.fetch_json_rows(executor, &rows).await
            }
            Dialect::Postgres | Dialect::MySql => {
                inner.query().fetch_all(executor).await?.iter().map(decode_row).collect()
            }
        }
    }

    /// Runs `inner` on SQLite, whose one column `item` holds a JSON array per row, and decodes the arrays
    /// as `T`.
    pub(crate) async fn fetch_json_rows<T: DeserializeOwned>(
        &self,
        executor: impl Executor<'_, Database = Any>,
        inner: &Sql,
    ) -> Result<Vec<T>> {
        debug_assert_eq!(self.dialect, Dialect::Sqlite, "rows are aggregated as SQLite spells it");
        let wrapped = inner.wrapped(&format!("SELECT {} AS items FROM (", concat_rows("item")), ") AS q");
        let row = wrapped.query().fetch_one(executor).await?;
        decode_json(&text(&row, "items")?)
    }
}

/// A text column that must not be NULL (see [`opt_text`]).
pub(crate) fn text(row: &AnyRow, column: &str) -> Result<String> {
    opt_text(row, column)?
        .ok_or_else(|| Error::Database(sqlx::Error::Decode(format!("column {column} is NULL").into())))
}

/// A text column that may be NULL. MySQL reports text with a binary collation (our schema's) as a blob,
/// so bytes are accepted too.
fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>> {
    match row.try_get::<Option<String>, _>(column) {
        Ok(text) => Ok(text),
        Err(sqlx::Error::ColumnDecode { .. }) => match row.try_get::<Option<Vec<u8>>, _>(column)? {
            Some(bytes) => {
                String::from_utf8(bytes).map(Some).map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))
            }
            None => Ok(None),
        },
        Err(err) => Err(err.into()),
    }
}

pub(crate) fn decode_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))
}

/// Decodes a row by the types its columns report, through JSON, into `T`. Doubles travel as their exact
/// text (`Float`), so infinities and every digit survive.
fn decode_row<T: DeserializeOwned>(row: &AnyRow) -> Result<T> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match column.type_info().kind() {
            AnyTypeInfoKind::Null => Value::Null,
            AnyTypeInfoKind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
            AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::from)
            }
            AnyTypeInfoKind::Real => {
                row.try_get::<Option<f32>, _>(i)?.map_or(Value::Null, |v| Value::String(format!("{:?}", f64::from(v))))
            }
            AnyTypeInfoKind::Double => {
                row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, |v| Value::String(format!("{v:?}")))
            }
            AnyTypeInfoKind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::String),
            AnyTypeInfoKind::Blob => row
                .try_get::<Option<Vec<u8>>, _>(i)?
                .map_or(Value::Null, |bytes| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        };
        values.push(value);
    }
    serde_json::from_value(Value::Array(values)).map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))
}

/// Joins the JSON text of each row into one JSON array. Plain string concatenation: SQLite's JSON
/// aggregate would parse every row again.
fn concat_rows(row: &str) -> String {
    format!("'[' || coalesce(group_concat({row}, ','), '') || ']'")
}

/// A double read by [`SqlStore::fetch_rows`]: exact text (SQLite's `printf('%!.17g')`, or the native
/// decoder's rendering) or a JSON number.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "FloatText")]
pub(crate) struct Float(pub f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum FloatText {
    Text(String),
    Number(f64),
}

impl TryFrom<FloatText> for Float {
    type Error = std::num::ParseFloatError;
    fn try_from(value: FloatText) -> Result<Self, Self::Error> {
        match value {
            FloatText::Text(text) => text.trim().parse::<f64>().map(Float),
            FloatText::Number(number) => Ok(Float(number)),
        }
    }
}

/// Asks for one row more than the page, so [`split_page`] can tell whether another page follows.
pub(crate) fn paginate(sql: &mut Sql, max_results: i64, offset: u64) {
    sql.push(" LIMIT ").arg(max_results.saturating_add(1));
    sql.push(" OFFSET ").arg(i64::try_from(offset).unwrap_or(i64::MAX));
}

/// Cuts the rows [`paginate`] fetched to the page and returns the token of the next page, if any.
pub(crate) fn split_page<T>(mut items: Vec<T>, max_results: i64, offset: u64) -> (Vec<T>, Option<String>) {
    let page_size = usize::try_from(max_results).unwrap_or(usize::MAX);
    if items.len() > page_size {
        items.truncate(page_size);
        (items, Some(ferroflow_core::page_token::encode(offset + page_size as u64)))
    } else {
        (items, None)
    }
}

/// A stored metric value: NaN is kept as 0 with a flag (see the `metrics` table).
pub(crate) fn metric_value(value: Float, is_nan: i64) -> f64 {
    if is_nan != 0 {
        f64::NAN
    } else {
        value.0
    }
}

pub(crate) const EXPERIMENT_SELECT: &str =
    "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time FROM experiments e";
pub(crate) const EXPERIMENT_FIELDS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";
pub(crate) type ExperimentRow = (i64, String, String, String, i64, i64);

pub(crate) fn experiment(row: ExperimentRow) -> Experiment {
    let (experiment_id, name, artifact_location, stage, creation_time, last_update_time) = row;
    Experiment {
        experiment_id,
        name,
        artifact_location,
        lifecycle_stage: LifecycleStage::from_name(&stage),
        creation_time,
        last_update_time,
        tags: Vec::new(),
    }
}

macro_rules! run_columns {
    () => {
        "r.run_id, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, \
         r.lifecycle_stage"
    };
}
/// The columns of a run (of `runs r`), in [`RunRow`]'s order.
pub(crate) const RUN_COLUMNS: &str = run_columns!();
pub(crate) const RUN_SELECT: &str = concat!("SELECT ", run_columns!(), " FROM runs r");
pub(crate) const RUN_FIELDS: &str =
    "run_id, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage";
pub(crate) type RunRow = (String, String, i64, String, String, i64, Option<i64>, String, String);

pub(crate) fn run_info(row: RunRow) -> RunInfo {
    let (run_id, run_name, experiment_id, user_id, status, start_time, end_time, artifact_uri, stage) = row;
    RunInfo {
        run_id,
        run_name,
        experiment_id,
        user_id,
        status: RunStatus::from_name(&status).unwrap_or(RunStatus::Running),
        start_time,
        end_time,
        artifact_uri,
        lifecycle_stage: LifecycleStage::from_name(&stage),
    }
}

pub(crate) type KeyValueRow = (String, String);

pub(crate) fn key_value((key, value): KeyValueRow) -> KeyValue {
    KeyValue { key, value }
}

/// The metric columns of `metrics` and `latest_metrics`, as [`METRIC_FIELDS`] reads them.
pub(crate) const METRIC_COLUMNS: &str =
    "run_id, key, value, is_nan, timestamp, step, dataset_name, dataset_digest, model_id";

/// The JSON fields of a metric row, in [`MetricRow`] order (the `columns` of [`SqlStore::fetch_rows`],
/// which only SQLite reads; doubles as exact text, see [`Float`]).
pub(crate) const METRIC_FIELDS: &str =
    "run_id, key, printf('%!.17g', value), is_nan, timestamp, step, dataset_name, dataset_digest, model_id";

pub(crate) type MetricRow = (String, String, Float, i64, i64, i64, Option<String>, Option<String>, Option<String>);

/// Decodes a metric row; the run id is kept only when asked for (bulk reads name it per point).
pub(crate) fn metric(row: MetricRow, keep_run_id: bool) -> Metric {
    let (run_id, key, value, is_nan, timestamp, step, dataset_name, dataset_digest, model_id) = row;
    Metric {
        key,
        value: metric_value(value, is_nan),
        timestamp,
        step,
        dataset_name,
        dataset_digest,
        model_id,
        run_id: keep_run_id.then_some(run_id),
    }
}

/// A run or one of its children. On SQLite each arrives as a JSON array whose first element says which
/// table it comes from (`r` for the run itself) and whose second is the run id; on the server engines
/// as a typed row (see `native::run_child`).
#[derive(Debug)]
pub(crate) enum RunChild {
    Info(RunInfo),
    Tag { run_id: String, key: String, value: String },
    Param { run_id: String, key: String, value: String },
    Metric { run_id: String, metric: Metric },
    Dataset { run_id: String, dataset: Dataset, tags: Vec<KeyValueRow> },
    ModelInput { run_id: String, model_id: String },
    ModelOutput { run_id: String, model_id: String, step: i64 },
}

impl RunChild {
    pub(crate) fn run_id(&self) -> &str {
        match self {
            Self::Info(info) => &info.run_id,
            Self::Tag { run_id, .. }
            | Self::Param { run_id, .. }
            | Self::Metric { run_id, .. }
            | Self::Dataset { run_id, .. }
            | Self::ModelInput { run_id, .. }
            | Self::ModelOutput { run_id, .. } => run_id,
        }
    }
}

impl<'de> Deserialize<'de> for RunChild {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RunChildVisitor)
    }
}

struct RunChildVisitor;

impl<'de> serde::de::Visitor<'de> for RunChildVisitor {
    type Value = RunChild;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a tagged run-child row")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RunChild, A::Error> {
        use serde::de::Error as _;
        fn next<'de, A: serde::de::SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A) -> Result<T, A::Error> {
            seq.next_element()?.ok_or_else(|| A::Error::custom("run-child row too short"))
        }
        let kind: String = next(&mut seq)?;
        let run_id: String = next(&mut seq)?;
        Ok(match kind.as_str() {
            "r" => {
                let row: RunRow = (
                    run_id,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                    next(&mut seq)?,
                );
                RunChild::Info(run_info(row))
            }
            "t" => RunChild::Tag { run_id, key: next(&mut seq)?, value: next(&mut seq)? },
            "p" => RunChild::Param { run_id, key: next(&mut seq)?, value: next(&mut seq)? },
            "m" => {
                let key: String = next(&mut seq)?;
                let value: Float = next(&mut seq)?;
                let is_nan: i64 = next(&mut seq)?;
                let metric = Metric {
                    key,
                    value: metric_value(value, is_nan),
                    timestamp: next(&mut seq)?,
                    step: next(&mut seq)?,
                    dataset_name: next(&mut seq)?,
                    dataset_digest: next(&mut seq)?,
                    model_id: next(&mut seq)?,
                    run_id: None,
                };
                RunChild::Metric { run_id, metric }
            }
            "d" => {
                let dataset = Dataset {
                    name: next(&mut seq)?,
                    digest: next(&mut seq)?,
                    source_type: next(&mut seq)?,
                    source: next(&mut seq)?,
                    schema: next(&mut seq)?,
                    profile: next(&mut seq)?,
                };
                // The input tags arrive as a nested array, or as its text where SQLite drops the JSON subtype.
                let tags = match next::<A, serde_json::Value>(&mut seq)? {
                    serde_json::Value::String(text) => serde_json::from_str(&text),
                    nested => serde_json::from_value(nested),
                }
                .map_err(A::Error::custom)?;
                RunChild::Dataset { run_id, dataset, tags }
            }
            "i" => RunChild::ModelInput { run_id, model_id: next(&mut seq)? },
            "o" => RunChild::ModelOutput { run_id, model_id: next(&mut seq)?, step: next(&mut seq)? },
            other => return Err(A::Error::custom(format!("unknown run-child kind '{other}'"))),
        })
    }
}
