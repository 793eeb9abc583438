//! The model registry: registered models, versions (numbered 1, 2, ... per model, never reused),
//! legacy stages, aliases and tags, and their searches.

use std::collections::HashMap;

use ferroflow_core::model::{KeyValue, ModelVersion, Page, RegisteredModel, Stage};
use ferroflow_core::search::{
    mentions_prompt_tag, RegistryClause, RegistryOrder, RegistryOrderKey, RegistryStringAttribute, PROMPT_TAG,
};

use crate::auth::ResourceType;
use crate::context::RequestContext;
use crate::rows::{paginate, split_page};
use crate::search::{direction, string_condition};
use crate::sql::Sql;
use crate::{now_ms, Error, Result, SqlStore};

/// Stage of a deleted version, whose row stays so its number is not reused. Never shown.
const DELETED_STAGE: &str = "Deleted_Internal";

/// A validated registry search (`registered-models/search` or `model-versions/search`).
#[derive(Debug, Clone)]
pub struct RegistrySearch {
    /// Clauses, all of which must hold.
    pub filter: Vec<RegistryClause>,
    /// Ordering, before the default tie-breaks.
    pub order_by: Vec<RegistryOrder>,
    /// Page size.
    pub max_results: i64,
    /// Rows to skip (from the page token).
    pub offset: u64,
    /// The registered models the caller may read.
    pub visible: ferroflow_auth::Visible,
}

/// The fields of `model-versions/create`, with the source already checked and resolved.
#[derive(Debug, Clone, Default)]
pub struct CreateModelVersion {
    /// Registered model.
    pub name: String,
    /// The source as the client gave it.
    pub source: String,
    /// Where the files are (what `get-download-uri` answers).
    pub storage_location: String,
    /// Producing run.
    pub run_id: Option<String>,
    /// Link to the run.
    pub run_link: Option<String>,
    /// Logged model (MLflow 3).
    pub model_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Initial tags.
    pub tags: Vec<KeyValue>,
    /// Author.
    pub user_id: Option<String>,
}

const MODEL_SELECT: &str =
    "SELECT rm.name, rm.creation_timestamp, rm.last_updated_timestamp, rm.description FROM registered_models rm";
const MODEL_FIELDS: &str = "name, creation_timestamp, last_updated_timestamp, description";
type ModelRow = (String, i64, i64, Option<String>);

const VERSION_SELECT: &str = "SELECT mv.name, mv.version, mv.creation_timestamp, mv.last_updated_timestamp, \
     mv.user_id, mv.current_stage, mv.description, mv.source, mv.storage_location, mv.run_id, mv.run_link, \
     mv.model_id FROM model_versions mv";
const VERSION_FIELDS: &str = "name, version, creation_timestamp, last_updated_timestamp, user_id, current_stage, \
     description, source, storage_location, run_id, run_link, model_id";
