//! Moving an MLflow server's data onto ferroflow (`ferroflow db import`).
//!
//! The source is read table by table in key order, in chunks; each chunk is written to the target in
//! one transaction together with the import's position (see `ferroflow_store::import`). So the import
//! streams (memory holds one chunk, however long the metric histories), and one that was killed resumes
//! after its last committed chunk. Every id is kept: experiment ids, run uuids, dataset and logged model
//! ids, model names and version numbers, and the experiment id sequence.
//!
//! Stages, in the order the target's foreign keys need: experiments (with their tags), datasets, logged
//! models (tags, params, metrics), runs (tags, params, metric points, latest metrics, dataset and model
//! inputs, model outputs), registered models (tags, versions, version tags, aliases).

mod mlflow_files;
mod mlflow_sql;
mod revisions;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferroflow_core::model::LoggedModelStatus;
use ferroflow_store::import::ATTACHED_SOURCE;
use ferroflow_store::import::{
    AliasRow, DatasetRow, ExperimentRow, ExperimentTagRow, ImportChunk, ImportPosition, ImportRow, ImportTarget,
    LatestMetricRow, LoggedModelMetricRow, LoggedModelParamRow, LoggedModelRow, LoggedModelTagRow, MetricRow,
    ModelVersionRow, ModelVersionTagRow, ParamRow, RegisteredModelRow, RegisteredModelTagRow, RunDatasetInputRow,
    RunInputTagRow, RunModelInputRow, RunModelOutputRow, RunRow, RunTagRow, TargetState,
};
use ferroflow_store::sql::{Dialect, Sql};
use ferroflow_store::{BackendUri, PoolSettings};
use futures_util::TryStreamExt as _;
use sha2::Digest as _;
use sqlx::any::AnyRow;

pub use mlflow_files::MlflowFiles;
pub use mlflow_sql::MlflowDatabase;

use mlflow_sql::{
    copied_logged_models, copied_runs, copied_versions, dataset_exists, experiment_exists, get, run_exists, text,
};

/// Why an import could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source or target is not one this import takes; the text says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// Reading the source failed.
    #[error("{context}: {source}")]
    Source {
        /// What was being read.
        context: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Writing the target failed.
    #[error("{0}")]
    Target(String),
}

impl Error {
    fn source(context: impl Into<String>, source: sqlx::Error) -> Self {
        Self::Source { context: context.into(), source }
    }
}

impl From<ferroflow_store::Error> for Error {
    fn from(err: ferroflow_store::Error) -> Self {
        match err {
            ferroflow_store::Error::Database(db) => Self::Target(format!("The target database failed: {db}")),
            ferroflow_store::Error::Migrate(migrate) => {
                Self::Target(format!("The target's schema could not be brought up to date: {migrate}"))
            }
            other => Self::Target(other.to_string()),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A position within a stage: the last key copied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    fn bind(&self, sql: &mut Sql) {
        match self {
            Self::Int(id) => sql.arg(*id),
            Self::Text(text) => sql.arg(text.as_str()),
        };
    }

    fn stored(&self) -> String {
        match self {
            Self::Int(id) => id.to_string(),
            Self::Text(text) => text.clone(),
        }
    }
}

/// An MLflow server's data: its database, or its file store.
pub enum Source {
    /// A database that `mlflow server` created.
    Database(MlflowDatabase),
    /// An `mlruns` directory.
    Files(MlflowFiles),
}

impl Source {
    fn revision(&self) -> &str {
        match self {
            Self::Database(db) => &db.revision,
            Self::Files(_) => mlflow_files::REVISION,
        }
    }

    async fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        match self {
            Self::Database(db) => db.counts().await,
            Self::Files(files) => files.counts(),
        }
    }

    async fn left_behind(&self) -> Result<Vec<(String, i64)>> {
        match self {
            Self::Database(db) => {
                let mut left = db.tables_left_behind().await?;
                left.extend(db.orphans().await?);
                Ok(left)
            }
            Self::Files(files) => files.left_behind(),
        }
    }

    async fn next_experiment_id(&self) -> Result<i64> {
        match self {
            Self::Database(db) => db.next_experiment_id().await,
            Self::Files(files) => Ok(files.next_experiment_id()),
        }
    }

    async fn close(&self) {
        if let Self::Database(db) = self {
            db.close().await;
        }
    }
}

/// What to import, from where, to where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The MLflow database (`sqlite:///mlflow.db`, `postgresql://...`, `mysql+pymysql://...`), or
    /// its file store (`file:./mlruns`, or a directory).
    pub from: String,
    /// The ferroflow database.
    pub to: String,
    /// Continue an interrupted import into `to` instead of refusing it.
    pub resume: bool,
    /// Connection pool of the target, on PostgreSQL and MySQL.
    pub pool: PoolSettings,
}

