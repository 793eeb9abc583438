//! Reading MLflow's file store: the `mlruns` directory that `mlflow server --backend-store-uri
//! ./mlruns` (or a client with a `file:` tracking URI) writes, in the layouts of MLflow 2.x and 3.x.
//!
//! ```text
//! <root>/<experiment id>/meta.yaml, tags/<key>           (deleted experiments under .trash/)
//! <root>/<experiment id>/<run id>/meta.yaml, params/, tags/, metrics/<key>, inputs/*/meta.yaml, outputs/*/meta.yaml
//! <root>/<experiment id>/datasets/<md5>/meta.yaml
//! <root>/<experiment id>/models/<model id>/meta.yaml, params/, tags/, metrics/   (logged models, 3.x)
//! <root>/models/<name>/meta.yaml, tags/, aliases/<alias>, version-<n>/meta.yaml, version-<n>/tags/
//! ```
//!
//! A key with `/` is a nested path under `params/`, `tags/` or `metrics/`; a value is the file's
//! whole content. A metric file holds one point per line, `timestamp value step`, with optional
//! trailing fields (a logged model's run id, a dataset's name and digest).
//!
//! Opening reads every `meta.yaml` once, so a corrupt one is refused, by path, before anything is
//! written. The store is only read.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use ferroflow_core::model::{LoggedModelStatus, RunStatus};
use ferroflow_store::import::{
    AliasRow, DatasetRow, ExperimentRow, ExperimentTagRow, ImportChunk, ImportRow, ImportTarget, LatestMetricRow,
    LoggedModelMetricRow, LoggedModelParamRow, LoggedModelRow, LoggedModelTagRow, MetricRow, ModelVersionRow,
    ModelVersionTagRow, ParamRow, RegisteredModelRow, RegisteredModelTagRow, RunDatasetInputRow, RunInputTagRow,
    RunModelInputRow, RunModelOutputRow, RunRow, RunTagRow,
};
use sha2::Digest as _;
use yaml_rust2::{Yaml, YamlLoader};

use crate::{Error, Key, Progress, Result, Stage, BUFFER, PAGE};

/// What an import reports as the source's "revision".
pub(crate) const REVISION: &str = "file store";

/// Directories of an experiment that are not runs.
const NOT_RUNS: [&str; 4] = ["tags", "datasets", "traces", "models"];

/// An MLflow file store, scanned.
pub struct MlflowFiles {
    root: PathBuf,
    experiments: Vec<Experiment>,
    runs: Vec<Entry>,
    logged_models: Vec<Entry>,
    datasets: Vec<Dataset>,
    registered_models: Vec<PathBuf>,
    /// Directories that look like neither, with what they are.
    skipped: Vec<(String, i64)>,
}

struct Experiment {
    id: i64,
    dir: PathBuf,
    deleted: bool,
    meta: Yaml,
}

/// A run or logged model: its id, experiment and directory (its `meta.yaml` is read again when copied).
struct Entry {
    id: String,
    experiment_id: i64,
    dir: PathBuf,
}

struct Dataset {
    /// The id given to it here (the store names datasets only within their experiment).
    id: String,
    experiment_id: i64,
    meta: Yaml,
}

/// A metric point of a file: timestamp, value, step, and the fields after them.
struct Point<'a> {
    timestamp: i64,
    value: f64,
    step: i64,
    rest: Vec<&'a str>,
}

/// Reads `meta.yaml` of `dir`, refusing a missing, empty or unparsable one by path.
fn read_meta(dir: &Path) -> Result<Yaml> {
    let path = dir.join("meta.yaml");
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Error::Refused(format!("Cannot read {}: {err}", path.display())))?;
    let mut documents = YamlLoader::load_from_str(&text)
        .map_err(|err| Error::Refused(format!("{} is not valid YAML: {err}. Repair or remove it.", path.display())))?;
    match documents.pop() {
        Some(meta @ Yaml::Hash(_)) => Ok(meta),
        _ => Err(Error::Refused(format!(
            "{} holds no fields (it is empty or not a mapping). Repair or remove it.",
            path.display()
        ))),
    }
}