type VersionRow = (
    String,
    i64,
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn version(row: VersionRow) -> ModelVersion {
    let (name, version, created, updated, user_id, stage, description, source, storage, run_id, run_link, model_id) =
        row;
    ModelVersion {
        name,
        version,
        creation_timestamp: created,
        last_updated_timestamp: updated,
        user_id,
        current_stage: Stage::from_name(&stage).unwrap_or(Stage::None),
        description,
        source,
        storage_location: storage,
        run_id,
        run_link,
        model_id,
        tags: Vec::new(),
        aliases: Vec::new(),
    }
}

impl SqlStore {
    /// Creates a registered model.
    ///
    /// # Errors
    /// `AlreadyExists` for a taken name.
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<RegisteredModel> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut insert = self.sql(
            "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description) VALUES (",
        );
        insert.arg(name).push(", ").arg(now).push(", ").arg(now).push(", ").arg(description.map(str::to_owned));
        insert.push(")").on_conflict_ignore("(name)");
        if insert.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(Error::AlreadyExists(format!("Registered Model (name={name}) already exists.")));
        }
        for tag in tags {
            upsert_tag(self, &mut tx, "registered_model_tags", name, None, tag).await?;
        }
        self.grant_creator(&mut tx, ResourceType::RegisteredModel, name).await?;
        self.commit(tx).await?;
        self.get_registered_model(name).await
    }

    /// Reads a registered model with its latest versions per stage, tags and aliases.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let mut sql = self.sql(&format!("{MODEL_SELECT} WHERE rm.name = "));
        sql.arg(name);
        self.load_registered_models(&sql).await?.pop().ok_or_else(|| model_not_found(name))
    }

    async fn load_registered_models(&self, sql: &Sql) -> Result<Vec<RegisteredModel>> {
        let rows: Vec<ModelRow> = self.read_rows(MODEL_FIELDS, sql).await?;
        let mut models: Vec<RegisteredModel> = rows
            .into_iter()
            .map(|(name, creation_timestamp, last_updated_timestamp, description)| RegisteredModel {
                name,
                creation_timestamp,
                last_updated_timestamp,
                description,
                latest_versions: Vec::new(),
                tags: Vec::new(),
                aliases: Vec::new(),
            })
            .collect();
        if models.is_empty() {
            return Ok(models);
        }
        let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
        let index: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let mut tags = self.sql("SELECT name, key, value FROM registered_model_tags WHERE ");
        tags.in_list("name", &names).push(" ORDER BY name, key");
        for (name, key, value) in self.read_rows::<(String, String, String)>("name, key, value", &tags).await? {
            if let Some(&i) = index.get(&name) {
                models[i].tags.push(KeyValue { key, value });
            }
        }
        let mut aliases = self.sql("SELECT name, alias, version FROM registered_model_aliases WHERE ");
        aliases.in_list("name", &names).push(" ORDER BY name, alias");
        for (name, alias, version) in self.read_rows::<(String, String, i64)>("name, alias, version", &aliases).await? {
            if let Some(&i) = index.get(&name) {
                models[i].aliases.push((alias, version));
            }
        }
        let mut latest = self.sql(&format!(
            "{VERSION_SELECT} WHERE mv.current_stage <> '{DELETED_STAGE}' AND mv.version = (SELECT MAX(m2.version) \
             FROM model_versions m2 WHERE m2.name = mv.name AND m2.current_stage = mv.current_stage) AND "
        ));
        latest.in_list("mv.name", &names).push(" ORDER BY mv.name, mv.version");
        for version in self.load_versions(&latest).await? {
            if let Some(&i) = index.get(&version.name) {
                models[i].latest_versions.push(version);
            }
        }
        Ok(models)
    }

    async fn load_versions(&self, sql: &Sql) -> Result<Vec<ModelVersion>> {
        let rows: Vec<VersionRow> = self.read_rows(VERSION_FIELDS, sql).await?;
        let mut versions: Vec<ModelVersion> = rows.into_iter().map(version).collect();
        if versions.is_empty() {
            return Ok(versions);
        }
        let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
        names.sort();
        names.dedup();
        let index: HashMap<(String, i64), usize> =
            versions.iter().enumerate().map(|(i, v)| ((v.name.clone(), v.version), i)).collect();
        let mut tags = self.sql("SELECT name, version, key, value FROM model_version_tags WHERE ");
        tags.in_list("name", &names).push(" ORDER BY name, version, key");
        let tag_rows: Vec<(String, i64, String, String)> = self.read_rows("name, version, key, value", &tags).await?;
        for (name, number, key, value) in tag_rows {
            if let Some(&i) = index.get(&(name, number)) {
                versions[i].tags.push(KeyValue { key, value });
            }
        }
        let mut aliases = self.sql("SELECT name, alias, version FROM registered_model_aliases WHERE ");
        aliases.in_list("name", &names).push(" ORDER BY name, alias");
        for (name, alias, number) in self.read_rows::<(String, String, i64)>("name, alias, version", &aliases).await? {
            if let Some(&i) = index.get(&(name, number)) {
                versions[i].aliases.push(alias);
            }
        }
        Ok(versions)
    }

    /// Renames a registered model; versions, tags and aliases follow.
    ///
    /// # Errors
    /// `NotFound`; `AlreadyExists` when the new name is taken.
    pub async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        if name == new_name {
            return self.get_registered_model(name).await;
        }
        let mut tx = self.begin_write().await?;
        let mut taken = self.sql("SELECT 1 AS taken FROM registered_models WHERE name = ");
        taken.arg(new_name);
        if taken.query().fetch_optional(&mut *tx).await?.is_some() {
            return Err(Error::AlreadyExists(format!("Registered Model (name={new_name}) already exists.")));
        }
        if let Some(context) = RequestContext::current() {
            context.note_change("name", Some(name.into()), Some(new_name.into()));
        }
        let mut rename = self.sql("UPDATE registered_models SET name = ");
        rename.arg(new_name).push(", last_updated_timestamp = ").arg(now_ms()).push(" WHERE name = ").arg(name);
        if rename.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        let mut grants = self.sql("UPDATE grants SET resource_id = ");
        grants.arg(new_name).push(" WHERE resource_type = 'registered_model' AND resource_id = ").arg(name);
        if grants.query().execute(&mut *tx).await?.rows_affected() > 0 {
            self.bump_auth_epoch(&mut tx).await?;
        }
        self.commit(tx).await?;
        self.get_registered_model(new_name).await
    }

    /// Sets a registered model's description.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn update_registered_model(&self, name: &str, description: Option<&str>) -> Result<RegisteredModel> {
        let mut sql = self.sql("UPDATE registered_models SET description = ");
        sql.arg(description.map(str::to_owned)).push(", last_updated_timestamp = ").arg(now_ms());
        sql.push(" WHERE name = ").arg(name);
        if self.execute_write(&sql).await? == 0 {
            return Err(model_not_found(name));
        }
        self.get_registered_model(name).await
    }

    /// Deletes a registered model with its versions, tags and aliases.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("DELETE FROM registered_models WHERE name = ");
        sql.arg(name);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        // A model created later under the same name inherits nothing.
        let mut grants = self.sql("DELETE FROM grants WHERE resource_type = 'registered_model' AND resource_id = ");
        grants.arg(name);
        if grants.query().execute(&mut *tx).await?.rows_affected() > 0 {
            self.bump_auth_epoch(&mut tx).await?;
        }
        self.commit(tx).await
    }

    /// Sets a tag on a registered model.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn set_registered_model_tag(&self, name: &str, tag: &KeyValue) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.touch_model(&mut tx, name).await?;
        upsert_tag(self, &mut tx, "registered_model_tags", name, None, tag).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Deletes a tag of a registered model (an absent tag is not an error, as in MLflow).
    ///
    /// # Errors
    /// `NotFound` for an unknown model.
    pub async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.touch_model(&mut tx, name).await?;
        let mut sql = self.sql("DELETE FROM registered_model_tags WHERE name = ");
        sql.arg(name).push(" AND key = ").arg(key);
        sql.query().execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Bumps a model's last-updated time; fails if it does not exist.
    async fn touch_model(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str) -> Result<()> {
        let mut sql = self.sql("UPDATE registered_models SET last_updated_timestamp = ");
        sql.arg(now_ms()).push(" WHERE name = ").arg(name);
        if sql.query().execute(&mut **tx).await?.rows_affected() == 0 {
            return Err(model_not_found(name));
        }
        Ok(())
    }

    /// Searches registered models. Prompts are left out unless the filter asks about them.
    ///
    /// # Errors
    /// `Database` only.
    pub async fn search_registered_models(&self, search: &RegistrySearch) -> Result<Page<RegisteredModel>> {
        let mut sql = self.sql(&format!("{MODEL_SELECT} WHERE 1 = 1"));
        registry_filter(self, &mut sql, &search.filter, "rm", false);
        sql.and_visible("rm.name", &search.visible, false);
        let mut order: Vec<String> = search
            .order_by
            .iter()
            .map(|o| {
                let column = match o.key {
                    RegistryOrderKey::Name => "rm.name",
                    _ => "rm.last_updated_timestamp",
                };
                format!("{column} {}", direction(o.ascending))
            })
            .collect();
        if !search.order_by.iter().any(|o| o.key == RegistryOrderKey::Name) {
            order.push("rm.name ASC".to_owned());
        }
        sql.push(" ORDER BY ").push(&order.join(", "));
        paginate(&mut sql, search.max_results, search.offset);
        let models = self.load_registered_models(&sql).await?;
        let (items, next_page_token) = split_page(models, search.max_results, search.offset);
        Ok(Page { items, next_page_token })
    }

    /// Searches model versions (never deleted ones). Prompts are left out unless the filter asks.
    ///
    /// # Errors
    /// `Database` only.
    pub async fn search_model_versions(&self, search: &RegistrySearch) -> Result<Page<ModelVersion>> {
        let mut sql = self.sql(&format!("{VERSION_SELECT} WHERE mv.current_stage <> '{DELETED_STAGE}'"));
        registry_filter(self, &mut sql, &search.filter, "mv", true);
        sql.and_visible("mv.name", &search.visible, false);
        let mut order: Vec<String> = Vec::new();
        for o in &search.order_by {
            let column = match o.key {
                RegistryOrderKey::Name => "mv.name",
                RegistryOrderKey::VersionNumber => "mv.version",
                RegistryOrderKey::CreationTimestamp => "mv.creation_timestamp",
                RegistryOrderKey::LastUpdatedTimestamp => "mv.last_updated_timestamp",
            };
            order.push(format!("{column} {}", direction(o.ascending)));
        }
        for (key, term) in [
            (RegistryOrderKey::LastUpdatedTimestamp, "mv.last_updated_timestamp DESC"),
            (RegistryOrderKey::Name, "mv.name ASC"),
            (RegistryOrderKey::VersionNumber, "mv.version DESC"),
        ] {
            if !search.order_by.iter().any(|o| o.key == key) {
                order.push(term.to_owned());
            }
        }
        sql.push(" ORDER BY ").push(&order.join(", "));
        paginate(&mut sql, search.max_results, search.offset);
        let versions = self.load_versions(&sql).await?;
        let (items, next_page_token) = split_page(versions, search.max_results, search.offset);
        Ok(Page { items, next_page_token })
    }

    /// The latest version of a model in each of `stages` (every stage when empty).
    ///
    /// # Errors
    /// `NotFound` for an unknown model.
    pub async fn get_latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
        let model = self.get_registered_model(name).await?;
        let mut versions: Vec<ModelVersion> = model
            .latest_versions
            .into_iter()
            .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
            .collect();
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }

    /// Registers a new version, numbered one past the highest number the model ever had.
    ///
    /// # Errors
    /// `NotFound` for an unknown model.
    pub async fn create_model_version(&self, request: CreateModelVersion) -> Result<ModelVersion> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        self.touch_model(&mut tx, &request.name).await?;
        let mut next = self.sql("SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE name = ");
        next.arg(request.name.as_str());
        let number: i64 = sqlx::Row::try_get(&next.query().fetch_one(&mut *tx).await?, "next")?;
        let mut insert = self.sql(
            "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, user_id, \
             current_stage, description, source, storage_location, run_id, run_link, model_id) VALUES (",
        );
        insert
            .arg(request.name.as_str())
            .push(", ")
            .arg(number)
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(now)
            .push(", ")
            .arg(request.user_id.clone())
            .push(", ")
            .arg(Stage::None.as_str())
            .push(", ")
            .arg(request.description.clone())
            .push(", ")
            .arg(request.source.as_str())
            .push(", ")
            .arg(request.storage_location.as_str())
            .push(", ")
            .arg(request.run_id.clone())
            .push(", ")
            .arg(request.run_link.clone())
            .push(", ")
            .arg(request.model_id.clone())
            .push(")");
        insert.query().execute(&mut *tx).await?;
        for tag in &request.tags {
            upsert_tag(self, &mut tx, "model_version_tags", &request.name, Some(number), tag).await?;
        }
        self.commit(tx).await?;
        self.get_model_version(&request.name, number).await
    }

    /// Reads one (not deleted) version.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn get_model_version(&self, name: &str, number: i64) -> Result<ModelVersion> {
        let mut sql = self.sql(&format!("{VERSION_SELECT} WHERE mv.current_stage <> '{DELETED_STAGE}' AND mv.name = "));
        sql.arg(name).push(" AND mv.version = ").arg(number);
        self.load_versions(&sql).await?.pop().ok_or_else(|| version_not_found(name, number))
    }

    /// Sets a version's description.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn update_model_version(
        &self,
        name: &str,
        number: i64,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        let mut sql = self.sql("UPDATE model_versions SET description = ");
        sql.arg(description.map(str::to_owned)).push(", last_updated_timestamp = ").arg(now_ms());
        self.where_version(&mut sql, name, number);
        if self.execute_write(&sql).await? == 0 {
            return Err(version_not_found(name, number));
        }
        self.get_model_version(name, number).await
    }

    fn where_version(&self, sql: &mut Sql, name: &str, number: i64) {
        sql.push(" WHERE name = ").arg(name).push(" AND version = ").arg(number);
        sql.push(&format!(" AND current_stage <> '{DELETED_STAGE}'"));
    }

    /// Deletes a version: it disappears from every read, its aliases go, its number is not reused.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_model_version(&self, name: &str, number: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut sql = self.sql("UPDATE model_versions SET current_stage = ");
        sql.arg(DELETED_STAGE).push(", description = NULL, user_id = NULL, run_link = NULL, last_updated_timestamp = ");
        sql.arg(now_ms());
        self.where_version(&mut sql, name, number);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(version_not_found(name, number));
        }
        let mut aliases = self.sql("DELETE FROM registered_model_aliases WHERE name = ");
        aliases.arg(name).push(" AND version = ").arg(number);
        aliases.query().execute(&mut *tx).await?;
        let mut tags = self.sql("DELETE FROM model_version_tags WHERE name = ");
        tags.arg(name).push(" AND version = ").arg(number);
        tags.query().execute(&mut *tx).await?;
        self.touch_model(&mut tx, name).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Moves a version to `stage`; with `archive_existing`, other versions in that stage are archived.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        number: i64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let context = RequestContext::current();
        if let Some(context) = &context {
            let mut current = self.sql("SELECT current_stage FROM model_versions");
            self.where_version(&mut current, name, number);
            let rows: Vec<(String,)> = self.fetch_rows(&mut *tx, "current_stage", &current).await?;
            let before = rows.into_iter().next().ok_or_else(|| version_not_found(name, number))?.0;
            context.note_change("stage", Some(before.into()), Some(stage.as_str().into()));
        }
        let mut sql = self.sql("UPDATE model_versions SET current_stage = ");
        sql.arg(stage.as_str()).push(", last_updated_timestamp = ").arg(now);
        self.where_version(&mut sql, name, number);
        if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(version_not_found(name, number));
        }
        if archive_existing {
            if let Some(context) = &context {
                let mut archived = self.sql("SELECT version FROM model_versions WHERE name = ");
                archived.arg(name).push(" AND version <> ").arg(number);
                archived.push(" AND current_stage = ").arg(stage.as_str()).push(" ORDER BY version");
                let rows: Vec<(i64,)> = self.fetch_rows(&mut *tx, "version", &archived).await?;
                context.note("archived_versions", rows.into_iter().map(|(v,)| v).collect::<Vec<_>>());
            }
            let mut archive = self.sql("UPDATE model_versions SET current_stage = ");
            archive.arg(Stage::Archived.as_str()).push(", last_updated_timestamp = ").arg(now);
            archive.push(" WHERE name = ").arg(name).push(" AND version <> ").arg(number);
            archive.push(" AND current_stage = ").arg(stage.as_str());
            archive.query().execute(&mut *tx).await?;
        }
        self.touch_model(&mut tx, name).await?;
        self.commit(tx).await?;
        self.get_model_version(name, number).await
    }

    /// Sets a tag on a version.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn set_model_version_tag(&self, name: &str, number: i64, tag: &KeyValue) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.touch_version(&mut tx, name, number).await?;
        upsert_tag(self, &mut tx, "model_version_tags", name, Some(number), tag).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Deletes a tag of a version (an absent tag is not an error, as in MLflow).
    ///
    /// # Errors
    /// `NotFound` for an unknown version.
    pub async fn delete_model_version_tag(&self, name: &str, number: i64, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.touch_version(&mut tx, name, number).await?;
        let mut sql = self.sql("DELETE FROM model_version_tags WHERE name = ");
        sql.arg(name).push(" AND version = ").arg(number).push(" AND key = ").arg(key);
        sql.query().execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn touch_version(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str, number: i64) -> Result<()> {
        let mut sql = self.sql("UPDATE model_versions SET last_updated_timestamp = ");
        sql.arg(now_ms());
        self.where_version(&mut sql, name, number);
        if sql.query().execute(&mut **tx).await?.rows_affected() == 0 {
            return Err(version_not_found(name, number));
        }
        Ok(())
    }

    /// Points `alias` at a version (moving it if it pointed elsewhere).
    ///
    /// # Errors
    /// `NotFound` for an unknown model or version.
    pub async fn set_registered_model_alias(&self, name: &str, alias: &str, number: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut exists = self.sql("SELECT 1 AS found FROM model_versions");
        self.where_version(&mut exists, name, number);
        if exists.query().fetch_optional(&mut *tx).await?.is_none() {
            return Err(version_not_found(name, number));
        }
        if let Some(context) = RequestContext::current() {
            let before = self.alias_version(&mut tx, name, alias).await?;
            context.note("alias", alias);
            context.note_change("version", before.map(Into::into), Some(number.into()));
        }
        let mut sql = self.sql("INSERT INTO registered_model_aliases (name, alias, version) VALUES (");
        sql.arg(name).push(", ").arg(alias).push(", ").arg(number);
        sql.push(")").on_conflict_update("(name, alias)", &["version"]);
        sql.query().execute(&mut *tx).await?;
        self.touch_model(&mut tx, name).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Removes an alias.
    ///
    /// # Errors
    /// `NotFound` for an unknown model (an absent alias is not an error, as in MLflow).
    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.touch_model(&mut tx, name).await?;
        if let Some(context) = RequestContext::current() {
            let before = self.alias_version(&mut tx, name, alias).await?;
            context.note("alias", alias);
            context.note_change("version", before.map(Into::into), None);
        }
        let mut sql = self.sql("DELETE FROM registered_model_aliases WHERE name = ");
        sql.arg(name).push(" AND alias = ").arg(alias);
        sql.query().execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The version `alias` points at inside `tx`, if it is set.
    async fn alias_version(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        name: &str,
        alias: &str,
    ) -> Result<Option<i64>> {
        let mut sql = self.sql("SELECT version FROM registered_model_aliases WHERE name = ");
        sql.arg(name).push(" AND alias = ").arg(alias);
        let rows: Vec<(i64,)> = self.fetch_rows(&mut **tx, "version", &sql).await?;
        Ok(rows.into_iter().next().map(|(version,)| version))
    }

    /// The version an alias points at; `latest` (any case) is the highest version.
    ///
    /// # Errors
    /// `NotFound` for an unknown model; `InvalidParameterValue` for an unknown alias (MLflow's code).
    pub async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let sql = if alias.eq_ignore_ascii_case("latest") {
            let mut sql = self.sql("SELECT MAX(version) AS version FROM model_versions WHERE name = ");
            sql.arg(name).push(&format!(" AND current_stage <> '{DELETED_STAGE}' HAVING MAX(version) IS NOT NULL"));
            sql
        } else {
            let mut sql = self.sql("SELECT version FROM registered_model_aliases WHERE name = ");
            sql.arg(name).push(" AND alias = ").arg(alias);
            sql
        };
        let Some(row) = sql.query().fetch_optional(&self.read).await? else {
            self.get_registered_model(name).await?;
            return Err(Error::InvalidParameterValue(format!("Registered model alias {alias} not found.")));
        };
        let number: i64 = sqlx::Row::try_get(&row, "version")?;
        self.get_model_version(name, number).await
    }
}

