//! Experiments: create, read, rename, soft-delete and restore, tags.

use ferroflow_core::model::{Experiment, KeyValue, LifecycleStage};
use ferroflow_core::validation;
use sqlx::Row as _;

use crate::auth::ResourceType;
use crate::context::RequestContext;
use crate::error::is_unique_violation;
use crate::rows::{self, ExperimentRow, EXPERIMENT_FIELDS, EXPERIMENT_SELECT};
use crate::sql::Dialect;
use crate::{now_ms, Error, Result, SqlStore};

/// The experiment every installation has, id 0.
pub(crate) const DEFAULT_EXPERIMENT_ID: i64 = 0;
const DEFAULT_EXPERIMENT_NAME: &str = "Default";

impl SqlStore {
    pub(crate) async fn ensure_default_experiment(&self) -> Result<()> {
        let now = now_ms();
        let mut sql = self.sql("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) SELECT ");
        sql.arg(DEFAULT_EXPERIMENT_ID)
            .push(", ")
            .arg(DEFAULT_EXPERIMENT_NAME)
            .push(", ")
            .arg(self.artifact_location_for(DEFAULT_EXPERIMENT_ID))
            .push(", 'active', ")
            .arg(now)
            .push(", ")
            .arg(now)
            .push(" WHERE NOT EXISTS (SELECT 1 FROM experiments WHERE experiment_id = ")
            .arg(DEFAULT_EXPERIMENT_ID)
            .push(")")
            // Replicas starting together race to create it; one wins, the others find it there.
            .on_conflict_ignore("");
        sql.query().execute(&self.write).await?;
        Ok(())
    }

    fn artifact_location_for(&self, experiment_id: i64) -> String {
        format!("{}/{experiment_id}", self.artifact_root)
    }

    /// Creates an experiment and returns its id.
    ///
    /// # Errors
    /// `AlreadyExists` when the name is taken (also by a deleted experiment), `InvalidParameterValue`
    /// for a bad name, location or tag.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<i64> {
        validation::validate_experiment_name(name)?;
        if let Some(location) = artifact_location {
            validation::validate_artifact_location(location)?;
        }
        for tag in tags {
            validation::validate_experiment_tag(&tag.key, &tag.value)?;
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut insert = self.sql("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (");
        insert
            .arg(name)
            .push(", ")
            .arg(artifact_location.unwrap_or(""))
            .push(", 'active', ")
            .arg(now)
            .push(", ")
            .arg(now)
            .push(")");
        let duplicate = |err: sqlx::Error| {
            if is_unique_violation(&err) {
                Error::AlreadyExists(format!("Experiment '{name}' already exists."))
            } else {
                err.into()
            }
        };
        let id: i64 = if self.dialect == Dialect::MySql {
            let done = insert.query().execute(&mut *tx).await.map_err(duplicate)?;
            done.last_insert_id().ok_or_else(|| Error::Database(sqlx::Error::RowNotFound))?
        } else {
            insert.push(" RETURNING experiment_id");
            insert.query().fetch_one(&mut *tx).await.map_err(duplicate)?.try_get("experiment_id")?
        };
        if artifact_location.is_none() {
            let mut update = self.sql("UPDATE experiments SET artifact_location = ");
            update.arg(self.artifact_location_for(id)).push(" WHERE experiment_id = ").arg(id);
            update.query().execute(&mut *tx).await?;
        }
        for tag in tags {
            self.upsert_experiment_tag(&mut tx, id, tag).await?;
        }
        self.grant_creator(&mut tx, ResourceType::Experiment, &id.to_string()).await?;
        if let Some(context) = RequestContext::current() {
            context.set_resource("experiment", id.to_string());
        }
        self.commit(tx).await?;
        Ok(id)
    }

    /// Reads an experiment, deleted or not.
    ///
    /// # Errors
    /// `NotFound` when there is no such experiment.
    pub async fn get_experiment(&self, experiment_id: i64) -> Result<Experiment> {
        let mut sql = self.sql(&format!("{EXPERIMENT_SELECT} WHERE e.experiment_id = "));
        sql.arg(experiment_id);
        self.one_experiment(&sql).await?.ok_or_else(|| experiment_not_found(experiment_id))
    }

