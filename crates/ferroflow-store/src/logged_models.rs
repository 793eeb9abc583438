//! Logged models (MLflow 3): what `log_model` creates, with tags, params and the metrics runs log
//! against them (`metrics.model_id`), and their search.

use std::collections::HashMap;

use ferroflow_core::model::{KeyValue, LifecycleStage, LoggedModel, LoggedModelStatus, Page};
use ferroflow_core::search::{
    LoggedModelClause, LoggedModelNumberAttribute, LoggedModelOrder, LoggedModelOrderKey, LoggedModelStringAttribute,
    NumberOp,
};
use ferroflow_core::{page_token, run_name};

use crate::rows::{self, paginate, MetricRow};
use crate::search::{direction, string_condition};
use crate::sql::Sql;
use crate::{now_ms, Error, Result, SqlStore};

/// The fields of `POST logged-models`.
#[derive(Debug, Clone, Default)]
pub struct CreateLoggedModel {
    /// Owning experiment (must be active).
    pub experiment_id: i64,
    /// Name; generated when absent.
    pub name: Option<String>,
    /// Free-form type.
    pub model_type: Option<String>,
    /// Run that produced the model.
    pub source_run_id: Option<String>,
    /// Initial params.
    pub params: Vec<KeyValue>,
    /// Initial tags.
    pub tags: Vec<KeyValue>,
}

/// A dataset that metric filters and orderings are scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetScope {
    /// Dataset name.
    pub name: String,
    /// Digest, if only one version counts.
    pub digest: Option<String>,
}

/// A validated `logged-models/search` request.
#[derive(Debug, Clone)]
pub struct LoggedModelSearch {
    /// Experiments to search in.
    pub experiment_ids: Vec<i64>,
    /// Clauses, all of which must hold.
    pub filter: Vec<LoggedModelClause>,
    /// Datasets metric clauses are restricted to.
    pub datasets: Vec<DatasetScope>,
    /// Ordering, before the default `creation_timestamp DESC, model_id ASC`.
    pub order_by: Vec<LoggedModelOrder>,
    /// Page size.
    pub max_results: i64,
    /// Rows to skip (from the page token).
    pub offset: u64,
    /// Canonical rendering of the arguments a page token must be reused with.
    pub fingerprint: String,
}

const MODEL_SELECT: &str = "SELECT lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, \
     lm.creation_timestamp_ms, lm.last_updated_timestamp_ms, lm.status, lm.lifecycle_stage, lm.model_type, \
     lm.source_run_id, lm.status_message FROM logged_models lm";
const MODEL_FIELDS: &str = "model_id, experiment_id, name, artifact_location, creation_timestamp_ms, \
     last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message";
type ModelRow = (String, i64, String, String, i64, i64, String, String, Option<String>, Option<String>, Option<String>);

fn model(row: ModelRow) -> LoggedModel {
    let (
        model_id,
        experiment_id,
        name,
        artifact_location,
        created,
        updated,
        status,
        stage,
        model_type,
        source_run_id,
        message,
    ) = row;
    LoggedModel {
        model_id,
        experiment_id,
        name,
        artifact_location,
        creation_timestamp_ms: created,
        last_updated_timestamp_ms: updated,
        status: LoggedModelStatus::from_name(&status).unwrap_or(LoggedModelStatus::Pending),
        lifecycle_stage: LifecycleStage::from_name(&stage),
        model_type,
        source_run_id,
        status_message: message,
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    }
}

/// Characters a logged model's name may not hold (MLflow's rule).
const BAD_NAME_CHARS: [char; 6] = ['/', ':', '.', '%', '"', '\''];

impl SqlStore {
    /// Creates a logged model (status pending) in an active experiment.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad name or a deleted experiment, `NotFound` for an unknown one.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id = request.experiment_id))]
    pub async fn create_logged_model(&self, request: CreateLoggedModel) -> Result<LoggedModel> {
        if let Some(name) = &request.name {
            if name.is_empty() || name.contains(BAD_NAME_CHARS) {
                return Err(Error::InvalidParameterValue(format!(
                    "Invalid model name ('{name}') provided. Model name must be a non-empty string and cannot \
                     contain the following characters: ('/', ':', '.', '%', '\"', \"'\")"
                )));
            }
        }
        let params = dedupe(request.params, "params")?;
        let tags = last_value_wins(request.tags);
        let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        self.require_active_experiment(&mut *tx, request.experiment_id).await?;
        let mut location = self.sql("SELECT artifact_location FROM experiments WHERE experiment_id = ");
        location.arg(request.experiment_id);
        let experiment_location: String =
            rows::text(&location.query().fetch_one(&mut *tx).await?, "artifact_location")?;
        let artifact_location = format!("{}/models/{model_id}/artifacts", experiment_location.trim_end_matches('/'));
        let name = request.name.unwrap_or_else(run_name::generate);
        let mut insert = self.sql(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, \
             last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id) VALUES (",
        );
        insert
            .arg(model_id.as_str())
            .push(", ")
            .arg(request.experiment_id)
            .push(", ")
            .arg(name.as_str())
            .push(", ")
            .arg(artifact_location.as_str())
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(LoggedModelStatus::Pending.as_str())
            .push(", 'active', ")
            .arg(request.model_type.clone())
            .push(", ")
            .arg(request.source_run_id.clone())
            .push(")");
        insert.query().execute(&mut *tx).await?;
        for param in &params {
            self.insert_logged_model_param(&mut tx, &model_id, param).await?;
        }
        for tag in &tags {
            self.upsert_logged_model_tag(&mut tx, &model_id, tag).await?;
        }
        self.commit(tx).await?;
        self.get_logged_model(&model_id, false).await
    }

