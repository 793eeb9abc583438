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
use sqlx::{Any, Executor, Row as _};

use crate::sql::Sql;
use crate::{Error, Result, SqlStore};

impl SqlStore {
    /// Runs `inner` (a SELECT whose output columns `columns` refers to) and decodes its rows as `T`.
    pub(crate) async fn fetch_rows<T: DeserializeOwned>(
        &self,
        executor: impl Executor<'_, Database = Any>,
        columns: &str,
        inner: &Sql,
    ) -> Result<Vec<T>> {
        let rows = inner.wrapped(&format!("SELECT json_array({columns}) AS row FROM ("), ") AS r");
        self.fetch_json_rows(executor, &rows).await
    }

    /// Runs `inner`, whose one column `row` holds a JSON array per row, and decodes the arrays as `T`.
    pub(crate) async fn fetch_json_rows<T: DeserializeOwned>(
        &self,
        executor: impl Executor<'_, Database = Any>,
        inner: &Sql,
    ) -> Result<Vec<T>> {
        let wrapped = inner.wrapped(&format!("SELECT {} AS rows FROM (", concat_rows("row")), ") AS q");
        let row = wrapped.query().fetch_one(executor).await?;
        let text: String = row.try_get("rows")?;
        serde_json::from_str(&text).map_err(|err| Error::Database(sqlx::Error::Decode(Box::new(err))))
    }
}

/// Joins the JSON text of each row into one JSON array. Plain string concatenation: SQLite's JSON
/// aggregate would parse every row again.
fn concat_rows(row: &str) -> String {
    format!("'[' || coalesce(group_concat({row}, ','), '') || ']'")
}

/// A double sent as text by [`SqlStore::fetch_rows`] (`printf('%!.17g', column)`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Float(pub f64);

impl TryFrom<String> for Float {
    type Error = std::num::ParseFloatError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.trim().parse::<f64>().map(Float)
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
fn metric_value(value: Float, is_nan: i64) -> f64 {
    if is_nan != 0 {
        f64::NAN
    } else {
        value.0
    }
}

/// Spells a REAL column for [`SqlStore::fetch_rows`].
pub(crate) fn float_column(column: &str) -> String {
    format!("printf('%!.17g', {column})")
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

pub(crate) const RUN_SELECT: &str = "SELECT r.run_id, r.name, r.experiment_id, r.user_id, r.status, r.start_time, \
     r.end_time, r.artifact_uri, r.lifecycle_stage FROM runs r";
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

/// The metric columns of `metrics` and `latest_metrics`, as [`metric_fields`] reads them.
pub(crate) const METRIC_COLUMNS: &str =
    "run_id, key, value, is_nan, timestamp, step, dataset_name, dataset_digest, model_id";

/// The JSON fields of a metric row, in [`MetricRow`] order.
pub(crate) fn metric_fields() -> String {
    format!("run_id, key, {}, is_nan, timestamp, step, dataset_name, dataset_digest, model_id", float_column("value"))
}

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

/// One row of the run-loading query: a JSON array whose first element says which table it comes
/// from (`r` for the run itself) and whose second is the run id.
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
