//! Response bodies, shaped as MLflow's proto JSON: snake_case names, int64 as JSON numbers, enums by
//! name, unset optional fields and empty lists left out, NaN and infinities as strings.

use ferroflow_core::model as core;
use serde::{Serialize, Serializer};

fn double<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        s.serialize_str("NaN")
    } else if value.is_infinite() {
        s.serialize_str(if *value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(*value)
    }
}

/// `{key, value}`.
#[derive(Debug, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl From<core::KeyValue> for KeyValue {
    fn from(kv: core::KeyValue) -> Self {
        Self { key: kv.key, value: kv.value }
    }
}

fn key_values(items: Vec<core::KeyValue>) -> Vec<KeyValue> {
    items.into_iter().map(KeyValue::from).collect()
}

/// An experiment.
#[derive(Debug, Serialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: &'static str,
    pub last_update_time: i64,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

impl From<core::Experiment> for Experiment {
    fn from(e: core::Experiment) -> Self {
        Self {
            experiment_id: e.experiment_id.to_string(),
            name: e.name,
            artifact_location: e.artifact_location,
            lifecycle_stage: e.lifecycle_stage.as_str(),
            last_update_time: e.last_update_time,
            creation_time: e.creation_time,
            tags: key_values(e.tags),
        }
    }
}

/// A metric point.
#[derive(Debug, Serialize)]
pub struct Metric {
    pub key: String,
    #[serde(serialize_with = "double")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl From<core::Metric> for Metric {
    fn from(m: core::Metric) -> Self {
        Self {
            key: m.key,
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            dataset_name: m.dataset_name,
            dataset_digest: m.dataset_digest,
            model_id: m.model_id,
            run_id: m.run_id,
        }
    }
}

/// A run's metadata.
#[derive(Debug, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    /// Deprecated duplicate of `run_id`, still read by older clients.
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: &'static str,
    pub start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: &'static str,
}

impl From<core::RunInfo> for RunInfo {
    fn from(info: core::RunInfo) -> Self {
        Self {
            run_uuid: info.run_id.clone(),
            run_id: info.run_id,
            run_name: info.run_name,
            experiment_id: info.experiment_id.to_string(),
            user_id: info.user_id,
            status: info.status.as_str(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str(),
        }
    }
}

/// Latest metrics, params and tags of a run.
#[derive(Debug, Serialize)]
pub struct RunData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A dataset.
#[derive(Debug, Serialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// A dataset input of a run.
#[derive(Debug, Serialize)]
pub struct DatasetInput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

/// `{model_id}`.
#[derive(Debug, Serialize)]
pub struct ModelInput {
    pub model_id: String,
}

/// `{model_id, step}`.
#[derive(Debug, Serialize)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

/// What a run read.
#[derive(Debug, Serialize)]
pub struct RunInputs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelInput>,
}

/// What a run wrote.
#[derive(Debug, Serialize)]
pub struct RunOutputs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
}

/// A complete run.
#[derive(Debug, Serialize)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: RunInputs,
    pub outputs: RunOutputs,
}

impl From<core::Run> for Run {
    fn from(run: core::Run) -> Self {
        Self {
            info: run.info.into(),
            data: RunData {
                metrics: run.metrics.into_iter().map(Metric::from).collect(),
                params: key_values(run.params),
                tags: key_values(run.tags),
            },
            inputs: RunInputs {
                dataset_inputs: run
                    .dataset_inputs
                    .into_iter()
                    .map(|input| DatasetInput {
                        tags: key_values(input.tags),
                        dataset: Dataset {
                            name: input.dataset.name,
                            digest: input.dataset.digest,
                            source_type: input.dataset.source_type,
                            source: input.dataset.source,
                            schema: input.dataset.schema,
                            profile: input.dataset.profile,
                        },
                    })
                    .collect(),
                model_inputs: run.model_inputs.into_iter().map(|model_id| ModelInput { model_id }).collect(),
            },
            outputs: RunOutputs {
                model_outputs: run
                    .model_outputs
                    .into_iter()
                    .map(|o| ModelOutput { model_id: o.model_id, step: o.step })
                    .collect(),
            },
        }
    }
}

/// experiments/create
#[derive(Debug, Serialize)]
pub struct CreateExperiment {
    pub experiment_id: String,
}

/// experiments/get, get-by-name
#[derive(Debug, Serialize)]
pub struct GetExperiment {
    pub experiment: Experiment,
}

