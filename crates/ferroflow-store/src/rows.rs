//! Turning database rows into domain values.

use ferroflow_core::model::{Experiment, KeyValue, LifecycleStage, Metric, RunInfo, RunStatus};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::Result;

pub(crate) const EXPERIMENT_COLUMNS: &str =
    "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time";

pub(crate) fn experiment(row: &AnyRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.try_get("experiment_id")?,
        name: row.try_get("name")?,
        artifact_location: row.try_get("artifact_location")?,
        lifecycle_stage: LifecycleStage::from_name(&row.try_get::<String, _>("lifecycle_stage")?),
        creation_time: row.try_get("creation_time")?,
        last_update_time: row.try_get("last_update_time")?,
        tags: Vec::new(),
    })
}

pub(crate) const RUN_COLUMNS: &str = "r.run_id, r.name, r.experiment_id, r.user_id, r.status, r.start_time, \
     r.end_time, r.artifact_uri, r.lifecycle_stage";

pub(crate) fn run_info(row: &AnyRow) -> Result<RunInfo> {
    let status: String = row.try_get("status")?;
    Ok(RunInfo {
        run_id: row.try_get("run_id")?,
        run_name: row.try_get("name")?,
        experiment_id: row.try_get("experiment_id")?,
        user_id: row.try_get("user_id")?,
        status: RunStatus::from_name(&status).unwrap_or(RunStatus::Running),
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        artifact_uri: row.try_get("artifact_uri")?,
        lifecycle_stage: LifecycleStage::from_name(&row.try_get::<String, _>("lifecycle_stage")?),
    })
}

pub(crate) fn key_value(row: &AnyRow) -> Result<KeyValue> {
    Ok(KeyValue { key: row.try_get("key")?, value: row.try_get("value")? })
}

pub(crate) const METRIC_COLUMNS: &str = "key, value, is_nan, timestamp, step, dataset_name, dataset_digest, model_id";

pub(crate) fn metric(row: &AnyRow) -> Result<Metric> {
    let is_nan: i64 = row.try_get("is_nan")?;
    Ok(Metric {
        key: row.try_get("key")?,
        value: if is_nan != 0 { f64::NAN } else { row.try_get("value")? },
        timestamp: row.try_get("timestamp")?,
        step: row.try_get("step")?,
        dataset_name: row.try_get("dataset_name")?,
        dataset_digest: row.try_get("dataset_digest")?,
        model_id: row.try_get("model_id")?,
        run_id: None,
    })
}