/// Where an import reports how far it got (a progress bar, a log).
pub trait Progress: Sync {
    /// A stage begins: `total` rows to copy, `done` of them already copied by an earlier attempt.
    fn stage(&self, name: &str, total: u64, done: u64);
    /// `rows` more rows were copied.
    fn advance(&self, rows: u64);
    /// The current stage ended.
    fn finish_stage(&self);
}

/// A [`Progress`] that reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish_stage(&self) {}
}

/// One table's rows on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// The ferroflow table.
    pub table: &'static str,
    /// Rows the source holds for it.
    pub source: i64,
    /// Rows the target holds.
    pub target: i64,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The source, without credentials.
    pub source: String,
    /// Its MLflow schema revision.
    pub revision: String,
    /// Whether this run continued an interrupted import.
    pub resumed: bool,
    /// Whether the target already held this import, so nothing was copied.
    pub already_imported: bool,
    /// Rows per table, on each side.
    pub counts: Vec<TableCount>,
    /// Source tables this import does not carry over that hold rows, with their counts.
    pub left_behind: Vec<(String, i64)>,
    /// How long the copy took.
    pub elapsed: Duration,
}

impl Report {
    /// What the source was: its MLflow schema revision, or a file store.
    pub fn described_source(&self) -> String {
        if self.revision == mlflow_files::REVISION {
            "an MLflow file store".to_owned()
        } else {
            format!("MLflow schema {}", self.revision)
        }
    }
}

/// An order-independent digest of a set of metric points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricDigest {
    /// How many points.
    pub points: u64,
    /// The sum (mod 2^128) of each point's SHA-256, truncated to 128 bits.
    pub sum: u128,
}

impl MetricDigest {
    fn add(&mut self, run_id: &str, key: &str, timestamp: i64, step: i64, value: f64, is_nan: i64) {
        let mut hasher = sha2::Sha256::new();
        for part in [run_id.as_bytes(), b"\0", key.as_bytes(), b"\0"] {
            hasher.update(part);
        }
        hasher.update(timestamp.to_le_bytes());
        hasher.update(step.to_le_bytes());
        hasher.update(value.to_bits().to_le_bytes());
        hasher.update(is_nan.to_le_bytes());
        let hash = hasher.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash[..16]);
        self.points += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(first));
    }
}

/// What `--verify` found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Rows per table, on each side.
    pub counts: Vec<TableCount>,
    /// The source's metric points.
    pub source_metrics: MetricDigest,
    /// The target's metric points.
    pub target_metrics: MetricDigest,
}

impl Verification {
    /// Whether both sides hold the same.
    pub fn matches(&self) -> bool {
        self.counts.iter().all(|c| c.source == c.target) && self.source_metrics == self.target_metrics
    }
}

/// Rows a page of a parent table holds (experiments, datasets, logged models, runs, registered models).
const PAGE: usize = 200;
/// Rows a child table's insert buffer holds before it is written.
const BUFFER: usize = 5_000;

/// The stages of an import, in the order the target's foreign keys need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Experiments,
    Datasets,
    LoggedModels,
    Runs,
    RegisteredModels,
}

impl Stage {
    const ALL: [Self; 5] = [Self::Experiments, Self::Datasets, Self::LoggedModels, Self::Runs, Self::RegisteredModels];

    /// The name recorded as the import's position.
    fn name(self) -> &'static str {
        match self {
            Self::Experiments => "experiments",
            Self::Datasets => "datasets",
            Self::LoggedModels => "logged_models",
            Self::Runs => "runs",
            Self::RegisteredModels => "registered_models",
        }
    }

    /// The target tables the stage fills (for the progress totals).
    fn tables(self) -> &'static [&'static str] {
        match self {
            Self::Experiments => &["experiments", "experiment_tags"],
            Self::Datasets => &["datasets"],
            Self::LoggedModels => {
                &["logged_models", "logged_model_tags", "logged_model_params", "logged_model_metrics"]
            }
            Self::Runs => &[
                "runs",
                "run_tags",
                "params",
                "metrics",
                "latest_metrics",
                "run_dataset_inputs",
                "run_input_tags",
                "run_model_inputs",
                "run_model_outputs",
            ],
            Self::RegisteredModels => &[
                "registered_models",
                "registered_model_tags",
                "model_versions",
                "model_version_tags",
                "registered_model_aliases",
            ],
        }
    }
}

