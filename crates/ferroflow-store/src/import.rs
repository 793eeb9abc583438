//! The target side of `ferroflow db import`: writing another server's rows into this schema, as they
//! are, keeping their ids.
//!
//! An import is a sequence of chunks, each one transaction that also moves the import's position
//! (`import_state`): a chunk either lands whole, with the position after it, or not at all. So an
//! import killed at any point resumes after its last committed chunk and ends with the same rows as one
//! that was never interrupted. What the rows are, and in which order they come, is the caller's
//! business; this module knows only how they are stored.

use sqlx::{AnyPool, Row as _};

use crate::sql::{Arg, Dialect, Sql};
use crate::{BackendUri, Error, PoolSettings, Result};

/// A ferroflow database an import writes into.
pub struct ImportTarget {
    dialect: Dialect,
    pool: AnyPool,
    attached: bool,
}

/// What an import finds in its target before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// No tracking or registry data (at most the untouched Default experiment a server creates).
    Empty,
    /// An import began here and did not finish.
    Interrupted(ImportPosition),
    /// An import ran to its end here.
    Finished(ImportPosition),
    /// Data that no import wrote; the text says what.
    NotEmpty(String),
}

/// Where an import stands, as its last committed chunk left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPosition {
    /// The source, as the import names it (credentials removed).
    pub source: String,
    /// The source's schema revision.
    pub revision: String,
    /// The stage of the last committed chunk (empty before the first).
    pub stage: String,
    /// The key of the last row that chunk covered, within its stage.
    pub after_key: String,
    /// When the import started (ms since the epoch).
    pub started_ms: i64,
    /// When it finished, if it did.
    pub finished_ms: Option<i64>,
}

/// A table row as the import writes it: one struct per table, fields named and ordered as its columns.
pub trait ImportRow: Send {
    /// The table.
    const TABLE: &'static str;
    /// Its columns, in the order [`ImportRow::bind`] binds them.
    const COLUMNS: &'static [&'static str];
    /// Appends this row's values as placeholders, separated by commas.
    fn bind(self, sql: &mut Sql);
}