    /// Reads an experiment by name, deleted or not.
    ///
    /// # Errors
    /// `NotFound` when no experiment has that name.
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let mut sql = self.sql(&format!("{EXPERIMENT_SELECT} WHERE e.name = "));
        sql.arg(name);
        self.one_experiment(&sql)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Could not find experiment with name '{name}'")))
    }

    async fn one_experiment(&self, sql: &crate::sql::Sql) -> Result<Option<Experiment>> {
        let rows: Vec<ExperimentRow> = self.read_rows(EXPERIMENT_FIELDS, sql).await?;
        let mut experiments: Vec<Experiment> = rows.into_iter().map(rows::experiment).collect();
        self.experiment_tags_for(&mut experiments).await?;
        Ok(experiments.pop())
    }

    /// Loads the tags of many experiments at once.
    pub(crate) async fn experiment_tags_for(&self, experiments: &mut [Experiment]) -> Result<()> {
        if experiments.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = experiments.iter().map(|e| e.experiment_id).collect();
        let mut sql = self.sql("SELECT experiment_id, key, value FROM experiment_tags WHERE ");
        sql.in_ints("experiment_id", &ids);
        let rows: Vec<(i64, String, String)> = self.read_rows("experiment_id, key, value", &sql).await?;
        let index: std::collections::HashMap<i64, usize> =
            experiments.iter().enumerate().map(|(i, e)| (e.experiment_id, i)).collect();
        for (id, key, value) in rows {
            if let Some(&i) = index.get(&id) {
                experiments[i].tags.push(KeyValue { key, value });
            }
        }
        for experiment in experiments.iter_mut() {
            experiment.tags.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(())
    }

    /// Lifecycle stage of an experiment, for the checks that need an active one.
    async fn experiment_stage(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        experiment_id: i64,
    ) -> Result<LifecycleStage> {
        let mut sql = self.sql("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ");
        sql.arg(experiment_id);
        let row = sql.query().fetch_optional(executor).await?.ok_or_else(|| experiment_not_found(experiment_id))?;
        Ok(LifecycleStage::from_name(&rows::text(&row, "lifecycle_stage")?))
    }

    /// Fails unless the experiment exists and is active.
    pub(crate) async fn require_active_experiment(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        experiment_id: i64,
    ) -> Result<()> {
        match self.experiment_stage(executor, experiment_id).await? {
            LifecycleStage::Active => Ok(()),
            LifecycleStage::Deleted => Err(Error::InvalidParameterValue(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
            ))),
        }
    }

    /// Soft-deletes an experiment and its runs.
    ///
    /// # Errors
    /// `NotFound` for an unknown id, `InvalidParameterValue` when it is already deleted.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id))]
    pub async fn delete_experiment(&self, experiment_id: i64) -> Result<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Deleted).await
    }

    /// Restores a deleted experiment and its runs.
    ///
    /// # Errors
    /// `NotFound` for an unknown id, `InvalidParameterValue` when it is not deleted.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id))]
    pub async fn restore_experiment(&self, experiment_id: i64) -> Result<()> {
        self.set_experiment_stage(experiment_id, LifecycleStage::Active).await
    }

    async fn set_experiment_stage(&self, experiment_id: i64, target: LifecycleStage) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let current = self.experiment_stage(&mut *tx, experiment_id).await?;
        if current == target {
            // MLflow looks the experiment up among those in the other stage, so this is "not found".
            let expected = if target == LifecycleStage::Deleted { "active" } else { "deleted" };
            return Err(Error::NotFound(format!("No {expected} experiment with id={experiment_id} exists")));
        }
        let now = now_ms();
        let mut sql = self.sql("UPDATE experiments SET lifecycle_stage = ");
        sql.arg(target.as_str())
            .push(", last_update_time = ")
            .arg(now)
            .push(" WHERE experiment_id = ")
            .arg(experiment_id);
        sql.query().execute(&mut *tx).await?;
        let deleted_time = (target == LifecycleStage::Deleted).then_some(now);
        let mut runs = self.sql("UPDATE runs SET lifecycle_stage = ");
        runs.arg(target.as_str())
            .push(", deleted_time = ")
            .arg(deleted_time)
            .push(" WHERE experiment_id = ")
            .arg(experiment_id)
            .push(" AND lifecycle_stage = ")
            .arg(current.as_str());
        runs.query().execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Renames an active experiment.
    ///
    /// # Errors
    /// `NotFound`, `InvalidState` when deleted, `AlreadyExists` when the new name is taken.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id))]
    pub async fn rename_experiment(&self, experiment_id: i64, new_name: &str) -> Result<()> {
        validation::validate_experiment_name(new_name)?;
        let mut tx = self.begin_write().await?;
        if self.experiment_stage(&mut *tx, experiment_id).await? == LifecycleStage::Deleted {
            return Err(Error::InvalidState(format!(
                "Cannot rename a non-active experiment: experiment {experiment_id} is deleted."
            )));
        }
        if let Some(context) = RequestContext::current() {
            let mut current = self.sql("SELECT name FROM experiments WHERE experiment_id = ");
            current.arg(experiment_id);
            let rows: Vec<(String,)> = self.fetch_rows(&mut *tx, "name", &current).await?;
            context.note_change("name", rows.into_iter().next().map(|(name,)| name.into()), Some(new_name.into()));
        }
        let mut sql = self.sql("UPDATE experiments SET name = ");
        sql.arg(new_name)
            .push(", last_update_time = ")
            .arg(now_ms())
            .push(" WHERE experiment_id = ")
            .arg(experiment_id);
        sql.query().execute(&mut *tx).await.map_err(|err| {
            if is_unique_violation(&err) {
                Error::AlreadyExists(format!("Experiment '{new_name}' already exists."))
            } else {
                err.into()
            }
        })?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Sets (or overwrites) a tag on an active experiment.
    ///
    /// # Errors
    /// `NotFound`, `InvalidParameterValue` for a bad tag, a deleted experiment or too many saved views.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id))]
    pub async fn set_experiment_tag(&self, experiment_id: i64, tag: &KeyValue) -> Result<()> {
        validation::validate_experiment_tag(&tag.key, &tag.value)?;
        let mut tx = self.begin_write().await?;
        self.require_active_experiment(&mut *tx, experiment_id).await?;
        if tag.key.starts_with(validation::CUSTOM_VIEW_TAG_PREFIX) {
            let mut count = self.sql("SELECT COUNT(*) AS n FROM experiment_tags WHERE experiment_id = ");
            count.arg(experiment_id).push(" AND key <> ").arg(tag.key.as_str());
            let prefix = validation::CUSTOM_VIEW_TAG_PREFIX;
            count.push(&format!(" AND substr(key, 1, {}) = ", prefix.len())).arg(prefix);
            let n: i64 = count.query().fetch_one(&mut *tx).await?.try_get("n")?;
            if n >= validation::MAX_CUSTOM_VIEW_TAGS as i64 {
                return Err(Error::InvalidParameterValue(format!(
                    "An experiment can hold at most {} saved views",
                    validation::MAX_CUSTOM_VIEW_TAGS
                )));
            }
        }
        self.upsert_experiment_tag(&mut tx, experiment_id, tag).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn upsert_experiment_tag(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        experiment_id: i64,
        tag: &KeyValue,
    ) -> Result<()> {
        let mut sql = self.sql("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (");
        sql.arg(experiment_id).push(", ").arg(tag.key.as_str()).push(", ").arg(tag.value.as_str());
        sql.push(")").on_conflict_update("(experiment_id, key)", &["value"]);
        sql.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Removes a tag from an active experiment.
    ///
    /// # Errors
    /// `NotFound` when the experiment or the tag does not exist.
    #[tracing::instrument(level = "debug", skip_all, fields(experiment_id))]
    pub async fn delete_experiment_tag(&self, experiment_id: i64, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.require_active_experiment(&mut *tx, experiment_id).await?;
        let mut sql = self.sql("DELETE FROM experiment_tags WHERE experiment_id = ");
        sql.arg(experiment_id).push(" AND key = ").arg(key);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(Error::NotFound(format!("No tag with key '{key}' on experiment {experiment_id}")));
        }
        self.commit(tx).await?;
        Ok(())
    }
}

pub(crate) fn experiment_not_found(experiment_id: i64) -> Error {
    Error::NotFound(format!("No Experiment with id={experiment_id} exists"))
}