/// Opens both sides and checks they fit together; answers them, the source's name and the target's URI.
async fn open(options: &ImportOptions) -> Result<(Source, String, ImportTarget, BackendUri)> {
    let to = BackendUri::parse(&options.to).map_err(|err| Error::Refused(err.to_string()))?;
    if let Some(root) = MlflowFiles::names_one(&options.from) {
        let files = MlflowFiles::open(&root)?;
        let name = files.name();
        let target = ImportTarget::open(&to, &options.pool, None).await?;
        return Ok((Source::Files(files), name, target, to));
    }
    let from = BackendUri::parse(&options.from).map_err(|err| Error::Refused(err.to_string()))?;
    let source = MlflowDatabase::open(&from).await?;
    let others = source.other_workspaces().await?;
    if !others.is_empty() {
        return Err(Error::Refused(format!(
            "The MLflow database has experiments or models in workspaces other than 'default' ({}); ferroflow has \
             one workspace, so it cannot import them yet.",
            others.join(", ")
        )));
    }
    let attach = match &from {
        BackendUri::Sqlite { path } => Some(path.as_path()),
        BackendUri::Postgres { .. } | BackendUri::MySql { .. } => None,
    };
    let target = ImportTarget::open(&to, &options.pool, attach).await?;
    Ok((Source::Database(source), from.to_string(), target, to))
}

/// Imports the MLflow database `options.from` into the ferroflow database `options.to`.
///
/// # Errors
/// `Refused` for a source or target this import does not take (not MLflow's, an unknown revision, a
/// non-empty target, an interrupted import without `resume`, ...); `Source` or `Target` when reading or
/// writing fails midway, after which `resume` continues.
pub async fn import(options: &ImportOptions, progress: &dyn Progress) -> Result<Report> {
    let (source, source_name, target, to) = open(options).await?;
    let outcome = run(&source, &source_name, &target, &to, options.resume, progress).await;
    source.close().await;
    target.close().await;
    outcome
}

async fn run(
    source: &Source,
    source_name: &str,
    target: &ImportTarget,
    to: &BackendUri,
    resume: bool,
    progress: &dyn Progress,
) -> Result<Report> {
    let started = Instant::now();
    let source_counts = source.counts().await?;
    let mut report = Report {
        source: source_name.to_owned(),
        revision: source.revision().to_owned(),
        resumed: false,
        already_imported: false,
        counts: Vec::new(),
        left_behind: source.left_behind().await?,
        elapsed: Duration::ZERO,
    };
    let same_source =
        |position: &ImportPosition| position.source == source_name && position.revision == source.revision();
    let position = match target.state().await? {
        TargetState::Empty => target.start(source_name, source.revision()).await?,
        TargetState::NotEmpty(what) => {
            return Err(Error::Refused(format!(
                "The target {to} is not empty (it holds {what}). Import into a new, empty database."
            )))
        }
        TargetState::Interrupted(position) if !same_source(&position) => {
            return Err(Error::Refused(format!(
                "The target {to} holds an unfinished import from {} (revision {}), not from this source.",
                position.source, position.revision
            )))
        }
        TargetState::Interrupted(_) if !resume => {
            return Err(Error::Refused(format!(
                "An import into {to} was interrupted. Run the same command with --resume to finish it."
            )))
        }
        TargetState::Interrupted(position) => {
            report.resumed = true;
            position
        }
        TargetState::Finished(position) if same_source(&position) => {
            report.already_imported = true;
            report.counts = pair_counts(&source_counts, &target.counts().await?);
            return Ok(report);
        }
        TargetState::Finished(position) => {
            return Err(Error::Refused(format!(
                "The target {to} already holds an import from {}; import into a new, empty database.",
                position.source
            )))
        }
    };

    let resumed_stage = Stage::ALL.iter().position(|stage| stage.name() == position.stage);
    let done_counts = if report.resumed { target.counts().await? } else { Vec::new() };
    for (index, stage) in Stage::ALL.into_iter().enumerate() {
        let after = match resumed_stage {
            Some(at) if index < at => continue,
            Some(at) if index == at => Some(position.after_key.clone()),
            _ => None,
        };
        let total = rows_of(&source_counts, stage.tables());
        progress.stage(stage.name(), total, rows_of(&done_counts, stage.tables()).min(total));
        let after = match stage {
            Stage::Experiments => int_key(after)?,
            _ => text_key(after),
        };
        match source {
            Source::Database(source) => {
                let copy = StageCopy { source, target, progress };
                match stage {
                    Stage::Experiments => copy.experiments(after).await?,
                    Stage::Datasets => copy.datasets(after).await?,
                    Stage::LoggedModels => copy.logged_models(after).await?,
                    Stage::Runs => copy.runs(after).await?,
                    Stage::RegisteredModels => copy.registered_models(after).await?,
                }
            }
            Source::Files(source) => {
                mlflow_files::FileStageCopy { source, target, progress }.copy(stage, after).await?
            }
        }
        progress.finish_stage();
    }
    target.finish(source.next_experiment_id().await?).await?;
    report.counts = pair_counts(&source_counts, &target.counts().await?);
    report.elapsed = started.elapsed();
    Ok(report)
}

