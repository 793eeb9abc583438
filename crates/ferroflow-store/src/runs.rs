//! Runs and what they log: tags, params, metrics, inputs and outputs.

use std::collections::HashMap;

use ferroflow_core::model::{
    Dataset, DatasetInput, KeyValue, LifecycleStage, Metric, ModelOutput, Run, RunInfo, RunStatus,
};
use ferroflow_core::validation::{self, KeyKind};
use ferroflow_core::{run_name, tags};
use sqlx::{Any, Executor};

use crate::rows::{self, RunRow, RUN_FIELDS, RUN_SELECT};
use crate::sql::Dialect;
use crate::{now_ms, Error, Result, SqlStore};

/// The fields of runs/create.
#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    /// Experiment to create the run in.
    pub experiment_id: i64,
    /// Author.
    pub user_id: String,
    /// Name; generated when absent (and no `mlflow.runName` tag names it).
    pub run_name: Option<String>,
    /// Start time in ms.
    pub start_time: i64,
    /// Initial tags.
    pub tags: Vec<KeyValue>,
}

/// The fields of runs/update; absent fields are left alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateRun {
    /// New status.
    pub status: Option<RunStatus>,
    /// New end time.
    pub end_time: Option<i64>,
    /// New name.
    pub run_name: Option<String>,
}

/// The contents of runs/log-batch.
#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    /// Metric points.
    pub metrics: Vec<Metric>,
    /// Params.
    pub params: Vec<KeyValue>,
    /// Tags.
    pub tags: Vec<KeyValue>,
}

/// The contents of runs/log-inputs.
#[derive(Debug, Clone, Default)]
pub struct LogInputs {
    /// Datasets with their input tags.
    pub datasets: Vec<DatasetInput>,
    /// Logged models used as inputs.
    pub model_ids: Vec<String>,
}

impl SqlStore {
    /// Creates a run in an active experiment.
    ///
    /// # Errors
    /// `NotFound` for an unknown experiment; `InvalidParameterValue` for a deleted one, bad tags, or a
    /// `run_name` that contradicts the `mlflow.runName` tag.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id = request.experiment_id))]
    pub async fn create_run(&self, request: CreateRun) -> Result<Run> {
        let mut tags = validate_run_tags(request.tags)?;
        let tag_name = tags.iter().find(|t| t.key == tags::RUN_NAME).map(|t| t.value.clone());
        let name = match (request.run_name.filter(|n| !n.is_empty()), tag_name) {
            (Some(given), Some(tagged)) if given != tagged => {
                return Err(Error::InvalidParameterValue(format!(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values \
                     (run_name='{given}', mlflow.runName='{tagged}')."
                )))
            }
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => run_name::generate(),
        };
        if !tags.iter().any(|t| t.key == tags::RUN_NAME) {
            tags.push(KeyValue { key: tags::RUN_NAME.to_owned(), value: name.clone() });
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let mut tx = self.begin_write().await?;
        self.require_active_experiment(&mut *tx, request.experiment_id).await?;
        let mut location = self.sql("SELECT artifact_location FROM experiments WHERE experiment_id = ");
        location.arg(request.experiment_id);
        let experiment_location = rows::text(&location.query().fetch_one(&mut *tx).await?, "artifact_location")?;
        let info = RunInfo {
            artifact_uri: format!("{}/{run_id}/artifacts", experiment_location.trim_end_matches('/')),
            run_id,
            run_name: name,
            experiment_id: request.experiment_id,
            user_id: request.user_id,
            status: RunStatus::Running,
            start_time: request.start_time,
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
        };
        let mut insert = self.sql("INSERT INTO runs (run_id, name, experiment_id, user_id, status, start_time, artifact_uri, lifecycle_stage) VALUES (");
        insert
            .arg(info.run_id.as_str())
            .push(", ")
            .arg(info.run_name.as_str())
            .push(", ")
            .arg(info.experiment_id)
            .push(", ")
            .arg(info.user_id.as_str())
            .push(", ")
            .arg(info.status.as_str())
            .push(", ")
            .arg(info.start_time)
            .push(", ")
            .arg(info.artifact_uri.as_str())
            .push(", 'active')");
        insert.query().execute(&mut *tx).await?;
        self.upsert_run_tags(&mut tx, &info.run_id, info.experiment_id, &tags).await?;
        self.commit(tx).await?;
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Run {
            info,
            metrics: Vec::new(),
            params: Vec::new(),
            tags,
            dataset_inputs: Vec::new(),
            model_inputs: Vec::new(),
            model_outputs: Vec::new(),
        })
    }