    /// Reads a logged model with its tags, params and metrics. Deleted ones only with `allow_deleted`.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let mut sql = self.sql(&format!("{MODEL_SELECT} WHERE lm.model_id = "));
        sql.arg(model_id);
        if !allow_deleted {
            sql.push(" AND lm.lifecycle_stage = 'active'");
        }
        self.load_logged_models(&sql).await?.pop().ok_or_else(|| model_not_found(model_id))
    }

    async fn load_logged_models(&self, sql: &Sql) -> Result<Vec<LoggedModel>> {
        let rows: Vec<ModelRow> = self.read_rows(MODEL_FIELDS, sql).await?;
        let mut models: Vec<LoggedModel> = rows.into_iter().map(model).collect();
        if models.is_empty() {
            return Ok(models);
        }
        let ids: Vec<String> = models.iter().map(|m| m.model_id.clone()).collect();
        let index: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        for (table, is_tag) in [("logged_model_tags", true), ("logged_model_params", false)] {
            let mut children = self.sql(&format!("SELECT model_id, key, value FROM {table} WHERE "));
            children.in_list("model_id", &ids).push(" ORDER BY model_id, key");
            let rows: Vec<(String, String, String)> = self.read_rows("model_id, key, value", &children).await?;
            for (id, key, value) in rows {
                if let Some(&i) = index.get(&id) {
                    let target = if is_tag { &mut models[i].tags } else { &mut models[i].params };
                    target.push(KeyValue { key, value });
                }
            }
        }
        let mut metrics = self.sql(
            "SELECT run_id, key, value, is_nan, timestamp, step, NULLIF(dataset_name, '') AS dataset_name, \
             NULLIF(dataset_digest, '') AS dataset_digest, model_id FROM logged_model_metrics WHERE ",
        );
        metrics.in_list("model_id", &ids).push(" ORDER BY model_id, key, step, timestamp");
        let rows: Vec<MetricRow> = self.read_rows(rows::METRIC_FIELDS, &metrics).await?;
        for row in rows {
            let metric = rows::metric(row, true);
            if let Some(&i) = metric.model_id.as_ref().and_then(|id| index.get(id)) {
                models[i].metrics.push(metric);
            }
        }
        Ok(models)
    }

    /// The model's row id and lifecycle, for writes (which deleted models still accept, as in MLflow).
    async fn require_logged_model(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        model_id: &str,
    ) -> Result<()> {
        let mut sql = self.sql("SELECT 1 AS found FROM logged_models WHERE model_id = ");
        sql.arg(model_id);
        sql.query().fetch_optional(executor).await?.map(|_| ()).ok_or_else(|| model_not_found(model_id))
    }

    async fn touch_logged_model(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, model_id: &str) -> Result<()> {
        let mut sql = self.sql("UPDATE logged_models SET last_updated_timestamp_ms = ");
        sql.arg(now_ms()).push(" WHERE model_id = ").arg(model_id);
        sql.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Sets a logged model's status (finalize) and returns it.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn finalize_logged_model(&self, model_id: &str, status: LoggedModelStatus) -> Result<LoggedModel> {
        let mut sql = self.sql("UPDATE logged_models SET status = ");
        sql.arg(status.as_str()).push(", last_updated_timestamp_ms = ").arg(now_ms());
        sql.push(" WHERE model_id = ").arg(model_id);
        if self.execute_write(&sql).await? == 0 {
            return Err(model_not_found(model_id));
        }
        self.get_logged_model(model_id, true).await
    }

    /// Soft-deletes a logged model.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        let mut sql = self.sql("UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ");
        sql.arg(now_ms()).push(" WHERE model_id = ").arg(model_id);
        if self.execute_write(&sql).await? == 0 {
            return Err(model_not_found(model_id));
        }
        Ok(())
    }

    /// Sets tags (a repeated key keeps its last value).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<KeyValue>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.require_logged_model(&mut *tx, model_id).await?;
        for tag in last_value_wins(tags) {
            self.upsert_logged_model_tag(&mut tx, model_id, &tag).await?;
        }
        self.touch_logged_model(&mut tx, model_id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Deletes one tag.
    ///
    /// # Errors
    /// `NotFound` for an unknown model or tag.
    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.require_logged_model(&mut *tx, model_id).await?;
        let mut sql = self.sql("DELETE FROM logged_model_tags WHERE model_id = ");
        sql.arg(model_id).push(" AND key = ").arg(key);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(Error::NotFound(format!("No tag with key '{key}' found for model with ID '{model_id}'.")));
        }
        self.touch_logged_model(&mut tx, model_id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Logs params; a param is written once (the same value again is accepted).
    ///
    /// # Errors
    /// `NotFound`; `InvalidParameterValue` for a changed value or a key given twice.
    pub async fn log_logged_model_params(&self, model_id: &str, params: Vec<KeyValue>) -> Result<()> {
        let params = dedupe(params, "params")?;
        let mut tx = self.begin_write().await?;
        self.require_logged_model(&mut *tx, model_id).await?;
        for param in &params {
            self.insert_logged_model_param(&mut tx, model_id, param).await?;
        }
        self.touch_logged_model(&mut tx, model_id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn insert_logged_model_param(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: &str,
        param: &KeyValue,
    ) -> Result<()> {
        let mut insert = self.sql("INSERT INTO logged_model_params (model_id, key, value) VALUES (");
        insert.arg(model_id).push(", ").arg(param.key.as_str()).push(", ").arg(param.value.as_str());
        insert.push(")").on_conflict_ignore("(model_id, key)");
        if insert.query().execute(&mut **tx).await?.rows_affected() == 0 {
            let mut existing = self.sql("SELECT value FROM logged_model_params WHERE model_id = ");
            existing.arg(model_id).push(" AND key = ").arg(param.key.as_str());
            let value = rows::text(&existing.query().fetch_one(&mut **tx).await?, "value")?;
            if value != param.value {
                return Err(Error::InvalidParameterValue(format!(
                    "Changing param values is not allowed. Param with key='{}' was already logged with \
                     value='{value}' for logged model ID='{model_id}'. Attempted logging new value '{}'.",
                    param.key, param.value
                )));
            }
        }
        Ok(())
    }

    async fn upsert_logged_model_tag(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        model_id: &str,
        tag: &KeyValue,
    ) -> Result<()> {
        let mut sql = self.sql("INSERT INTO logged_model_tags (model_id, key, value) VALUES (");
        sql.arg(model_id).push(", ").arg(tag.key.as_str()).push(", ").arg(tag.value.as_str());
        sql.push(")").on_conflict_update("(model_id, key)", &["value"]);
        sql.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Searches active logged models.
    ///
    /// # Errors
    /// `Database` only: the request was validated when it was built.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_logged_models(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        if search.experiment_ids.is_empty() {
            return Ok(Page { items: Vec::new(), next_page_token: None });
        }
        let mut sql = self.sql(MODEL_SELECT);
        sql.push(" WHERE lm.lifecycle_stage = 'active' AND ").in_ints("lm.experiment_id", &search.experiment_ids);
        let has_metric_clause = search.filter.iter().any(|c| matches!(c, LoggedModelClause::Metric { .. }));
        if !search.datasets.is_empty() && !has_metric_clause {
            sql.push(" AND EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND ");
            dataset_scope(&mut sql, &search.datasets);
            sql.push(")");
        }
        for clause in &search.filter {
            sql.push(" AND ");
            self.logged_model_clause(&mut sql, clause, &search.datasets);
        }
        sql.push(" ORDER BY ");
        let mut first = true;
        for order in &search.order_by {
            if !first {
                sql.push(", ");
            }
            first = false;
            let dir = direction(order.ascending);
            match &order.key {
                LoggedModelOrderKey::Metric { key, dataset_name, dataset_digest } => {
                    let scope: Vec<DatasetScope> = dataset_name
                        .iter()
                        .map(|name| DatasetScope { name: name.clone(), digest: dataset_digest.clone() })
                        .collect();
                    // Models without the metric sort last either way.
                    sql.push("(");
                    latest_metric(&mut sql, key, &scope);
                    sql.push(") IS NULL, (");
                    latest_metric(&mut sql, key, &scope);
                    sql.push(&format!(") {dir}"));
                }
                LoggedModelOrderKey::StringAttribute(attribute) => {
                    let column = string_column(*attribute);
                    sql.push(&format!("{column} IS NULL, {column} {dir}"));
                }
                LoggedModelOrderKey::NumberAttribute(attribute) => {
                    sql.push(&format!("{} {dir}", number_column(*attribute)));
                }
            }
        }
        if !first {
            sql.push(", ");
        }
        sql.push("lm.creation_timestamp_ms DESC, lm.model_id ASC");
        paginate(&mut sql, search.max_results, search.offset);
        let mut models = self.load_logged_models(&sql).await?;
        let page_size = usize::try_from(search.max_results).unwrap_or(usize::MAX);
        let next_page_token = (models.len() > page_size).then(|| {
            models.truncate(page_size);
            page_token::encode_for_search(search.offset + page_size as u64, &search.fingerprint)
        });
        Ok(Page { items: models, next_page_token })
    }

    fn logged_model_clause(&self, sql: &mut Sql, clause: &LoggedModelClause, datasets: &[DatasetScope]) {
        match clause {
            LoggedModelClause::Metric { key, op, value } => {
                sql.push("(");
                latest_metric(sql, key, datasets);
                let sign = if *op == NumberOp::Ne { "<>" } else { op.sql() };
                sql.push(&format!(") {sign} ")).arg(*value);
            }
            LoggedModelClause::Param { key, condition } | LoggedModelClause::Tag { key, condition } => {
                let table = if matches!(clause, LoggedModelClause::Param { .. }) {
                    "logged_model_params"
                } else {
                    "logged_model_tags"
                };
                sql.push(&format!("EXISTS (SELECT 1 FROM {table} k WHERE k.model_id = lm.model_id AND k.key = "));
                sql.arg(key.as_str()).push(" AND ");
                string_condition(sql, self.dialect, "k.value", condition);
                sql.push(")");
            }
            LoggedModelClause::StringAttribute { attribute, condition } => {
                string_condition(sql, self.dialect, string_column(*attribute), condition);
            }
            LoggedModelClause::NumberAttribute { attribute, op, value } => {
                sql.push(&format!("{} {} ", number_column(*attribute), op.sql())).arg(*value);
            }
        }
    }
}

/// The latest (highest step, then timestamp) non-NaN value of `key` logged against the model, within
/// `datasets` when given.
fn latest_metric(sql: &mut Sql, key: &str, datasets: &[DatasetScope]) {
    sql.push("SELECT m.value FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.is_nan = 0 AND m.key = ")
        .arg(key);
    if !datasets.is_empty() {
        sql.push(" AND ");
        dataset_scope(sql, datasets);
    }
    sql.push(" ORDER BY m.step DESC, m.timestamp DESC LIMIT 1");
}

fn dataset_scope(sql: &mut Sql, datasets: &[DatasetScope]) {
    sql.push("(");
    for (i, dataset) in datasets.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(m.dataset_name = ").arg(dataset.name.as_str());
        if let Some(digest) = &dataset.digest {
            sql.push(" AND m.dataset_digest = ").arg(digest.as_str());
        }
        sql.push(")");
    }
    sql.push(")");
}

fn string_column(attribute: LoggedModelStringAttribute) -> &'static str {
    match attribute {
        LoggedModelStringAttribute::ModelId => "lm.model_id",
        LoggedModelStringAttribute::Name => "lm.name",
        LoggedModelStringAttribute::Status => "lm.status",
        LoggedModelStringAttribute::ModelType => "lm.model_type",
        LoggedModelStringAttribute::SourceRunId => "lm.source_run_id",
    }
}

fn number_column(attribute: LoggedModelNumberAttribute) -> &'static str {
    match attribute {
        LoggedModelNumberAttribute::ExperimentId => "lm.experiment_id",
        LoggedModelNumberAttribute::CreationTimestamp => "lm.creation_timestamp_ms",
        LoggedModelNumberAttribute::LastUpdatedTimestamp => "lm.last_updated_timestamp_ms",
    }
}

/// Params may not repeat a key within one request.
fn dedupe(params: Vec<KeyValue>, what: &str) -> Result<Vec<KeyValue>> {
    let mut seen = std::collections::HashSet::new();
    for param in &params {
        if !seen.insert(param.key.as_str()) {
            return Err(Error::InvalidParameterValue(format!("Duplicate {what} key '{}' in one request", param.key)));
        }
    }
    Ok(params)
}

/// Tags repeated within one request keep their last value.
fn last_value_wins(tags: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut by_key: Vec<KeyValue> = Vec::with_capacity(tags.len());
    for tag in tags {
        match by_key.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => by_key.push(tag),
        }
    }
    by_key
}

fn model_not_found(model_id: &str) -> Error {
    Error::NotFound(format!("Logged model with ID '{model_id}' not found."))
}