fn int_key(stored: Option<String>) -> Result<Key> {
    match stored.filter(|s| !s.is_empty()) {
        None => Ok(Key::Int(i64::MIN)),
        Some(text) => text
            .parse()
            .map(Key::Int)
            .map_err(|_| Error::Refused(format!("The interrupted import's position '{text}' is not an id"))),
    }
}

fn text_key(stored: Option<String>) -> Key {
    Key::Text(stored.unwrap_or_default())
}

fn rows_of(counts: &[(&'static str, i64)], tables: &[&str]) -> u64 {
    let rows: i64 = counts.iter().filter(|(table, _)| tables.contains(table)).map(|(_, n)| *n).sum();
    u64::try_from(rows).unwrap_or(0)
}

fn pair_counts(source: &[(&'static str, i64)], target: &[(&'static str, i64)]) -> Vec<TableCount> {
    target
        .iter()
        .map(|(table, count)| TableCount {
            table,
            source: source.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n),
            target: *count,
        })
        .collect()
}

/// Compares the source with the target: rows per table, and a digest of every metric point.
///
/// # Errors
/// As [`import`] when either side cannot be read.
pub async fn verify(options: &ImportOptions) -> Result<Verification> {
    let (source, _, target, _) = open(options).await?;
    let counts = pair_counts(&source.counts().await?, &target.counts().await?);
    let mut source_metrics = MetricDigest::default();
    match &source {
        Source::Database(db) => {
            let sql = db.sql(&format!("{} FROM metrics WHERE {}", metric_columns(db), run_exists("run_uuid")));
            let mut rows = std::pin::pin!(db.stream(&sql, "metrics"));
            while let Some(row) = rows.try_next().await? {
                let p = metric_row(&row)?;
                source_metrics.add(&p.run_id, &p.key, p.timestamp, p.step, p.value, p.is_nan);
            }
        }
        Source::Files(files) => {
            files.for_each_metric(&target, |p| {
                source_metrics.add(&p.run_id, &p.key, p.timestamp, p.step, p.value, p.is_nan)
            })?;
        }
    }
    let mut target_metrics = MetricDigest::default();
    target.for_each_metric(|p| target_metrics.add(&p.run_id, &p.key, p.timestamp, p.step, p.value, p.is_nan)).await?;
    source.close().await;
    target.close().await;
    Ok(Verification { counts, source_metrics, target_metrics })
}

/// A metric point as the source spells it: run, key, timestamp, step, value, NaN flag.
fn metric_row(row: &AnyRow) -> Result<MetricRow> {
    let (value, is_nan) = finite(get::<Option<f64>>(row, 4, "metrics")?, get::<i64>(row, 5, "metrics")?);
    Ok(MetricRow {
        run_id: get(row, 0, "metrics")?,
        key: get(row, 1, "metrics")?,
        timestamp: get(row, 2, "metrics")?,
        step: get(row, 3, "metrics")?,
        value,
        is_nan,
    })
}

/// A stored value and its NaN flag as ferroflow keeps them: a NaN (or a NULL, which SQLite makes of
/// one) as 0 with the flag set.
fn finite(value: Option<f64>, is_nan: i64) -> (f64, i64) {
    match value {
        Some(v) if !v.is_nan() && is_nan == 0 => (v, 0),
        _ => (0.0, 1),
    }
}

/// Copies the stages from one source to one target.
struct StageCopy<'a> {
    source: &'a MlflowDatabase,
    target: &'a ImportTarget,
    progress: &'a dyn Progress,
}

