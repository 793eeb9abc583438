//! The tracking entities as the store returns them and the server sends them.
//!
//! Field meanings follow MLflow's `Experiment`, `Run`, `Metric` ... messages (`service.proto`).

/// Lifecycle of experiments and runs: soft-deleted entities stay readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStage {
    /// Visible in default searches.
    Active,
    /// Soft-deleted; restorable.
    Deleted,
}

impl LifecycleStage {
    /// MLflow's spelling (`active` / `deleted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    /// Parses MLflow's spelling; anything but `deleted` counts as active.
    pub fn from_name(name: &str) -> Self {
        if name == "deleted" {
            Self::Deleted
        } else {
            Self::Active
        }
    }
}

/// Which lifecycle stages a search returns (`ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Active only (the default).
    #[default]
    ActiveOnly,
    /// Deleted only.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// The stages this view includes.
    pub fn stages(self) -> &'static [&'static str] {
        match self {
            Self::ActiveOnly => &["active"],
            Self::DeletedOnly => &["deleted"],
            Self::All => &["active", "deleted"],
        }
    }
}

/// A run's status (`RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Running.
    Running,
    /// Scheduled.
    Scheduled,
    /// Finished.
    Finished,
    /// Failed.
    Failed,
    /// Killed.
    Killed,
}

impl RunStatus {
    /// The enum name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Scheduled => "SCHEDULED",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Killed => "KILLED",
        }
    }

    /// Parses the enum name (as stored).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RUNNING" => Self::Running,
            "SCHEDULED" => Self::Scheduled,
            "FINISHED" => Self::Finished,
            "FAILED" => Self::Failed,
            "KILLED" => Self::Killed,
            _ => return None,
        })
    }

    /// Parses the proto enum number.
    pub fn from_number(number: i64) -> Option<Self> {
        Some(match number {
            1 => Self::Running,
            2 => Self::Scheduled,
            3 => Self::Finished,
            4 => Self::Failed,
            5 => Self::Killed,
            _ => return None,
        })
    }
}

/// A key/value tag or param.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// An experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// Integer id, as a string on the wire.
    pub experiment_id: i64,
    /// Unique name.
    pub name: String,
    /// Where its runs' artifacts live.
    pub artifact_location: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Creation time in ms since the epoch.
    pub creation_time: i64,
    /// Last update time in ms since the epoch.
    pub last_update_time: i64,
    /// Experiment tags.
    pub tags: Vec<KeyValue>,
}

/// One metric point. `value` may be NaN or ±infinity.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Metric key.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Time in ms since the epoch.
    pub timestamp: i64,
    /// Training step.
    pub step: i64,
    /// Dataset the value was computed on (MLflow 3).
    pub dataset_name: Option<String>,
    /// Digest of that dataset (MLflow 3).
    pub dataset_digest: Option<String>,
    /// Logged model the value belongs to (MLflow 3).
    pub model_id: Option<String>,
    /// Run the point belongs to, filled in by bulk reads only.
    pub run_id: Option<String>,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// 32-hex-digit id.
    pub run_id: String,
    /// Display name.
    pub run_name: String,
    /// Owning experiment.
    pub experiment_id: i64,
    /// Author.
    pub user_id: String,
    /// Status.
    pub status: RunStatus,
    /// Start time in ms.
    pub start_time: i64,
    /// End time in ms, once set.
    pub end_time: Option<i64>,
    /// Root of the run's artifacts.
    pub artifact_uri: String,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
}

/// A dataset a run used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Name.
    pub name: String,
    /// Content digest.
    pub digest: String,
    /// Kind of source (`local`, `s3`, `http`, ...).
    pub source_type: String,
    /// Source description (usually JSON).
    pub source: String,
    /// Schema (usually JSON), if known.
    pub schema: Option<String>,
    /// Profile (usually JSON), if known.
    pub profile: Option<String>,
}

/// A dataset used as an input of a run, with the input's tags (e.g. `mlflow.data.context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    /// Input tags.
    pub tags: Vec<KeyValue>,
    /// The dataset.
    pub dataset: Dataset,
}

/// A logged model a run wrote at some step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOutput {
    /// Logged model id.
    pub model_id: String,
    /// Step at which it was written.
    pub step: i64,
}