    /// Reads a run with its latest metrics, params, tags, inputs and outputs.
    ///
    /// # Errors
    /// `NotFound` for an unknown run.
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        let mut page = self.sql(&format!("{RUN_SELECT} WHERE r.run_id = "));
        page.arg(run_id);
        self.load_runs(&page).await?.pop().ok_or_else(|| run_not_found(run_id))
    }

    pub(crate) async fn run_info(&self, executor: impl Executor<'_, Database = Any>, run_id: &str) -> Result<RunInfo> {
        let mut sql = self.sql(&format!("{RUN_SELECT} WHERE r.run_id = "));
        sql.arg(run_id);
        let rows: Vec<RunRow> = self.fetch_rows(executor, RUN_FIELDS, &sql).await?;
        rows.into_iter().next().map(rows::run_info).ok_or_else(|| run_not_found(run_id))
    }

    async fn require_active_run(&self, executor: impl Executor<'_, Database = Any>, run_id: &str) -> Result<RunInfo> {
        let info = self.run_info(executor, run_id).await?;
        if info.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::InvalidParameterValue(format!(
                "The run {run_id} must be in the 'active' state. Current state is deleted."
            )));
        }
        Ok(info)
    }

    /// Loads the runs that `page` (a SELECT of the run columns, with its own order and limit) returns,
    /// with their tags, params, latest metrics, dataset inputs and model inputs/outputs. On SQLite the
    /// page is materialised once and everything comes back in one statement, each row a JSON array tagged
    /// with its kind; on the server engines the page is read first (which keeps its order without relying
    /// on how a derived table is scanned), then the children of its runs as typed rows.
    pub(crate) async fn load_runs(&self, page: &crate::sql::Sql) -> Result<Vec<Run>> {
        let rows: Vec<rows::RunChild> = match &self.reader {
            // SQLite.
            None => {
                let mut sql = page.wrapped(
                    "WITH page AS MATERIALIZED (",
                    ") SELECT json_array('r', run_id, name, experiment_id, user_id, status, start_time, end_time, \
                     artifact_uri, lifecycle_stage) AS item FROM page",
                );
                Self::push_sqlite_run_children(&mut sql);
                self.fetch_json_rows(&self.read, &sql).await?
            }
            // PostgreSQL and MySQL.
            Some(loader) => {
                let infos = loader.run_infos(page).await?;
                if infos.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = infos.iter().map(|info| info.run_id.clone()).collect();
                let mut rows: Vec<rows::RunChild> = infos.into_iter().map(rows::RunChild::Info).collect();
                rows.extend(loader.run_children(&self.server_run_children(&ids)).await?);
                rows
            }
        };
        let mut runs: Vec<Run> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut children = Vec::with_capacity(rows.len());
        for row in rows {
            match row {
                rows::RunChild::Info(info) => {
                    index.insert(info.run_id.clone(), runs.len());
                    runs.push(Run {
                        info,
                        metrics: Vec::new(),
                        params: Vec::new(),
                        tags: Vec::new(),
                        dataset_inputs: Vec::new(),
                        model_inputs: Vec::new(),
                        model_outputs: Vec::new(),
                    });
                }
                child => children.push(child),
            }
        }
        for child in children {
            let Some(&i) = index.get(child.run_id()) else { continue };
            let run = &mut runs[i];
            match child {
                rows::RunChild::Info(_) => {}
                rows::RunChild::Tag { key, value, .. } => run.tags.push(KeyValue { key, value }),
                rows::RunChild::Param { key, value, .. } => run.params.push(KeyValue { key, value }),
                rows::RunChild::Metric { metric, .. } => run.metrics.push(metric),
                rows::RunChild::Dataset { dataset, tags, .. } => run
                    .dataset_inputs
                    .push(DatasetInput { tags: tags.into_iter().map(rows::key_value).collect(), dataset }),
                rows::RunChild::ModelInput { model_id, .. } => run.model_inputs.push(model_id),
                rows::RunChild::ModelOutput { model_id, step, .. } => {
                    run.model_outputs.push(ModelOutput { model_id, step })
                }
            }
        }
        for run in &mut runs {
            sort_children(run);
        }
        Ok(runs)
    }

    /// Appends the SQLite `UNION ALL` branches yielding the children of the runs in the materialised
    /// `page`, each row a JSON array (see [`rows::RunChild`]).
    fn push_sqlite_run_children(sql: &mut crate::sql::Sql) {
        let branches = [
            ("json_array('t', run_id, key, value)", "run_tags", "run_id"),
            ("json_array('p', run_id, key, value)", "params", "run_id"),
            (
                "json_array('m', run_id, key, printf('%!.17g', value), is_nan, timestamp, step, dataset_name, \
                 dataset_digest, model_id)",
                "latest_metrics",
                "run_id",
            ),
            (
                "json_array('d', i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, \
                 (SELECT json_group_array(json_array(t.key, t.value)) FROM run_input_tags t \
                 WHERE t.run_id = i.run_id AND t.dataset_id = i.dataset_id))",
                "run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id",
                "i.run_id",
            ),
            ("json_array('i', run_id, model_id)", "run_model_inputs", "run_id"),
            ("json_array('o', run_id, model_id, step)", "run_model_outputs", "run_id"),
        ];
        for (item, from, run_id) in branches {
            sql.push(&format!(
                " UNION ALL SELECT {item} AS item FROM {from} WHERE {run_id} IN (SELECT run_id FROM page)"
            ));
        }
    }

    /// The children of the runs `ids` on PostgreSQL and MySQL: one row per child in the column layout
    /// that `native::run_child` reads, each table filling the columns it has and NULL elsewhere. Typed
    /// columns spare the database building a JSON value per row (on MariaDB that was most of the cost);
    /// a dataset input, with its nested tags, still travels as one JSON array in `dataset`.
    fn server_run_children(&self, ids: &[String]) -> crate::sql::Sql {
        let postgres = self.dialect == Dialect::Postgres;
        // PostgreSQL resolves the type of a column of NULLs in the first two branches before it sees
        // the others, so those NULLs are typed; MySQL takes each column's type from all branches.
        let (text, double, int) =
            if postgres { ("NULL::text", "NULL::float8", "NULL::bigint") } else { ("NULL", "NULL", "NULL") };
        let kind = |k: &str| if postgres { format!("'{k}'::text") } else { format!("'{k}'") };
        let dataset = if postgres {
            "CAST(json_build_array('d'::text, i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, \
             (SELECT COALESCE(json_agg(json_build_array(t.key, t.value)), '[]'::json) FROM run_input_tags t \
             WHERE t.run_id = i.run_id AND t.dataset_id = i.dataset_id)) AS TEXT)"
        } else {
            "CAST(JSON_ARRAY('d', i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, \
             (SELECT COALESCE(JSON_ARRAYAGG(JSON_ARRAY(t.key, t.value)), JSON_ARRAY()) FROM run_input_tags t \
             WHERE t.run_id = i.run_id AND t.dataset_id = i.dataset_id)) AS CHAR)"
        };
        // kind, run_id, key, value, number, is_nan, timestamp, step, dataset_name, dataset_digest, model_id, dataset
        let branches = [
            (
                format!(
                    "{} AS kind, run_id, key, value, {double} AS number, {int} AS is_nan, {int} AS timestamp, \
                     {int} AS step, {text} AS dataset_name, {text} AS dataset_digest, {text} AS model_id, \
                     {text} AS dataset",
                    kind("t")
                ),
                "run_tags",
                "run_id",
            ),
            (format!("{}, run_id, key, value, {double}, {int}, {int}, {int}, {text}, {text}, {text}, {text}", kind("p")), "params", "run_id"),
            (
                format!(
                    "{}, run_id, key, {text}, value, is_nan, timestamp, step, dataset_name, dataset_digest, model_id, {text}",
                    kind("m")
                ),
                "latest_metrics",
                "run_id",
            ),
            (
                format!("{}, i.run_id, {text}, {text}, {double}, {int}, {int}, {int}, {text}, {text}, {text}, {dataset}", kind("d")),
                "run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id",
                "i.run_id",
            ),
            (
                format!("{}, run_id, {text}, {text}, {double}, {int}, {int}, {int}, {text}, {text}, model_id, {text}", kind("i")),
                "run_model_inputs",
                "run_id",
            ),
            (
                format!("{}, run_id, {text}, {text}, {double}, {int}, {int}, step, {text}, {text}, model_id, {text}", kind("o")),
                "run_model_outputs",
                "run_id",
            ),
        ];
        let mut sql = self.sql("");
        for (i, (columns, from, run_id)) in branches.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!("SELECT {columns} FROM "));
            if postgres {
                sql.push(&format!("{from} WHERE ")).in_list(run_id, ids);
            } else {
                // A join from the ids lets MariaDB look each one up in the child table's key.
                sql.mysql_items_table(ids, "page").push(&format!(" JOIN ({from}) ON {run_id} = page.v"));
            }
        }
        sql
    }

    /// Changes a run's status, end time or name.
    ///
    /// # Errors
    /// `NotFound` for an unknown run, `InvalidParameterValue` for a deleted one.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn update_run(&self, run_id: &str, update: UpdateRun) -> Result<RunInfo> {
        let mut tx = self.begin_write().await?;
        let mut info = self.require_active_run(&mut *tx, run_id).await?;
        if let Some(status) = update.status {
            info.status = status;
        }
        if let Some(end_time) = update.end_time {
            info.end_time = Some(end_time);
        }
        let rename = update.run_name.filter(|n| !n.is_empty());
        if let Some(name) = &rename {
            info.run_name = name.clone();
        }
        let mut sql = self.sql("UPDATE runs SET status = ");
        sql.arg(info.status.as_str())
            .push(", end_time = ")
            .arg(info.end_time)
            .push(", name = ")
            .arg(info.run_name.as_str())
            .push(" WHERE run_id = ")
            .arg(run_id);
        sql.query().execute(&mut *tx).await?;
        if let Some(name) = rename {
            let tag = KeyValue { key: tags::RUN_NAME.to_owned(), value: name };
            self.upsert_run_tags(&mut tx, run_id, info.experiment_id, std::slice::from_ref(&tag)).await?;
        }
        self.commit(tx).await?;
        Ok(info)
    }

    /// Soft-deletes a run.
    ///
    /// # Errors
    /// `NotFound` for an unknown run.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, LifecycleStage::Deleted).await
    }

    /// Restores a soft-deleted run.
    ///
    /// # Errors
    /// `NotFound` for an unknown run.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, LifecycleStage::Active).await
    }

    async fn set_run_stage(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let deleted_time = (stage == LifecycleStage::Deleted).then(now_ms);
        let mut sql = self.sql("UPDATE runs SET lifecycle_stage = ");
        sql.arg(stage.as_str()).push(", deleted_time = ").arg(deleted_time).push(" WHERE run_id = ").arg(run_id);
        if self.execute_write(&sql).await? == 0 {
            return Err(run_not_found(run_id));
        }
        Ok(())
    }

    /// Removes a tag from an active run.
    ///
    /// # Errors
    /// `NotFound` when the run or the tag does not exist.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.require_active_run(&mut *tx, run_id).await?;
        let mut sql = self.sql("DELETE FROM run_tags WHERE run_id = ");
        sql.arg(run_id).push(" AND key = ").arg(key);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(Error::NotFound(format!("No tag with name: {key} in run with id {run_id}")));
        }
        self.commit(tx).await?;
        Ok(())
    }

    pub(crate) async fn upsert_run_tags(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        run_id: &str,
        experiment_id: i64,
        tags: &[KeyValue],
    ) -> Result<()> {
        let rows: Vec<(&str, i64, &KeyValue)> = tags.iter().map(|tag| (run_id, experiment_id, tag)).collect();
        self.upsert_tag_rows(tx, &rows).await
    }

    /// Upserts `(run_id, experiment_id, tag)` rows, a bounded number per statement. Each (run, key)
    /// must appear once.
    pub(crate) async fn upsert_tag_rows(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        rows: &[(&str, i64, &KeyValue)],
    ) -> Result<()> {
        for chunk in rows.chunks(crate::batch::ROWS_PER_STATEMENT) {
            let mut sql = self.sql("INSERT INTO run_tags (run_id, experiment_id, key, value) VALUES ");
            for (i, (run_id, experiment_id, tag)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.arg(*run_id).push(", ").arg(*experiment_id).push(", ").arg(tag.key.as_str());
                sql.push(", ").arg(tag.value.as_str()).push(")");
            }
            sql.on_conflict_update("(run_id, key)", &["value"]);
            sql.query().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Records datasets and models a run used.
    ///
    /// # Errors
    /// `NotFound`, `InvalidParameterValue` for fields over their limits or a deleted run.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn log_inputs(&self, run_id: &str, inputs: LogInputs) -> Result<()> {
        for input in &inputs.datasets {
            validate_dataset_input(input)?;
        }
        let mut tx = self.begin_write().await?;
        let info = self.require_active_run(&mut *tx, run_id).await?;
        for input in &inputs.datasets {
            let dataset_id = self.dataset_id(&mut tx, info.experiment_id, &input.dataset).await?;
            let mut link = self.sql("INSERT INTO run_dataset_inputs (run_id, dataset_id) VALUES (");
            link.arg(run_id).push(", ").arg(dataset_id.as_str()).push(")").on_conflict_ignore("");
            link.query().execute(&mut *tx).await?;
            for tag in &input.tags {
                let mut sql = self.sql("INSERT INTO run_input_tags (run_id, dataset_id, key, value) VALUES (");
                sql.arg(run_id).push(", ").arg(dataset_id.as_str()).push(", ").arg(tag.key.as_str());
                sql.push(", ").arg(tag.value.as_str());
                sql.push(")").on_conflict_update("(run_id, dataset_id, key)", &["value"]);
                sql.query().execute(&mut *tx).await?;
            }
        }
        for model_id in &inputs.model_ids {
            let mut sql = self.sql("INSERT INTO run_model_inputs (run_id, model_id) VALUES (");
            sql.arg(run_id).push(", ").arg(model_id.as_str()).push(")").on_conflict_ignore("");
            sql.query().execute(&mut *tx).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Finds the dataset with this (experiment, name, digest), creating it on first use.
    async fn dataset_id(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        experiment_id: i64,
        dataset: &Dataset,
    ) -> Result<String> {
        let mut find = self.sql("SELECT dataset_id FROM datasets WHERE experiment_id = ");
        find.arg(experiment_id).push(" AND name = ").arg(dataset.name.as_str());
        find.push(" AND digest = ").arg(dataset.digest.as_str());
        if let Some(row) = find.query().fetch_optional(&mut **tx).await? {
            return rows::text(&row, "dataset_id");
        }
        let dataset_id = uuid::Uuid::new_v4().simple().to_string();
        let mut insert = self.sql("INSERT INTO datasets (dataset_id, experiment_id, name, digest, source_type, source, schema, profile) VALUES (");
        insert
            .arg(dataset_id.as_str())
            .push(", ")
            .arg(experiment_id)
            .push(", ")
            .arg(dataset.name.as_str())
            .push(", ")
            .arg(dataset.digest.as_str())
            .push(", ")
            .arg(dataset.source_type.as_str())
            .push(", ")
            .arg(dataset.source.as_str())
            .push(", ")
            .arg(dataset.schema.clone())
            .push(", ")
            .arg(dataset.profile.clone())
            .push(")");
        insert.query().execute(&mut **tx).await?;
        Ok(dataset_id)
    }

    /// Records logged models a run wrote (MLflow 3 `runs/outputs`).
    ///
    /// # Errors
    /// `NotFound`, `InvalidParameterValue` for a deleted run.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id))]
    pub async fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.require_active_run(&mut *tx, run_id).await?;
        for output in outputs {
            let mut sql = self.sql("INSERT INTO run_model_outputs (run_id, model_id, step) VALUES (");
            sql.arg(run_id).push(", ").arg(output.model_id.as_str()).push(", ").arg(output.step);
            sql.push(")").on_conflict_update("(run_id, model_id)", &["step"]);
            sql.query().execute(&mut *tx).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }
}

/// Children come back in table order; responses list them by key (MLflow's order).
fn sort_children(run: &mut Run) {
    run.tags.sort_by(|a, b| a.key.cmp(&b.key));
    run.params.sort_by(|a, b| a.key.cmp(&b.key));
    run.metrics.sort_by(|a, b| a.key.cmp(&b.key));
    for input in &mut run.dataset_inputs {
        input.tags.sort_by(|a, b| a.key.cmp(&b.key));
    }
    run.dataset_inputs.sort_by(|a, b| (&a.dataset.name, &a.dataset.digest).cmp(&(&b.dataset.name, &b.dataset.digest)));
    run.model_inputs.sort();
    run.model_outputs.sort_by(|a, b| (a.step, &a.model_id).cmp(&(b.step, &b.model_id)));
}

pub(crate) fn run_not_found(run_id: &str) -> Error {
    Error::NotFound(format!("Run with id={run_id} not found"))
}

pub(crate) fn validate_run_tags(tags: Vec<KeyValue>) -> Result<Vec<KeyValue>> {
    let mut kept: Vec<KeyValue> = Vec::with_capacity(tags.len());
    let mut position: HashMap<String, usize> = HashMap::with_capacity(tags.len());
    for tag in tags {
        validation::validate_key(KeyKind::Tag, &tag.key)?;
        let value = validation::truncate(&tag.value, validation::MAX_RUN_TAG_VALUE_LENGTH).to_owned();
        // A key given twice keeps its last value, as two set-tag calls would.
        match position.get(&tag.key) {
            Some(&i) => kept[i].value = value,
            None => {
                position.insert(tag.key.clone(), kept.len());
                kept.push(KeyValue { key: tag.key, value });
            }
        }
    }
    Ok(kept)
}

fn validate_dataset_input(input: &DatasetInput) -> Result<()> {
    let d = &input.dataset;
    for (field, value) in
        [("name", &d.name), ("digest", &d.digest), ("source_type", &d.source_type), ("source", &d.source)]
    {
        if value.is_empty() {
            return Err(validation::missing(&format!("dataset.{field}")).into());
        }
    }
    validation::validate_length("dataset.name", &d.name, validation::MAX_DATASET_NAME_LENGTH)?;
    validation::validate_length("dataset.digest", &d.digest, validation::MAX_DATASET_DIGEST_LENGTH)?;
    validation::validate_length("dataset.source", &d.source, validation::MAX_DATASET_SOURCE_LENGTH)?;
    if let Some(schema) = &d.schema {
        validation::validate_length("dataset.schema", schema, validation::MAX_DATASET_SCHEMA_LENGTH)?;
    }
    if let Some(profile) = &d.profile {
        validation::validate_length("dataset.profile", profile, validation::MAX_DATASET_PROFILE_LENGTH)?;
    }
    for tag in &input.tags {
        if tag.key.is_empty() {
            return Err(validation::missing("input_tag.key").into());
        }
        validation::validate_length("input_tag.key", &tag.key, validation::MAX_INPUT_TAG_KEY_LENGTH)?;
        validation::validate_length("input_tag.value", &tag.value, validation::MAX_INPUT_TAG_VALUE_LENGTH)?;
    }
    Ok(())
}