/// Inserts or replaces a tag of a registered model (`version` None) or of a version.
async fn upsert_tag(
    store: &SqlStore,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    name: &str,
    version: Option<i64>,
    tag: &KeyValue,
) -> Result<()> {
    let (columns, conflict) = if version.is_some() { ("name, version", "name, version") } else { ("name", "name") };
    let mut sql = store.sql(&format!("INSERT INTO {table} ({columns}, key, value) VALUES ("));
    sql.arg(name).push(", ");
    if let Some(number) = version {
        sql.arg(number).push(", ");
    }
    sql.arg(tag.key.as_str()).push(", ").arg(tag.value.as_str());
    sql.push(")").on_conflict_update(&format!("({conflict}, key)"), &["value"]);
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// Appends `AND <clause>` for each clause, plus the default hiding of prompts. `alias` is `rm` or `mv`.
fn registry_filter(store: &SqlStore, sql: &mut Sql, clauses: &[RegistryClause], alias: &str, versions: bool) {
    for clause in clauses {
        sql.push(" AND ");
        match clause {
            RegistryClause::Attribute { attribute, condition } => {
                let column = match attribute {
                    RegistryStringAttribute::Name => format!("{alias}.name"),
                    RegistryStringAttribute::RunId => format!("{alias}.run_id"),
                    RegistryStringAttribute::Source => format!("{alias}.source"),
                };
                string_condition(sql, store.dialect, &column, condition);
            }
            RegistryClause::VersionNumber { op, value } => {
                sql.push(&format!("{alias}.version {} ", op.sql())).arg(*value);
            }
            RegistryClause::Tag { key, condition } if key == PROMPT_TAG => {
                // A model without the tag is not a prompt: it reads as 'false'. (The key is a constant.)
                let value = format!(
                    "COALESCE((SELECT t.value FROM registered_model_tags t WHERE t.name = {alias}.name \
                     AND t.key = '{PROMPT_TAG}'), 'false')"
                );
                string_condition(sql, store.dialect, &value, condition);
            }
            RegistryClause::Tag { key, condition } => {
                let (table, owner) = if versions {
                    ("model_version_tags", format!("t.name = {alias}.name AND t.version = {alias}.version"))
                } else {
                    ("registered_model_tags", format!("t.name = {alias}.name"))
                };
                sql.push(&format!("EXISTS (SELECT 1 FROM {table} t WHERE {owner} AND t.key = ")).arg(key.as_str());
                sql.push(" AND ");
                string_condition(sql, store.dialect, "t.value", condition);
                sql.push(")");
            }
        }
    }
    if !mentions_prompt_tag(clauses) {
        sql.push(&format!(
            " AND NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.name = {alias}.name AND p.key = "
        ));
        sql.arg(PROMPT_TAG).push(" AND p.value = 'true')");
    }
}

fn model_not_found(name: &str) -> Error {
    Error::NotFound(format!("Registered Model with name={name} not found"))
}

fn version_not_found(name: &str, number: i64) -> Error {
    Error::NotFound(format!("Model Version (name={name}, version={number}) not found"))
}