fn field_text(meta: &Yaml, key: &str) -> Option<String> {
    match &meta[key] {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field_int(meta: &Yaml, key: &str) -> Option<i64> {
    match &meta[key] {
        Yaml::Integer(n) => Some(*n),
        Yaml::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The subdirectories of `dir` (none when it does not exist), sorted by name.
fn subdirectories(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(Error::Refused(format!("Cannot list {}: {err}", dir.display()))),
    };
    for entry in entries {
        let entry = entry.map_err(|err| Error::Refused(format!("Cannot list {}: {err}", dir.display())))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The key-value files under `dir` (params, tags, aliases), keys being paths relative to it.
fn key_values(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((at, prefix)) = pending.pop() {
        let entries = match std::fs::read_dir(&at) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(Error::Refused(format!("Cannot list {}: {err}", at.display()))),
        };
        for entry in entries {
            let entry = entry.map_err(|err| Error::Refused(format!("Cannot list {}: {err}", at.display())))?;
            let key = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push((entry.path(), format!("{key}/")));
            } else {
                let bytes = std::fs::read(entry.path())
                    .map_err(|err| Error::Refused(format!("Cannot read {}: {err}", entry.path().display())))?;
                found.push((key, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Parses one metric line; `None` for a line that is not `timestamp value step ...`.
fn point(line: &str) -> Option<Point<'_>> {
    let mut fields = line.split(' ');
    let timestamp = fields.next()?.parse().ok()?;
    let value = match fields.next()? {
        "nan" | "NaN" => f64::NAN,
        "inf" | "Infinity" => f64::INFINITY,
        "-inf" | "-Infinity" => f64::NEG_INFINITY,
        number => number.parse().ok()?,
    };
    let step = match fields.next() {
        Some(step) => step.parse().ok()?,
        None => 0,
    };
    Some(Point { timestamp, value, step, rest: fields.collect() })
}

/// The metric files under `dir` with their points, each point once: MLflow 3's `log_model`
/// appends a second, identical copy of a run's step-0 points, which a database holds once.
/// Calls `each(key, point)` and returns how many duplicate lines were left out.
fn for_each_point(dir: &Path, mut each: impl FnMut(&str, Point<'_>) -> Result<()>) -> Result<u64> {
    let mut duplicates = 0;
    for (key, text) in key_values(dir)? {
        let mut seen = HashSet::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some(parsed) = point(line) else {
                return Err(Error::Refused(format!(
                    "Line {} of {} is not a metric point (timestamp value step): '{line}'",
                    number + 1,
                    dir.join(&key).display()
                )));
            };
            if !seen.insert(line) {
                duplicates += 1;
                continue;
            }
            each(&key, parsed)?;
        }
    }
    Ok(duplicates)
}

/// The id a dataset of the file store gets: the store names it by a digest of its name and digest,
/// unique only within its experiment.
fn dataset_id(experiment_id: i64, name_in_store: &str) -> String {
    let hash = sha2::Sha256::digest(format!("{experiment_id}/{name_in_store}"));
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn lifecycle(meta: &Yaml, deleted: bool) -> String {
    if deleted {
        return "deleted".to_owned();
    }
    field_text(meta, "lifecycle_stage").filter(|s| !s.is_empty()).unwrap_or_else(|| "active".to_owned())
}

impl MlflowFiles {
    /// Whether `from` names a file store: a `file:` URI, or a directory.
    pub(crate) fn names_one(from: &str) -> Option<PathBuf> {
        if let Some(rest) = from.strip_prefix("file://") {
            return Some(PathBuf::from(rest));
        }
        if let Some(rest) = from.strip_prefix("file:") {
            return Some(PathBuf::from(rest));
        }
        let path = PathBuf::from(from);
        path.is_dir().then_some(path)
    }

    /// Scans the store at `root`, reading every `meta.yaml`.
    ///
    /// # Errors
    /// `Refused` when `root` is no MLflow file store, or a `meta.yaml` is missing, empty or corrupt.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::Refused(format!("There is no MLflow file store at {}", root.display())));
        }
        let mut store = Self {
            root: root.to_path_buf(),
            experiments: Vec::new(),
            runs: Vec::new(),
            logged_models: Vec::new(),
            datasets: Vec::new(),
            registered_models: Vec::new(),
            skipped: Vec::new(),
        };
        let mut not_experiments = 0;
        let mut candidates: Vec<(String, PathBuf, bool)> = Vec::new();
        for (name, dir) in subdirectories(root)? {
            match name.as_str() {
                ".trash" => candidates.extend(subdirectories(&dir)?.into_iter().map(|(n, d)| (n, d, true))),
                "models" => {}
                _ => candidates.push((name, dir, false)),
            }
        }
        for (name, dir, deleted) in candidates {
            let Ok(id) = name.parse::<i64>() else {
                not_experiments += 1;
                continue;
            };
            let meta = read_meta(&dir)?;
            if field_int(&meta, "experiment_id").is_some_and(|stated| stated != id) {
                return Err(Error::Refused(format!(
                    "{} names experiment {} but lies in directory {name}",
                    dir.join("meta.yaml").display(),
                    field_text(&meta, "experiment_id").unwrap_or_default()
                )));
            }
            for (run_id, run_dir) in subdirectories(&dir)? {
                if NOT_RUNS.contains(&run_id.as_str()) {
                    continue;
                }
                read_meta(&run_dir)?;
                store.runs.push(Entry { id: run_id, experiment_id: id, dir: run_dir });
            }
            for (model_id, model_dir) in subdirectories(&dir.join("models"))? {
                read_meta(&model_dir)?;
                store.logged_models.push(Entry { id: model_id, experiment_id: id, dir: model_dir });
            }
            for (name, dataset_dir) in subdirectories(&dir.join("datasets"))? {
                let meta = read_meta(&dataset_dir)?;
                store.datasets.push(Dataset { id: dataset_id(id, &name), experiment_id: id, meta });
            }
            let traces = subdirectories(&dir.join("traces"))?.len();
            if traces > 0 {
                store.skipped.push((format!("traces of experiment {id}"), traces as i64));
            }
            store.experiments.push(Experiment { id, dir, deleted, meta });
        }
        if not_experiments > 0 {
            store.skipped.push(("directories that are not experiments".to_owned(), not_experiments));
        }
        for (_, model_dir) in subdirectories(&root.join("models"))? {
            read_meta(&model_dir)?;
            for (version, version_dir) in subdirectories(&model_dir)? {
                if version.starts_with("version-") {
                    read_meta(&version_dir)?;
                }
            }
            store.registered_models.push(model_dir);
        }
        if store.experiments.is_empty() && store.registered_models.is_empty() {
            return Err(Error::Refused(format!(
                "{} is not an MLflow file store: it holds no experiment directory with a meta.yaml",
                root.display()
            )));
        }
        store.experiments.sort_by_key(|e| e.id);
        store.runs.sort_by(|a, b| a.id.cmp(&b.id));
        store.logged_models.sort_by(|a, b| a.id.cmp(&b.id));
        store.datasets.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(store)
    }

    /// The store's path, as the import records its source.
    pub fn name(&self) -> String {
        format!("file:{}", self.root.display())
    }

    /// The id ferroflow gives its next experiment: after the largest here.
    pub fn next_experiment_id(&self) -> i64 {
        self.experiments.last().map_or(0, |e| e.id + 1)
    }

    /// What the store holds that this import does not carry over, with counts: traces, duplicate metric
    /// lines, inputs naming a dataset that is not there, stray directories.
    pub fn left_behind(&self) -> Result<Vec<(String, i64)>> {
        let mut left = self.skipped.clone();
        let (mut duplicates, mut dangling) = (0, 0);
        for run in &self.runs {
            duplicates += for_each_point(&run.dir.join("metrics"), |_, _| Ok(()))?;
            dangling += self.run_inputs(run)?.dangling;
        }
        if duplicates > 0 {
            left.push(("repeated metric lines, each kept once".to_owned(), duplicates as i64));
        }
        if dangling > 0 {
            left.push(("run inputs naming a dataset that is not in the store".to_owned(), dangling as i64));
        }
        Ok(left)
    }

    /// Rows the store holds for each ferroflow table (metric points counted once each).
    ///
    /// # Errors
    /// `Refused` when a file cannot be read or parsed.
    pub fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut counts: HashMap<&'static str, i64> = HashMap::new();
        let mut add = |table: &'static str, n: usize| *counts.entry(table).or_default() += n as i64;
        add("experiments", self.experiments.len());
        for experiment in &self.experiments {
            add("experiment_tags", key_values(&experiment.dir.join("tags"))?.len());
        }
        add("datasets", self.datasets.len());
        add("logged_models", self.logged_models.len());
        for model in &self.logged_models {
            add("logged_model_tags", key_values(&model.dir.join("tags"))?.len());
            add("logged_model_params", key_values(&model.dir.join("params"))?.len());
            let mut points = 0;
            for_each_point(&model.dir.join("metrics"), |_, _| {
                points += 1;
                Ok(())
            })?;
            add("logged_model_metrics", points);
        }
        add("runs", self.runs.len());
        for run in &self.runs {
            add("run_tags", key_values(&run.dir.join("tags"))?.len());
            add("params", key_values(&run.dir.join("params"))?.len());
            let (mut points, mut keys) = (0, HashSet::new());
            for_each_point(&run.dir.join("metrics"), |key, _| {
                points += 1;
                keys.insert(key.to_owned());
                Ok(())
            })?;
            add("metrics", points);
            add("latest_metrics", keys.len());
            let inputs = self.run_inputs(run)?;
            add("run_dataset_inputs", inputs.datasets.len());
            add("run_input_tags", inputs.tags.len());
            add("run_model_inputs", inputs.models.len());
            add("run_model_outputs", self.run_outputs(run)?.len());
        }
        add("registered_models", self.registered_models.len());
        for model in &self.registered_models {
            add("registered_model_tags", key_values(&model.join("tags"))?.len());
            add("registered_model_aliases", key_values(&model.join("aliases"))?.len());
            for (version, version_dir) in subdirectories(model)? {
                if version.starts_with("version-") {
                    add("model_versions", 1);
                    add("model_version_tags", key_values(&version_dir.join("tags"))?.len());
                }
            }
        }
        let tables = Stage::ALL.iter().flat_map(|stage| stage.tables().iter().copied());
        Ok(tables.map(|table| (table, counts.get(table).copied().unwrap_or(0))).collect())
    }

    /// Calls `each` with every run metric point, as the import writes it into `target`.
    pub fn for_each_metric(&self, target: &ImportTarget, mut each: impl FnMut(MetricRow)) -> Result<()> {
        for run in &self.runs {
            for_each_point(&run.dir.join("metrics"), |key, p| {
                let (value, is_nan) = target.stored_value(p.value);
                each(MetricRow {
                    run_id: run.id.clone(),
                    key: key.to_owned(),
                    timestamp: p.timestamp,
                    step: p.step,
                    value,
                    is_nan,
                });
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The dataset and model inputs of a run.
    fn run_inputs(&self, run: &Entry) -> Result<RunInputs> {
        let mut inputs = RunInputs::default();
        for (_, input_dir) in subdirectories(&run.dir.join("inputs"))? {
            let meta = read_meta(&input_dir)?;
            let source = field_text(&meta, "source_id").unwrap_or_default();
            match field_text(&meta, "source_type").as_deref() {
                Some("DATASET") => {
                    let id = dataset_id(run.experiment_id, &source);
                    if !self.datasets.iter().any(|d| d.id == id) {
                        inputs.dangling += 1;
                        continue;
                    }
                    if let Some(tags) = meta["tags"].as_hash() {
                        for (key, value) in tags {
                            inputs.tags.push(RunInputTagRow {
                                run_id: run.id.clone(),
                                dataset_id: id.clone(),
                                key: yaml_text(key),
                                value: yaml_text(value),
                            });
                        }
                    }
                    inputs.datasets.push(RunDatasetInputRow { run_id: run.id.clone(), dataset_id: id });
                }
                Some("MODEL") => inputs.models.push(RunModelInputRow { run_id: run.id.clone(), model_id: source }),
                _ => {}
            }
        }
        Ok(inputs)
    }

    fn run_outputs(&self, run: &Entry) -> Result<Vec<RunModelOutputRow>> {
        let mut outputs = Vec::new();
        for (_, output_dir) in subdirectories(&run.dir.join("outputs"))? {
            let meta = read_meta(&output_dir)?;
            if let Some(model_id) = field_text(&meta, "source_id") {
                outputs.push(RunModelOutputRow {
                    run_id: run.id.clone(),
                    model_id,
                    step: field_int(&meta, "step").unwrap_or(0),
                });
            }
        }
        Ok(outputs)
    }
}

#[derive(Default)]
struct RunInputs {
    datasets: Vec<RunDatasetInputRow>,
    tags: Vec<RunInputTagRow>,
    models: Vec<RunModelInputRow>,
    dangling: u64,
}

fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(n) => n.to_string(),
        Yaml::Boolean(b) => if *b { "True" } else { "False" }.to_owned(),
        _ => String::new(),
    }
}

/// Rows buffered for one table of a chunk, written [`BUFFER`] at a time.
struct Buffered<R> {
    rows: Vec<R>,
}

impl<R: ImportRow> Buffered<R> {
    fn new() -> Self {
        Self { rows: Vec::new() }
    }

    async fn push(&mut self, row: R, chunk: &mut ImportChunk, progress: &dyn Progress) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= BUFFER {
            self.flush(chunk, progress).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, chunk: &mut ImportChunk, progress: &dyn Progress) -> Result<()> {
        let rows = std::mem::take(&mut self.rows);
        let count = rows.len() as u64;
        chunk.insert(rows).await?;
        progress.advance(count);
        Ok(())
    }
}

async fn write<R: ImportRow>(chunk: &mut ImportChunk, rows: Vec<R>, progress: &dyn Progress) -> Result<()> {
    let count = rows.len() as u64;
    chunk.insert(rows).await?;
    progress.advance(count);
    Ok(())
}

/// The entries after `after` (in key order), a page at a time.
fn pages<'a, T>(entries: &'a [T], key: impl Fn(&T) -> Key, after: &Key, size: usize) -> std::slice::Chunks<'a, T> {
    let start = entries.partition_point(|e| &key(e) <= after);
    entries[start..].chunks(size)
}

/// Copies a file store's stages into a target.
pub(crate) struct FileStageCopy<'a> {
    pub(crate) source: &'a MlflowFiles,
    pub(crate) target: &'a ImportTarget,
    pub(crate) progress: &'a dyn Progress,
}

impl FileStageCopy<'_> {
    pub(crate) async fn copy(&self, stage: Stage, after: Key) -> Result<()> {
        match stage {
            Stage::Experiments => self.experiments(&after).await,
            Stage::Datasets => self.datasets(&after).await,
            Stage::LoggedModels => self.logged_models(&after).await,
            Stage::Runs => self.runs(&after).await,
            Stage::RegisteredModels => self.registered_models(&after).await,
        }
    }

    async fn experiments(&self, after: &Key) -> Result<()> {
        for page in pages(&self.source.experiments, |e| Key::Int(e.id), after, PAGE) {
            let mut chunk = self.target.chunk().await?;
            let mut rows = Vec::with_capacity(page.len());
            let mut tags = Vec::new();
            for e in page {
                rows.push(ExperimentRow {
                    experiment_id: e.id,
                    name: field_text(&e.meta, "name").unwrap_or_else(|| format!("experiment_{}", e.id)),
                    artifact_location: field_text(&e.meta, "artifact_location").unwrap_or_default(),
                    lifecycle_stage: lifecycle(&e.meta, e.deleted),
                    creation_time: field_int(&e.meta, "creation_time").unwrap_or(0),
                    last_update_time: field_int(&e.meta, "last_update_time").unwrap_or(0),
                });
                for (key, value) in key_values(&e.dir.join("tags"))? {
                    tags.push(ExperimentTagRow { experiment_id: e.id, key, value });
                }
            }
            write(&mut chunk, rows, self.progress).await?;
            write(&mut chunk, tags, self.progress).await?;
            let last = page.last().map(|e| e.id).unwrap_or_default();
            chunk.commit(Stage::Experiments.name(), &last.to_string()).await?;
        }
        Ok(())
    }

    async fn datasets(&self, after: &Key) -> Result<()> {
        for page in pages(&self.source.datasets, |d| Key::Text(d.id.clone()), after, PAGE * 5) {
            let mut chunk = self.target.chunk().await?;
            let rows = page
                .iter()
                .map(|d| DatasetRow {
                    dataset_id: d.id.clone(),
                    experiment_id: d.experiment_id,
                    name: field_text(&d.meta, "name").unwrap_or_default(),
                    digest: field_text(&d.meta, "digest").unwrap_or_default(),
                    source_type: field_text(&d.meta, "source_type").unwrap_or_default(),
                    source: field_text(&d.meta, "source").unwrap_or_default(),
                    schema: field_text(&d.meta, "schema"),
                    profile: field_text(&d.meta, "profile"),
                })
                .collect();
            write(&mut chunk, rows, self.progress).await?;
            let last = page.last().map(|d| d.id.clone()).unwrap_or_default();
            chunk.commit(Stage::Datasets.name(), &last).await?;
        }
        Ok(())
    }

    async fn logged_models(&self, after: &Key) -> Result<()> {
        for page in pages(&self.source.logged_models, |m| Key::Text(m.id.clone()), after, PAGE) {
            let mut chunk = self.target.chunk().await?;
            let mut rows = Vec::with_capacity(page.len());
            for m in page {
                let meta = read_meta(&m.dir)?;
                let status = field_int(&meta, "status")
                    .and_then(LoggedModelStatus::from_number)
                    .or_else(|| field_text(&meta, "status").and_then(|s| LoggedModelStatus::from_name(&s)))
                    .unwrap_or(LoggedModelStatus::Pending);
                rows.push(LoggedModelRow {
                    model_id: m.id.clone(),
                    experiment_id: m.experiment_id,
                    name: field_text(&meta, "name").unwrap_or_default(),
                    artifact_location: field_text(&meta, "artifact_location").unwrap_or_default(),
                    creation_timestamp_ms: field_int(&meta, "creation_timestamp").unwrap_or(0),
                    last_updated_timestamp_ms: field_int(&meta, "last_updated_timestamp").unwrap_or(0),
                    status: status.as_str().to_owned(),
                    lifecycle_stage: lifecycle(&meta, false),
                    model_type: field_text(&meta, "model_type"),
                    source_run_id: field_text(&meta, "source_run_id"),
                    status_message: field_text(&meta, "status_message"),
                });
            }
            write(&mut chunk, rows, self.progress).await?;
            let (mut tags, mut params, mut metrics) = (Vec::new(), Vec::new(), Buffered::new());
            for m in page {
                for (key, value) in key_values(&m.dir.join("tags"))? {
                    tags.push(LoggedModelTagRow { model_id: m.id.clone(), key, value });
                }
                for (key, value) in key_values(&m.dir.join("params"))? {
                    params.push(LoggedModelParamRow { model_id: m.id.clone(), key, value });
                }
                let mut points = Vec::new();
                for_each_point(&m.dir.join("metrics"), |key, p| {
                    let (value, is_nan) = self.target.stored_value(p.value);
                    // After the step: the run id, then optionally the dataset's name (which may hold
                    // spaces) and digest.
                    let (run_id, dataset) = p.rest.split_first().map_or(("", &[][..]), |(r, d)| (*r, d));
                    let (dataset_name, dataset_digest) = match dataset.split_last() {
                        Some((digest, name)) if !name.is_empty() => (name.join(" "), (*digest).to_owned()),
                        _ => (String::new(), String::new()),
                    };
                    points.push(LoggedModelMetricRow {
                        model_id: m.id.clone(),
                        key: key.to_owned(),
                        timestamp: p.timestamp,
                        step: p.step,
                        value,
                        is_nan,
                        run_id: run_id.to_owned(),
                        dataset_name,
                        dataset_digest,
                    });
                    Ok(())
                })?;
                for point in points {
                    metrics.push(point, &mut chunk, self.progress).await?;
                }
            }
            write(&mut chunk, tags, self.progress).await?;
            write(&mut chunk, params, self.progress).await?;
            metrics.flush(&mut chunk, self.progress).await?;
            let last = page.last().map(|m| m.id.clone()).unwrap_or_default();
            chunk.commit(Stage::LoggedModels.name(), &last).await?;
        }
        Ok(())
    }

    async fn runs(&self, after: &Key) -> Result<()> {
        for page in pages(&self.source.runs, |r| Key::Text(r.id.clone()), after, PAGE) {
            let mut chunk = self.target.chunk().await?;
            let mut rows = Vec::with_capacity(page.len());
            let mut tags_of = Vec::with_capacity(page.len());
            for run in page {
                let meta = read_meta(&run.dir)?;
                let tags = key_values(&run.dir.join("tags"))?;
                let name = field_text(&meta, "run_name")
                    .or_else(|| tags.iter().find(|(k, _)| k == "mlflow.runName").map(|(_, v)| v.clone()))
                    .unwrap_or_default();
                let status = field_int(&meta, "status")
                    .and_then(RunStatus::from_number)
                    .or_else(|| field_text(&meta, "status").and_then(|s| RunStatus::from_name(&s)))
                    .unwrap_or(RunStatus::Running);
                rows.push(RunRow {
                    run_id: run.id.clone(),
                    name,
                    experiment_id: run.experiment_id,
                    user_id: field_text(&meta, "user_id").unwrap_or_default(),
                    status: status.as_str().to_owned(),
                    start_time: field_int(&meta, "start_time").unwrap_or(0),
                    end_time: field_int(&meta, "end_time"),
                    artifact_uri: field_text(&meta, "artifact_uri").unwrap_or_default(),
                    lifecycle_stage: lifecycle(&meta, false),
                    deleted_time: field_int(&meta, "deleted_time"),
                });
                tags_of.push(tags);
            }
            write(&mut chunk, rows, self.progress).await?;
            let mut tag_rows = Vec::new();
            let mut params = Vec::new();
            let mut metrics = Buffered::new();
            let mut latest = Vec::new();
            let (mut datasets, mut input_tags, mut model_inputs, mut outputs) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (run, tags) in page.iter().zip(tags_of) {
                for (key, value) in tags {
                    tag_rows.push(RunTagRow { run_id: run.id.clone(), experiment_id: run.experiment_id, key, value });
                }
                for (key, value) in key_values(&run.dir.join("params"))? {
                    params.push(ParamRow { run_id: run.id.clone(), experiment_id: run.experiment_id, key, value });
                }
                // The latest point of each key: largest step, then timestamp, then value (NaN as 0).
                let mut newest: HashMap<String, (i64, i64, f64, i64)> = HashMap::new();
                let mut points = Vec::new();
                for_each_point(&run.dir.join("metrics"), |key, p| {
                    let (value, is_nan) = self.target.stored_value(p.value);
                    let candidate = (p.step, p.timestamp, value, is_nan);
                    let slot = newest.entry(key.to_owned()).or_insert(candidate);
                    if (candidate.0, candidate.1) > (slot.0, slot.1)
                        || ((candidate.0, candidate.1) == (slot.0, slot.1) && candidate.2 > slot.2)
                    {
                        *slot = candidate;
                    }
                    points.push(MetricRow {
                        run_id: run.id.clone(),
                        key: key.to_owned(),
                        timestamp: p.timestamp,
                        step: p.step,
                        value,
                        is_nan,
                    });
                    Ok(())
                })?;
                for point in points {
                    metrics.push(point, &mut chunk, self.progress).await?;
                }
                let mut newest: Vec<_> = newest.into_iter().collect();
                newest.sort_by(|a, b| a.0.cmp(&b.0));
                for (key, (step, timestamp, value, is_nan)) in newest {
                    latest.push(LatestMetricRow {
                        run_id: run.id.clone(),
                        experiment_id: run.experiment_id,
                        key,
                        value,
                        is_nan,
                        timestamp,
                        step,
                    });
                }
                let inputs = self.source.run_inputs(run)?;
                datasets.extend(inputs.datasets);
                input_tags.extend(inputs.tags);
                model_inputs.extend(inputs.models);
                outputs.extend(self.source.run_outputs(run)?);
            }
            write(&mut chunk, tag_rows, self.progress).await?;
            write(&mut chunk, params, self.progress).await?;
            metrics.flush(&mut chunk, self.progress).await?;
            write(&mut chunk, latest, self.progress).await?;
            write(&mut chunk, datasets, self.progress).await?;
            write(&mut chunk, input_tags, self.progress).await?;
            write(&mut chunk, model_inputs, self.progress).await?;
            write(&mut chunk, outputs, self.progress).await?;
            let last = page.last().map(|r| r.id.clone()).unwrap_or_default();
            chunk.commit(Stage::Runs.name(), &last).await?;
        }
        Ok(())
    }

    async fn registered_models(&self, after: &Key) -> Result<()> {
        let names: Vec<(String, &PathBuf)> = self
            .source
            .registered_models
            .iter()
            .map(|dir| Ok((field_text(&read_meta(dir)?, "name").unwrap_or_default(), dir)))
            .collect::<Result<_>>()?;
        let mut names = names;
        names.sort();
        for page in pages(&names, |(name, _)| Key::Text(name.clone()), after, PAGE) {
            let mut chunk = self.target.chunk().await?;
            let (mut models, mut tags, mut versions, mut version_tags, mut aliases) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (name, dir) in page {
                let meta = read_meta(dir)?;
                models.push(RegisteredModelRow {
                    name: name.clone(),
                    creation_timestamp: field_int(&meta, "creation_timestamp").unwrap_or(0),
                    last_updated_timestamp: field_int(&meta, "last_updated_timestamp").unwrap_or(0),
                    description: field_text(&meta, "description"),
                });
                for (key, value) in key_values(&dir.join("tags"))? {
                    tags.push(RegisteredModelTagRow { name: name.clone(), key, value });
                }
                for (version_name, version_dir) in subdirectories(dir)? {
                    if !version_name.starts_with("version-") {
                        continue;
                    }
                    let v = read_meta(&version_dir)?;
                    let version = field_int(&v, "version")
                        .or_else(|| version_name["version-".len()..].parse().ok())
                        .ok_or_else(|| {
                            Error::Refused(format!(
                                "{} names no version number",
                                version_dir.join("meta.yaml").display()
                            ))
                        })?;
                    let source = field_text(&v, "source").unwrap_or_default();
                    versions.push(ModelVersionRow {
                        name: name.clone(),
                        version,
                        creation_timestamp: field_int(&v, "creation_timestamp").unwrap_or(0),
                        last_updated_timestamp: field_int(&v, "last_updated_timestamp").unwrap_or(0),
                        user_id: field_text(&v, "user_id"),
                        current_stage: field_text(&v, "current_stage").unwrap_or_else(|| "None".to_owned()),
                        description: field_text(&v, "description"),
                        storage_location: field_text(&v, "storage_location").unwrap_or_else(|| source.clone()),
                        source,
                        run_id: field_text(&v, "run_id").filter(|r| !r.is_empty()),
                        run_link: field_text(&v, "run_link"),
                        model_id: field_text(&v, "model_id"),
                    });
                    for (key, value) in key_values(&version_dir.join("tags"))? {
                        version_tags.push(ModelVersionTagRow { name: name.clone(), version, key, value });
                    }
                }
                for (alias, version) in key_values(&dir.join("aliases"))? {
                    let version = version.trim().parse().map_err(|_| {
                        Error::Refused(format!(
                            "Alias '{alias}' of registered model '{name}' names no version number: '{version}'"
                        ))
                    })?;
                    aliases.push(AliasRow { name: name.clone(), alias, version });
                }
            }
            write(&mut chunk, models, self.progress).await?;
            write(&mut chunk, tags, self.progress).await?;
            write(&mut chunk, versions, self.progress).await?;
            write(&mut chunk, version_tags, self.progress).await?;
            write(&mut chunk, aliases, self.progress).await?;
            let last = page.last().map(|(name, _)| name.clone()).unwrap_or_default();
            chunk.commit(Stage::RegisteredModels.name(), &last).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_of_every_layout_parse() {
        let p = point("1700000000000 nan 3").unwrap();
        assert!(p.value.is_nan() && p.step == 3 && p.rest.is_empty());
        let p = point("17 -inf 0 m-1 my data 1a2b").unwrap();
        assert_eq!((p.value, p.rest), (f64::NEG_INFINITY, vec!["m-1", "my", "data", "1a2b"]));
        assert_eq!(point("17 0.5").unwrap().step, 0);
        assert!(point("seventeen 1 2").is_none());
    }

    #[test]
    fn a_corrupt_meta_yaml_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let experiment = dir.path().join("1");
        std::fs::create_dir_all(&experiment).unwrap();
        std::fs::write(experiment.join("meta.yaml"), "name: [unclosed\n").unwrap();
        let Err(Error::Refused(message)) = MlflowFiles::open(dir.path()) else {
            panic!("a corrupt meta.yaml was read")
        };
        assert!(message.contains("1/meta.yaml") && message.contains("not valid YAML"), "{message}");
        std::fs::write(experiment.join("meta.yaml"), "").unwrap();
        let Err(Error::Refused(message)) = MlflowFiles::open(dir.path()) else { panic!("an empty meta.yaml was read") };
        assert!(message.contains("holds no fields"), "{message}");
    }

    #[test]
    fn keys_with_slashes_are_nested_paths_and_duplicate_points_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics");
        std::fs::create_dir_all(metrics.join("val")).unwrap();
        std::fs::write(metrics.join("val").join("acc"), "1 0.5 0\n2 0.7 1\n1 0.5 0\n").unwrap();
        let mut seen = Vec::new();
        let duplicates = for_each_point(&metrics, |key, p| {
            seen.push((key.to_owned(), p.step));
            Ok(())
        })
        .unwrap();
        assert_eq!((seen, duplicates), (vec![("val/acc".to_owned(), 0), ("val/acc".to_owned(), 1)], 1));
    }
}