impl StageCopy<'_> {
    /// Copies the rows `sql` selects into `chunk`, decoding each with `decode`, a buffer at a time.
    async fn stream<R: ImportRow>(
        &self,
        chunk: &mut ImportChunk,
        sql: &Sql,
        table: &str,
        decode: impl Fn(&AnyRow) -> Result<R>,
    ) -> Result<()> {
        let mut rows = std::pin::pin!(self.source.stream(sql, table));
        let mut buffer = Vec::with_capacity(BUFFER);
        while let Some(row) = rows.try_next().await? {
            buffer.push(decode(&row)?);
            if buffer.len() == BUFFER {
                self.write(chunk, std::mem::take(&mut buffer)).await?;
            }
        }
        self.write(chunk, buffer).await
    }

    async fn write<R: ImportRow>(&self, chunk: &mut ImportChunk, rows: Vec<R>) -> Result<()> {
        let count = rows.len() as u64;
        chunk.insert(rows).await?;
        self.progress.advance(count);
        Ok(())
    }

    async fn experiments(&self, mut after: Key) -> Result<()> {
        let c = self.source;
        let columns = format!(
            "{}, name, artifact_location, lifecycle_stage, {}, {}",
            c.int("experiment_id"),
            c.int("creation_time"),
            c.int("last_update_time")
        );
        loop {
            let page = self.source.page("experiments", &columns, None, "experiment_id", &after, PAGE).await?;
            let Some(last) = page.last() else { return Ok(()) };
            let last = Key::Int(get(last, 0, "experiments")?);
            let mut rows = Vec::with_capacity(page.len());
            for row in &page {
                let t = "experiments";
                rows.push(ExperimentRow {
                    experiment_id: get(row, 0, t)?,
                    name: get(row, 1, t)?,
                    artifact_location: get::<Option<String>>(row, 2, t)?.unwrap_or_default(),
                    lifecycle_stage: active_unless(get(row, 3, t)?),
                    creation_time: get::<Option<i64>>(row, 4, t)?.unwrap_or(0),
                    last_update_time: get::<Option<i64>>(row, 5, t)?.unwrap_or(0),
                });
            }
            let mut chunk = self.target.chunk().await?;
            self.write(&mut chunk, rows).await?;
            let tags = self.source.page_children(
                &format!("SELECT {}, key, value FROM experiment_tags", c.int("experiment_id")),
                None,
                "experiment_id",
                ("experiment_id", "SELECT experiment_id FROM experiments WHERE 1 = 1", "experiment_id"),
                &after,
                &last,
            );
            self.stream(&mut chunk, &tags, "experiment_tags", |row| {
                Ok(ExperimentTagRow {
                    experiment_id: get(row, 0, "experiment_tags")?,
                    key: get(row, 1, "experiment_tags")?,
                    value: text(row, 2, "experiment_tags")?.unwrap_or_default(),
                })
            })
            .await?;
            chunk.commit(Stage::Experiments.name(), &last.stored()).await?;
            after = last;
        }
    }

    async fn datasets(&self, mut after: Key) -> Result<()> {
        if !self.source.has_table("datasets") {
            return Ok(());
        }
        let c = self.source;
        let columns = format!(
            "dataset_uuid, {}, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile",
            c.int("experiment_id")
        );
        loop {
            let page = self
                .source
                .page("datasets", &columns, Some(&experiment_exists("experiment_id")), "dataset_uuid", &after, PAGE * 5)
                .await?;
            let Some(last) = page.last() else { return Ok(()) };
            let last = Key::Text(get(last, 0, "datasets")?);
            let mut rows = Vec::with_capacity(page.len());
            for row in &page {
                let t = "datasets";
                rows.push(DatasetRow {
                    dataset_id: get(row, 0, t)?,
                    experiment_id: get(row, 1, t)?,
                    name: get(row, 2, t)?,
                    digest: get(row, 3, t)?,
                    source_type: get(row, 4, t)?,
                    source: text(row, 5, t)?.unwrap_or_default(),
                    schema: text(row, 6, t)?,
                    profile: text(row, 7, t)?,
                });
            }
            let mut chunk = self.target.chunk().await?;
            self.write(&mut chunk, rows).await?;
            chunk.commit(Stage::Datasets.name(), &last.stored()).await?;
            after = last;
        }
    }

    async fn logged_models(&self, mut after: Key) -> Result<()> {
        if !self.source.has_table("logged_models") {
            return Ok(());
        }
        let c = self.source;
        let columns = format!(
            "model_id, {}, name, artifact_location, {}, {}, {}, lifecycle_stage, model_type, source_run_id, \
             status_message",
            c.int("experiment_id"),
            c.int("creation_timestamp_ms"),
            c.int("last_updated_timestamp_ms"),
            c.int("status")
        );
        loop {
            let page = self
                .source
                .page("logged_models", &columns, Some(&experiment_exists("experiment_id")), "model_id", &after, PAGE)
                .await?;
            let Some(last) = page.last() else { return Ok(()) };
            let last = Key::Text(get(last, 0, "logged_models")?);
            let mut rows = Vec::with_capacity(page.len());
            for row in &page {
                let t = "logged_models";
                let status = LoggedModelStatus::from_number(get(row, 6, t)?).unwrap_or(LoggedModelStatus::Pending);
                rows.push(LoggedModelRow {
                    model_id: get(row, 0, t)?,
                    experiment_id: get(row, 1, t)?,
                    name: get(row, 2, t)?,
                    artifact_location: get(row, 3, t)?,
                    creation_timestamp_ms: get(row, 4, t)?,
                    last_updated_timestamp_ms: get(row, 5, t)?,
                    status: status.as_str().to_owned(),
                    lifecycle_stage: active_unless(get(row, 7, t)?),
                    model_type: get(row, 8, t)?,
                    source_run_id: get(row, 9, t)?,
                    status_message: get(row, 10, t)?,
                });
            }
            let mut chunk = self.target.chunk().await?;
            self.write(&mut chunk, rows).await?;
            let parents = copied_logged_models();
            let range = |select: &str| {
                self.source.page_children(select, None, "model_id", ("model_id", &parents, "model_id"), &after, &last)
            };
            let tags = range("SELECT model_id, tag_key, tag_value FROM logged_model_tags");
            self.stream(&mut chunk, &tags, "logged_model_tags", |row| {
                let t = "logged_model_tags";
                Ok(LoggedModelTagRow {
                    model_id: get(row, 0, t)?,
                    key: get(row, 1, t)?,
                    value: text(row, 2, t)?.unwrap_or_default(),
                })
            })
            .await?;
            let params = range("SELECT model_id, param_key, param_value FROM logged_model_params");
            self.stream(&mut chunk, &params, "logged_model_params", |row| {
                let t = "logged_model_params";
                Ok(LoggedModelParamRow {
                    model_id: get(row, 0, t)?,
                    key: get(row, 1, t)?,
                    value: text(row, 2, t)?.unwrap_or_default(),
                })
            })
            .await?;
            let metrics = range(&format!(
                "SELECT model_id, metric_name, {}, {}, metric_value, run_id, dataset_name, dataset_digest \
                 FROM logged_model_metrics",
                c.int("metric_timestamp_ms"),
                c.int("metric_step")
            ));
            self.stream(&mut chunk, &metrics, "logged_model_metrics", |row| {
                let t = "logged_model_metrics";
                let (value, is_nan) = finite(get(row, 4, t)?, 0);
                Ok(LoggedModelMetricRow {
                    model_id: get(row, 0, t)?,
                    key: get(row, 1, t)?,
                    timestamp: get(row, 2, t)?,
                    step: get(row, 3, t)?,
                    value,
                    is_nan,
                    run_id: get(row, 5, t)?,
                    dataset_name: get::<Option<String>>(row, 6, t)?.unwrap_or_default(),
                    dataset_digest: get::<Option<String>>(row, 7, t)?.unwrap_or_default(),
                })
            })
            .await?;
            chunk.commit(Stage::LoggedModels.name(), &last.stored()).await?;
            after = last;
        }
    }

    async fn runs(&self, mut after: Key) -> Result<()> {
        let c = self.source;
        let columns = format!(
            "run_uuid, name, {}, user_id, status, {}, {}, artifact_uri, lifecycle_stage, {}",
            c.int("experiment_id"),
            c.int("start_time"),
            c.int("end_time"),
            c.int("deleted_time")
        );
        loop {
            let page = self
                .source
                .page("runs", &columns, Some(&experiment_exists("experiment_id")), "run_uuid", &after, PAGE)
                .await?;
            let Some(last) = page.last() else { return Ok(()) };
            let last = Key::Text(get(last, 0, "runs")?);
            let mut rows = Vec::with_capacity(page.len());
            let mut experiment_of = HashMap::with_capacity(page.len());
            for row in &page {
                let t = "runs";
                let run_id: String = get(row, 0, t)?;
                let experiment_id: i64 = get::<Option<i64>>(row, 2, t)?.ok_or_else(|| {
                    Error::Refused(format!("Run {run_id} of the MLflow database belongs to no experiment"))
                })?;
                experiment_of.insert(run_id.clone(), experiment_id);
                rows.push(RunRow {
                    run_id,
                    name: get::<Option<String>>(row, 1, t)?.unwrap_or_default(),
                    experiment_id,
                    user_id: get::<Option<String>>(row, 3, t)?.unwrap_or_default(),
                    status: get::<Option<String>>(row, 4, t)?.unwrap_or_else(|| "RUNNING".to_owned()),
                    start_time: get::<Option<i64>>(row, 5, t)?.unwrap_or(0),
                    end_time: get(row, 6, t)?,
                    artifact_uri: get::<Option<String>>(row, 7, t)?.unwrap_or_default(),
                    lifecycle_stage: active_unless(get(row, 8, t)?),
                    deleted_time: get(row, 9, t)?,
                });
            }
            let experiment = |run_id: &str| experiment_of.get(run_id).copied().unwrap_or_default();
            let mut chunk = self.target.chunk().await?;
            self.write(&mut chunk, rows).await?;
            // Rows of the runs of this page: `key` names the run, and `condition`, if any, holds too.
            let runs = copied_runs();
            let range = |select: &str, condition: Option<&str>, key: &str| {
                self.source.page_children(select, condition, key, (key, &runs, "run_uuid"), &after, &last)
            };

            let tags = range("SELECT run_uuid, key, value FROM tags", None, "run_uuid");
            self.stream(&mut chunk, &tags, "tags", |row| {
                let run_id: String = get(row, 0, "tags")?;
                Ok(RunTagRow {
                    experiment_id: experiment(&run_id),
                    run_id,
                    key: get(row, 1, "tags")?,
                    value: text(row, 2, "tags")?.unwrap_or_default(),
                })
            })
            .await?;
            let params = range("SELECT run_uuid, key, value FROM params", None, "run_uuid");
            self.stream(&mut chunk, &params, "params", |row| {
                let run_id: String = get(row, 0, "params")?;
                Ok(ParamRow {
                    experiment_id: experiment(&run_id),
                    run_id,
                    key: get(row, 1, "params")?,
                    value: text(row, 2, "params")?.unwrap_or_default(),
                })
            })
            .await?;
            if self.target.attached() {
                // Both sides are SQLite files: the points are copied inside SQLite, without passing
                // through this process (three times faster).
                let mut copy = Sql::new(
                    Dialect::Sqlite,
                    &format!(
                        "INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan) \
                         SELECT run_uuid, key, timestamp, step, {NOT_NAN} THEN value ELSE 0.0 END, \
                         {NOT_NAN} THEN 0 ELSE 1 END FROM {ATTACHED_SOURCE}.metrics \
                         WHERE run_uuid IN (SELECT run_uuid FROM {ATTACHED_SOURCE}.runs WHERE experiment_id IN \
                         (SELECT experiment_id FROM {ATTACHED_SOURCE}.experiments) AND run_uuid > "
                    ),
                );
                after.bind(&mut copy);
                copy.push(" AND run_uuid <= ");
                last.bind(&mut copy);
                copy.push(") AND run_uuid > ");
                after.bind(&mut copy);
                copy.push(" AND run_uuid <= ");
                last.bind(&mut copy);
                self.progress.advance(chunk.insert_select(&copy).await?);
            } else {
                let metrics = range(&format!("{} FROM metrics", metric_columns(c)), None, "run_uuid");
                self.stream(&mut chunk, &metrics, "metrics", metric_row).await?;
            }
            let latest = range(
                &format!(
                    "SELECT run_uuid, key, {}, {}, value, {} FROM latest_metrics",
                    c.int("timestamp"),
                    c.int("step"),
                    c.flag("is_nan")
                ),
                None,
                "run_uuid",
            );
            self.stream(&mut chunk, &latest, "latest_metrics", |row| {
                let t = "latest_metrics";
                let run_id: String = get(row, 0, t)?;
                let (value, is_nan) = finite(get(row, 4, t)?, get(row, 5, t)?);
                Ok(LatestMetricRow {
                    experiment_id: experiment(&run_id),
                    run_id,
                    key: get(row, 1, t)?,
                    value,
                    is_nan,
                    timestamp: get::<Option<i64>>(row, 2, t)?.unwrap_or(0),
                    step: get(row, 3, t)?,
                })
            })
            .await?;

            if self.source.has_table("inputs") {
                let datasets = range(
                    "SELECT destination_id, source_id FROM inputs",
                    Some(&format!(
                        "source_type = 'DATASET' AND destination_type = 'RUN' AND {}",
                        dataset_exists("source_id")
                    )),
                    "destination_id",
                );
                self.stream(&mut chunk, &datasets, "inputs", |row| {
                    Ok(RunDatasetInputRow { run_id: get(row, 0, "inputs")?, dataset_id: get(row, 1, "inputs")? })
                })
                .await?;
                let input_tags = range(
                    "SELECT i.destination_id, i.source_id, t.name, t.value FROM input_tags t \
                     JOIN inputs i ON i.input_uuid = t.input_uuid",
                    Some(&format!(
                        "i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND {}",
                        dataset_exists("i.source_id")
                    )),
                    "i.destination_id",
                );
                self.stream(&mut chunk, &input_tags, "input_tags", |row| {
                    let t = "input_tags";
                    Ok(RunInputTagRow {
                        run_id: get(row, 0, t)?,
                        dataset_id: get(row, 1, t)?,
                        key: get(row, 2, t)?,
                        value: text(row, 3, t)?.unwrap_or_default(),
                    })
                })
                .await?;
                let model_inputs = range(
                    "SELECT source_id, destination_id FROM inputs",
                    Some("source_type = 'RUN_INPUT' AND destination_type = 'MODEL_INPUT'"),
                    "source_id",
                );
                self.stream(&mut chunk, &model_inputs, "inputs", |row| {
                    Ok(RunModelInputRow { run_id: get(row, 0, "inputs")?, model_id: get(row, 1, "inputs")? })
                })
                .await?;
                let model_outputs = range(
                    &format!(
                        "SELECT source_id, destination_id, {} FROM inputs",
                        c.int(&c.column_or("inputs", "step", "0"))
                    ),
                    Some("source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT'"),
                    "source_id",
                );
                self.stream(&mut chunk, &model_outputs, "inputs", |row| {
                    Ok(RunModelOutputRow {
                        run_id: get(row, 0, "inputs")?,
                        model_id: get(row, 1, "inputs")?,
                        step: get(row, 2, "inputs")?,
                    })
                })
                .await?;
            }
            chunk.commit(Stage::Runs.name(), &last.stored()).await?;
            after = last;
        }
    }

    async fn registered_models(&self, mut after: Key) -> Result<()> {
        let c = self.source;
        if !self.source.has_table("registered_models") {
            return Ok(());
        }
        let columns = format!("name, {}, {}, description", c.int("creation_time"), c.int("last_updated_time"));
        loop {
            let page = self.source.page("registered_models", &columns, None, "name", &after, PAGE).await?;
            let Some(last) = page.last() else { return Ok(()) };
            let last = Key::Text(get(last, 0, "registered_models")?);
            let mut rows = Vec::with_capacity(page.len());
            for row in &page {
                let t = "registered_models";
                rows.push(RegisteredModelRow {
                    name: get(row, 0, t)?,
                    creation_timestamp: get::<Option<i64>>(row, 1, t)?.unwrap_or(0),
                    last_updated_timestamp: get::<Option<i64>>(row, 2, t)?.unwrap_or(0),
                    description: text(row, 3, t)?,
                });
            }
            let mut chunk = self.target.chunk().await?;
            self.write(&mut chunk, rows).await?;
            let versions = copied_versions();
            let in_model = ("name", "SELECT name FROM registered_models WHERE 1 = 1", "name");
            let in_version = ("(name, version)", versions.as_str(), "name");
            let range = |select: &str, parent: (&str, &str, &str)| {
                self.source.page_children(select, None, "name", parent, &after, &last)
            };

            let tags = range("SELECT name, key, value FROM registered_model_tags", in_model);
            self.stream(&mut chunk, &tags, "registered_model_tags", |row| {
                let t = "registered_model_tags";
                Ok(RegisteredModelTagRow {
                    name: get(row, 0, t)?,
                    key: get(row, 1, t)?,
                    value: text(row, 2, t)?.unwrap_or_default(),
                })
            })
            .await?;
            let versions = range(
                &format!(
                    "SELECT name, {}, {}, {}, user_id, current_stage, description, source, {}, run_id, run_link \
                 FROM model_versions",
                    c.int("version"),
                    c.int("creation_time"),
                    c.int("last_updated_time"),
                    c.column_or("model_versions", "storage_location", "source")
                ),
                in_model,
            );
            self.stream(&mut chunk, &versions, "model_versions", |row| {
                let t = "model_versions";
                let source: Option<String> = get(row, 7, t)?;
                let storage: Option<String> = get(row, 8, t)?;
                Ok(ModelVersionRow {
                    name: get(row, 0, t)?,
                    version: get(row, 1, t)?,
                    creation_timestamp: get::<Option<i64>>(row, 2, t)?.unwrap_or(0),
                    last_updated_timestamp: get::<Option<i64>>(row, 3, t)?.unwrap_or(0),
                    user_id: get(row, 4, t)?,
                    current_stage: get::<Option<String>>(row, 5, t)?.unwrap_or_else(|| "None".to_owned()),
                    description: text(row, 6, t)?,
                    storage_location: storage.or_else(|| source.clone()).unwrap_or_default(),
                    source: source.unwrap_or_default(),
                    run_id: get(row, 9, t)?,
                    run_link: get(row, 10, t)?,
                    // MLflow's registry does not store it; its answers carry none.
                    model_id: None,
                })
            })
            .await?;
            let version_tags =
                range(&format!("SELECT name, {}, key, value FROM model_version_tags", c.int("version")), in_version);
            self.stream(&mut chunk, &version_tags, "model_version_tags", |row| {
                let t = "model_version_tags";
                Ok(ModelVersionTagRow {
                    name: get(row, 0, t)?,
                    version: get(row, 1, t)?,
                    key: get(row, 2, t)?,
                    value: text(row, 3, t)?.unwrap_or_default(),
                })
            })
            .await?;
            if self.source.has_table("registered_model_aliases") {
                let aliases = range(
                    &format!("SELECT name, alias, {} FROM registered_model_aliases", c.int("version")),
                    in_version,
                );
                self.stream(&mut chunk, &aliases, "registered_model_aliases", |row| {
                    let t = "registered_model_aliases";
                    Ok(AliasRow { name: get(row, 0, t)?, alias: get(row, 1, t)?, version: get(row, 2, t)? })
                })
                .await?;
            }
            chunk.commit(Stage::RegisteredModels.name(), &last.stored()).await?;
            after = last;
        }
    }
}

/// The condition under which a source point is a number, as [`finite`] decides it, opening a `CASE`.
const NOT_NAN: &str = "CASE WHEN value IS NOT NULL AND is_nan = 0";

/// The columns of a metric point, as [`metric_row`] reads them.
fn metric_columns(c: &MlflowDatabase) -> String {
    format!("SELECT run_uuid, key, {}, {}, value, {}", c.int("timestamp"), c.int("step"), c.flag("is_nan"))
}

/// A lifecycle stage, `active` where MLflow left it empty.
fn active_unless(stage: Option<String>) -> String {
    stage.filter(|s| !s.is_empty()).unwrap_or_else(|| "active".to_owned())
}