macro_rules! import_rows {
    ($($(#[$doc:meta])* $name:ident => $table:literal { $($(#[$field_doc:meta])* $field:ident: $ty:ty,)* })*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq)]
            #[allow(missing_docs)]
            pub struct $name { $($(#[$field_doc])* pub $field: $ty,)* }

            impl ImportRow for $name {
                const TABLE: &'static str = $table;
                const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
                fn bind(self, sql: &mut Sql) {
                    let mut first = true;
                    $(
                        if !std::mem::take(&mut first) {
                            sql.push(", ");
                        }
                        sql.arg(Arg::from(self.$field));
                    )*
                }
            }
        )*
    };
}

import_rows! {
    /// An experiment.
    ExperimentRow => "experiments" {
        experiment_id: i64, name: String, artifact_location: String, lifecycle_stage: String,
        creation_time: i64, last_update_time: i64,
    }
    /// An experiment's tag.
    ExperimentTagRow => "experiment_tags" { experiment_id: i64, key: String, value: String, }
    /// A run.
    RunRow => "runs" {
        run_id: String, name: String, experiment_id: i64, user_id: String, status: String, start_time: i64,
        end_time: Option<i64>, artifact_uri: String, lifecycle_stage: String, deleted_time: Option<i64>,
    }
    /// A run's tag.
    RunTagRow => "run_tags" { run_id: String, experiment_id: i64, key: String, value: String, }
    /// A run's param.
    ParamRow => "params" { run_id: String, experiment_id: i64, key: String, value: String, }
    /// One metric point (a NaN as value 0 with `is_nan` 1).
    MetricRow => "metrics" { run_id: String, key: String, timestamp: i64, step: i64, value: f64, is_nan: i64, }
    /// A run's latest point of a metric.
    LatestMetricRow => "latest_metrics" {
        run_id: String, experiment_id: i64, key: String, value: f64, is_nan: i64, timestamp: i64, step: i64,
    }
    /// A dataset of an experiment.
    DatasetRow => "datasets" {
        dataset_id: String, experiment_id: i64, name: String, digest: String, source_type: String,
        source: String, schema: Option<String>, profile: Option<String>,
    }
    /// A dataset a run took as input.
    RunDatasetInputRow => "run_dataset_inputs" { run_id: String, dataset_id: String, }
    /// A tag on a run's dataset input (`mlflow.data.context` ...).
    RunInputTagRow => "run_input_tags" { run_id: String, dataset_id: String, key: String, value: String, }
    /// A logged model a run took as input.
    RunModelInputRow => "run_model_inputs" { run_id: String, model_id: String, }
    /// A logged model a run produced, at a step.
    RunModelOutputRow => "run_model_outputs" { run_id: String, model_id: String, step: i64, }
    /// A logged model.
    LoggedModelRow => "logged_models" {
        model_id: String, experiment_id: i64, name: String, artifact_location: String,
        creation_timestamp_ms: i64, last_updated_timestamp_ms: i64, status: String, lifecycle_stage: String,
        model_type: Option<String>, source_run_id: Option<String>, status_message: Option<String>,
    }
    /// A logged model's tag.
    LoggedModelTagRow => "logged_model_tags" { model_id: String, key: String, value: String, }
    /// A logged model's param.
    LoggedModelParamRow => "logged_model_params" { model_id: String, key: String, value: String, }
    /// A metric point logged against a model (absent dataset fields as '').
    LoggedModelMetricRow => "logged_model_metrics" {
        model_id: String, key: String, timestamp: i64, step: i64, value: f64, is_nan: i64, run_id: String,
        dataset_name: String, dataset_digest: String,
    }
    /// A registered model.
    RegisteredModelRow => "registered_models" {
        name: String, creation_timestamp: i64, last_updated_timestamp: i64, description: Option<String>,
    }
    /// A registered model's tag.
    RegisteredModelTagRow => "registered_model_tags" { name: String, key: String, value: String, }
    /// A version of a registered model (a deleted one with stage `Deleted_Internal`).
    ModelVersionRow => "model_versions" {
        name: String, version: i64, creation_timestamp: i64, last_updated_timestamp: i64, user_id: Option<String>,
        current_stage: String, description: Option<String>, source: String, storage_location: String,
        run_id: Option<String>, run_link: Option<String>, model_id: Option<String>,
    }
    /// A model version's tag.
    ModelVersionTagRow => "model_version_tags" { name: String, version: i64, key: String, value: String, }
    /// An alias of a registered model's version.
    AliasRow => "registered_model_aliases" { name: String, alias: String, version: i64, }
}

/// The tables an import fills, in an order that satisfies their foreign keys.
pub const IMPORTED_TABLES: &[&str] = &[
    ExperimentRow::TABLE,
    ExperimentTagRow::TABLE,
    DatasetRow::TABLE,
    LoggedModelRow::TABLE,
    LoggedModelTagRow::TABLE,
    LoggedModelParamRow::TABLE,
    RunRow::TABLE,
    RunTagRow::TABLE,
    ParamRow::TABLE,
    MetricRow::TABLE,
    LatestMetricRow::TABLE,
    RunDatasetInputRow::TABLE,
    RunInputTagRow::TABLE,
    RunModelInputRow::TABLE,
    RunModelOutputRow::TABLE,
    LoggedModelMetricRow::TABLE,
    RegisteredModelRow::TABLE,
    RegisteredModelTagRow::TABLE,
    ModelVersionRow::TABLE,
    ModelVersionTagRow::TABLE,
    AliasRow::TABLE,
];

/// The name under which a SQLite target attaches a SQLite source (see [`ImportTarget::open`]).
pub const ATTACHED_SOURCE: &str = "import_source";

/// Most placeholders one `INSERT` binds (SQLite allows 32,766; PostgreSQL and MySQL 65,535).
const PLACEHOLDERS_PER_STATEMENT: usize = 30_000;
/// Most rows one `INSERT` carries.
const ROWS_PER_STATEMENT: usize = 500;

impl ImportTarget {
    /// Opens the target database (creating a SQLite file), bringing its schema up to date. A database
    /// with MLflow's own schema is refused, as the server refuses it.
    ///
    /// With `attach_sqlite_source`, a SQLite target attaches that SQLite file read-only as
    /// [`ATTACHED_SOURCE`], so a chunk can copy rows inside SQLite ([`ImportChunk::insert_select`]);
    /// [`ImportTarget::attached`] says whether it did (not on the server engines).
    ///
    /// # Errors
    /// As [`crate::SqlStore::open`].
    pub async fn open(
        backend: &BackendUri,
        pool: &PoolSettings,
        attach_sqlite_source: Option<&std::path::Path>,
    ) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (dialect, pool_handle, attached) = match (backend, attach_sqlite_source) {
            (BackendUri::Sqlite { path }, Some(source)) => {
                crate::create_parent_dir(path)?;
                let source = std::fs::canonicalize(source).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
                let uri = format!("file:{}?mode=ro", source.display());
                (Dialect::Sqlite, crate::sqlite_pool_attaching(&crate::sqlite_url(path), 1, Some(uri)).await?, true)
            }
            _ => {
                let (dialect, pool_handle) = crate::writer_pool(backend, pool).await?;
                (dialect, pool_handle, false)
            }
        };
        crate::refuse_mlflow_schema(&pool_handle, backend).await?;
        crate::migrate(crate::migrator(dialect), &pool_handle, backend).await?;
        Ok(Self { dialect, pool: pool_handle, attached })
    }

    /// A metric value as this target stores it: NaN as 0 with the NaN flag, and on MySQL, whose
    /// DOUBLE holds no infinities, ±infinity as ±f64::MAX (as the server stores logged values).
    pub fn stored_value(&self, value: f64) -> (f64, i64) {
        crate::batch::stored_value(self.dialect, value)
    }

    /// Whether the source is attached (see [`ImportTarget::open`]).
    pub fn attached(&self) -> bool {
        self.attached
    }

    fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect, text)
    }

    /// What the target holds: nothing, an import's rows, or other data.
    ///
    /// # Errors
    /// `Database` when a query fails.
    pub async fn state(&self) -> Result<TargetState> {
        if let Some(position) = self.position().await? {
            return Ok(match position.finished_ms {
                Some(_) => TargetState::Finished(position),
                None => TargetState::Interrupted(position),
            });
        }
        let mut found = Vec::new();
        for (what, query) in [
            ("experiments besides Default", "SELECT COUNT(*) FROM experiments WHERE experiment_id <> 0"),
            ("experiment tags", "SELECT COUNT(*) FROM experiment_tags"),
            ("runs", "SELECT COUNT(*) FROM runs"),
            ("logged models", "SELECT COUNT(*) FROM logged_models"),
            ("registered models", "SELECT COUNT(*) FROM registered_models"),
        ] {
            let count: i64 = self.sql(query).query().fetch_one(&self.pool).await?.try_get(0)?;
            if count > 0 {
                found.push(format!("{count} {what}"));
            }
        }
        Ok(if found.is_empty() { TargetState::Empty } else { TargetState::NotEmpty(found.join(", ")) })
    }

    async fn position(&self) -> Result<Option<ImportPosition>> {
        let row = self
            .sql("SELECT source, revision, stage, after_key, started_ms, finished_ms FROM import_state WHERE id = 1")
            .query()
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ImportPosition {
                source: row.try_get(0)?,
                revision: row.try_get(1)?,
                stage: row.try_get(2)?,
                after_key: row.try_get(3)?,
                started_ms: row.try_get(4)?,
                finished_ms: row.try_get(5)?,
            })
        })
        .transpose()
    }

    /// Starts an import into an empty target: removes the Default experiment a server may have created
    /// (the source brings its own) and records the import's start, in one transaction.
    ///
    /// # Errors
    /// `InvalidState` when the target is not empty; `Database` when a write fails.
    pub async fn start(&self, source: &str, revision: &str) -> Result<ImportPosition> {
        let refusal = match self.state().await? {
            TargetState::Empty => None,
            TargetState::NotEmpty(what) => Some(format!("it holds {what}")),
            TargetState::Interrupted(_) => Some("an import into it did not finish".to_owned()),
            TargetState::Finished(_) => Some("it holds an earlier import".to_owned()),
        };
        if let Some(why) = refusal {
            return Err(Error::InvalidState(format!("The target database is not empty: {why}")));
        }
        let mut tx = self.pool.begin().await?;
        self.sql("DELETE FROM experiments WHERE experiment_id = 0").query().execute(&mut *tx).await?;
        let started_ms = crate::now_ms();
        let mut insert =
            self.sql("INSERT INTO import_state (id, source, revision, stage, after_key, started_ms) VALUES (1, ");
        insert.arg(source).push(", ").arg(revision).push(", '', '', ").arg(started_ms).push(")");
        insert.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(ImportPosition {
            source: source.to_owned(),
            revision: revision.to_owned(),
            stage: String::new(),
            after_key: String::new(),
            started_ms,
            finished_ms: None,
        })
    }

    /// Opens the transaction of the next chunk.
    ///
    /// # Errors
    /// `Database` when the transaction cannot begin.
    pub async fn chunk(&self) -> Result<ImportChunk> {
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres | Dialect::MySql => self.pool.begin().await?,
        };
        Ok(ImportChunk { dialect: self.dialect, tx })
    }

    /// Ends the import: new experiments get ids from `next_experiment_id` on (or above the largest
    /// imported id, whichever is higher), and the import is marked finished.
    ///
    /// # Errors
    /// `Database` when a write fails.
    pub async fn finish(&self, next_experiment_id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let largest: Option<i64> =
            self.sql("SELECT MAX(experiment_id) FROM experiments").query().fetch_one(&mut *tx).await?.try_get(0)?;
        let next = next_experiment_id.max(largest.unwrap_or(0) + 1).max(1);
        match self.dialect {
            Dialect::Sqlite => {
                // AUTOINCREMENT hands out one more than the sequence row; the row exists once a row was
                // inserted into the table.
                self.sql("DELETE FROM sqlite_sequence WHERE name = 'experiments'").query().execute(&mut *tx).await?;
                let mut insert = self.sql("INSERT INTO sqlite_sequence (name, seq) VALUES ('experiments', ");
                insert.arg(next - 1).push(")");
                insert.query().execute(&mut *tx).await?;
            }
            Dialect::Postgres => {
                let mut setval = self.sql("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), ");
                setval.arg(next).push(", false)");
                setval.query().execute(&mut *tx).await?;
            }
            Dialect::MySql => {
                // DDL takes no placeholders; `next` is an integer.
                sqlx::query(&format!("ALTER TABLE experiments AUTO_INCREMENT = {next}")).execute(&mut *tx).await?;
            }
        }
        let mut done = self.sql("UPDATE import_state SET finished_ms = ");
        done.arg(crate::now_ms()).push(" WHERE id = 1");
        done.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The number of rows in each of [`IMPORTED_TABLES`].
    ///
    /// # Errors
    /// `Database` when a query fails.
    pub async fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut counts = Vec::with_capacity(IMPORTED_TABLES.len());
        for table in IMPORTED_TABLES {
            let count: i64 =
                self.sql(&format!("SELECT COUNT(*) FROM {table}")).query().fetch_one(&self.pool).await?.try_get(0)?;
            counts.push((*table, count));
        }
        Ok(counts)
    }

    /// Every metric point, streamed to `each` in no particular order.
    ///
    /// # Errors
    /// `Database` when the query fails.
    pub async fn for_each_metric(&self, mut each: impl FnMut(MetricRow) + Send) -> Result<()> {
        use futures_util::TryStreamExt as _;
        let sql = self.sql("SELECT run_id, key, timestamp, step, value, is_nan FROM metrics");
        let mut rows = sql.query().fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(MetricRow {
                run_id: row.try_get(0)?,
                key: row.try_get(1)?,
                timestamp: row.try_get(2)?,
                step: row.try_get(3)?,
                value: row.try_get(4)?,
                is_nan: row.try_get(5)?,
            });
        }
        Ok(())
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One chunk of an import: rows written in one transaction, with the import's new position.
pub struct ImportChunk {
    dialect: Dialect,
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl ImportChunk {
    /// Inserts `rows` into their table, many to a statement.
    ///
    /// # Errors
    /// `Database` when an insert fails (a row that breaks a constraint of this schema, say); the chunk
    /// is then rolled back when it is dropped.
    pub async fn insert<R: ImportRow>(&mut self, rows: Vec<R>) -> Result<()> {
        let per_statement = (PLACEHOLDERS_PER_STATEMENT / R::COLUMNS.len()).clamp(1, ROWS_PER_STATEMENT);
        let head = format!("INSERT INTO {} ({}) VALUES ", R::TABLE, R::COLUMNS.join(", "));
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut sql = Sql::new(self.dialect, &head);
            for (i, row) in rows.by_ref().take(per_statement).enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                row.bind(&mut sql);
                sql.push(")");
            }
            sql.query().execute(&mut *self.tx).await.map_err(|err| match err {
                sqlx::Error::Database(db) => Error::InvalidState(format!("Writing to {} failed: {db}", R::TABLE)),
                other => Error::Database(other),
            })?;
        }
        Ok(())
    }

    /// Runs `sql`, an `INSERT ... SELECT` that reads the attached source ([`ATTACHED_SOURCE`]), and
    /// returns the number of rows it inserted.
    ///
    /// # Errors
    /// As [`ImportChunk::insert`].
    pub async fn insert_select(&mut self, sql: &Sql) -> Result<u64> {
        let done = sql.query().execute(&mut *self.tx).await.map_err(|err| match err {
            sqlx::Error::Database(db) => Error::InvalidState(format!("Copying rows inside SQLite failed: {db}")),
            other => Error::Database(other),
        })?;
        Ok(done.rows_affected())
    }

    /// Records the position this chunk reaches (`stage`, and the key of its last row) and commits it.
    ///
    /// # Errors
    /// `Database` when the commit fails; nothing of the chunk is then written.
    pub async fn commit(mut self, stage: &str, after_key: &str) -> Result<()> {
        let mut position = Sql::new(self.dialect, "UPDATE import_state SET stage = ");
        position.arg(stage).push(", after_key = ").arg(after_key).push(" WHERE id = 1");
        position.query().execute(&mut *self.tx).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqlStore, StoreConfig};

    fn experiment(id: i64, name: &str) -> ExperimentRow {
        ExperimentRow {
            experiment_id: id,
            name: name.to_owned(),
            artifact_location: format!("/old/{id}"),
            lifecycle_stage: "active".to_owned(),
            creation_time: 1,
            last_update_time: 2,
        }
    }

    #[tokio::test]
    async fn chunks_land_whole_or_not_at_all_and_new_experiments_continue_the_source_sequence() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = BackendUri::Sqlite { path: dir.path().join("target.db") };
        let target = ImportTarget::open(&backend, &PoolSettings::default(), None).await.expect("open");
        assert_eq!(target.state().await.expect("state"), TargetState::Empty);
        target.start("sqlite:///mlflow.db", "dc11669786a5").await.expect("start");

        let mut landed = target.chunk().await.expect("chunk");
        landed.insert(vec![experiment(0, "Default"), experiment(7, "seven")]).await.expect("insert");
        landed.commit("experiments", "7").await.expect("commit");
        // A chunk dropped before its commit (the process killed midway) leaves nothing behind.
        let mut lost = target.chunk().await.expect("chunk");
        lost.insert(vec![experiment(9, "nine")]).await.expect("insert");
        drop(lost);

        let TargetState::Interrupted(position) = target.state().await.expect("state") else {
            panic!("an unfinished import is reported as interrupted");
        };
        assert_eq!((position.stage.as_str(), position.after_key.as_str()), ("experiments", "7"));
        assert_eq!(target.counts().await.expect("counts")[0], ("experiments", 2));
        assert!(target.start("sqlite:///other.db", "dc11669786a5").await.is_err(), "a second start is refused");

        // MLflow had handed out ids up to 11 before deleting those experiments for good.
        target.finish(12).await.expect("finish");
        assert!(matches!(target.state().await.expect("state"), TargetState::Finished(_)));
        target.close().await;

        let config = StoreConfig {
            backend,
            default_artifact_root: "/new".to_owned(),
            max_read_connections: 1,
            pool: PoolSettings::default(),
            migrate: true,
        };
        let store = SqlStore::open(&config).await.expect("server store");
        assert_eq!(store.get_experiment(7).await.expect("imported").artifact_location, "/old/7");
        assert_eq!(store.create_experiment("new", None, &[]).await.expect("create"), 12);
        store.close().await;
    }
}