/// experiments/search
#[derive(Debug, Serialize)]
pub struct SearchExperiments {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Experiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// runs/create, runs/get
#[derive(Debug, Serialize)]
pub struct GetRun {
    pub run: Run,
}

/// runs/update
#[derive(Debug, Serialize)]
pub struct UpdateRun {
    pub run_info: RunInfo,
}

/// runs/search
#[derive(Debug, Serialize)]
pub struct SearchRuns {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// metrics/get-history, metrics/get-history-bulk-interval
#[derive(Debug, Serialize)]
pub struct MetricHistory {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A logged model's metadata.
#[derive(Debug, Serialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

/// A logged model's params and metrics.
#[derive(Debug, Serialize)]
pub struct LoggedModelData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

/// A logged model.
#[derive(Debug, Serialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

impl From<core::LoggedModel> for LoggedModel {
    fn from(m: core::LoggedModel) -> Self {
        Self {
            info: LoggedModelInfo {
                model_id: m.model_id,
                experiment_id: m.experiment_id.to_string(),
                name: m.name,
                creation_timestamp_ms: m.creation_timestamp_ms,
                last_updated_timestamp_ms: m.last_updated_timestamp_ms,
                artifact_uri: m.artifact_location,
                status: m.status.as_str(),
                model_type: m.model_type,
                source_run_id: m.source_run_id,
                status_message: m.status_message,
                tags: key_values(m.tags),
            },
            data: LoggedModelData {
                params: key_values(m.params),
                metrics: m.metrics.into_iter().map(Metric::from).collect(),
            },
        }
    }
}

/// logged-models create, get, finalize
#[derive(Debug, Serialize)]
pub struct GetLoggedModel {
    pub model: LoggedModel,
}

/// logged-models/search
#[derive(Debug, Serialize)]
pub struct SearchLoggedModels {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A model version.
#[derive(Debug, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub current_stage: &'static str,
    /// Sent as "" when unset, as MLflow does.
    pub description: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: &'static str,
    /// Sent as "" when unset, as MLflow does.
    pub run_link: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

impl From<core::ModelVersion> for ModelVersion {
    fn from(v: core::ModelVersion) -> Self {
        Self {
            name: v.name,
            version: v.version.to_string(),
            creation_timestamp: v.creation_timestamp,
            last_updated_timestamp: v.last_updated_timestamp,
            user_id: v.user_id,
            current_stage: v.current_stage.as_str(),
            description: v.description.unwrap_or_default(),
            source: v.source,
            run_id: v.run_id,
            status: "READY",
            run_link: v.run_link.unwrap_or_default(),
            tags: key_values(v.tags),
            aliases: v.aliases,
            model_id: v.model_id,
        }
    }
}

/// An alias of a registered model.
#[derive(Debug, Serialize)]
pub struct ModelAlias {
    pub alias: String,
    pub version: String,
}

/// A registered model.
#[derive(Debug, Serialize)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<ModelAlias>,
}

impl From<core::RegisteredModel> for RegisteredModel {
    fn from(m: core::RegisteredModel) -> Self {
        Self {
            name: m.name,
            creation_timestamp: m.creation_timestamp,
            last_updated_timestamp: m.last_updated_timestamp,
            description: m.description,
            latest_versions: m.latest_versions.into_iter().map(ModelVersion::from).collect(),
            tags: key_values(m.tags),
            aliases: m.aliases.into_iter().map(|(alias, v)| ModelAlias { alias, version: v.to_string() }).collect(),
        }
    }
}

/// registered-models create, get, rename, update
#[derive(Debug, Serialize)]
pub struct GetRegisteredModel {
    pub registered_model: RegisteredModel,
}

/// registered-models/search
#[derive(Debug, Serialize)]
pub struct SearchRegisteredModels {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// model-versions create, get, update, transition-stage; registered-models/alias (GET)
#[derive(Debug, Serialize)]
pub struct GetModelVersion {
    pub model_version: ModelVersion,
}

/// model-versions/search, registered-models/get-latest-versions
#[derive(Debug, Serialize)]
pub struct ModelVersions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// model-versions/get-download-uri
#[derive(Debug, Serialize)]
pub struct DownloadUri {
    pub artifact_uri: String,
}

/// Endpoints that answer with an empty object.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// MLflow's error body.
#[derive(Debug, Serialize)]
pub struct Error {
    pub error_code: &'static str,
    pub message: String,
}