/// A complete run: metadata, data, inputs and outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Metadata.
    pub info: RunInfo,
    /// Latest value of every metric.
    pub metrics: Vec<Metric>,
    /// Params.
    pub params: Vec<KeyValue>,
    /// Tags.
    pub tags: Vec<KeyValue>,
    /// Dataset inputs.
    pub dataset_inputs: Vec<DatasetInput>,
    /// Logged models used as inputs.
    pub model_inputs: Vec<String>,
    /// Logged models written.
    pub model_outputs: Vec<ModelOutput>,
}

/// One page of results and the token of the next, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page.
    pub next_page_token: Option<String>,
}

/// State of a logged model's upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelStatus {
    /// Created; artifacts still uploading.
    Pending,
    /// Finalized.
    Ready,
    /// The upload failed.
    UploadFailed,
}

impl LoggedModelStatus {
    /// The wire (proto enum) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "LOGGED_MODEL_PENDING",
            Self::Ready => "LOGGED_MODEL_READY",
            Self::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// Parses the wire name; the short forms (`READY`) used in search filters are accepted too.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.strip_prefix("LOGGED_MODEL_").unwrap_or(name) {
            "PENDING" => Self::Pending,
            "READY" => Self::Ready,
            "UPLOAD_FAILED" => Self::UploadFailed,
            _ => return None,
        })
    }

    /// Parses the proto enum number.
    pub fn from_number(number: i64) -> Option<Self> {
        Some(match number {
            1 => Self::Pending,
            2 => Self::Ready,
            3 => Self::UploadFailed,
            _ => return None,
        })
    }
}

/// A model logged by a run (MLflow 3): its artifacts live under its own location.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    /// `m-<32 hex>`.
    pub model_id: String,
    /// Owning experiment.
    pub experiment_id: i64,
    /// Name (not unique).
    pub name: String,
    /// `<experiment location>/models/<model_id>/artifacts`.
    pub artifact_location: String,
    /// Creation time in ms.
    pub creation_timestamp_ms: i64,
    /// Last change in ms.
    pub last_updated_timestamp_ms: i64,
    /// Upload state.
    pub status: LoggedModelStatus,
    /// Active or deleted.
    pub lifecycle_stage: LifecycleStage,
    /// Free-form type (`agent`, ...).
    pub model_type: Option<String>,
    /// Run that produced it.
    pub source_run_id: Option<String>,
    /// Explanation of the status.
    pub status_message: Option<String>,
    /// Tags, by key.
    pub tags: Vec<KeyValue>,
    /// Params, by key.
    pub params: Vec<KeyValue>,
    /// Metric points logged against the model.
    pub metrics: Vec<Metric>,
}

/// The legacy deployment stage of a model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// `None`
    None,
    /// `Staging`
    Staging,
    /// `Production`
    Production,
    /// `Archived`
    Archived,
}

impl Stage {
    /// Every stage, in MLflow's order.
    pub const ALL: [Stage; 4] = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];

    /// MLflow's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Staging => "Staging",
            Self::Production => "Production",
            Self::Archived => "Archived",
        }
    }

    /// Parses a stage name, ignoring case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// A version of a registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// Registered model name.
    pub name: String,
    /// 1, 2, ...
    pub version: i64,
    /// Creation time in ms.
    pub creation_timestamp: i64,
    /// Last change in ms.
    pub last_updated_timestamp: i64,
    /// Who registered it.
    pub user_id: Option<String>,
    /// Legacy stage.
    pub current_stage: Stage,
    /// Description.
    pub description: Option<String>,
    /// Where the model came from, as given.
    pub source: String,
    /// Where its files are (what `get-download-uri` answers).
    pub storage_location: String,
    /// Run that produced it.
    pub run_id: Option<String>,
    /// Link to the run.
    pub run_link: Option<String>,
    /// Logged model it registers (MLflow 3).
    pub model_id: Option<String>,
    /// Tags, by key.
    pub tags: Vec<KeyValue>,
    /// Aliases pointing at it.
    pub aliases: Vec<String>,
}

/// A registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Creation time in ms.
    pub creation_timestamp: i64,
    /// Last change in ms.
    pub last_updated_timestamp: i64,
    /// Description.
    pub description: Option<String>,
    /// The latest version in each stage.
    pub latest_versions: Vec<ModelVersion>,
    /// Tags, by key.
    pub tags: Vec<KeyValue>,
    /// `(alias, version)` pairs.
    pub aliases: Vec<(String, i64)>,
}
