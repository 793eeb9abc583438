//! Request bodies, one struct per endpoint. Required fields are `Option`s here: the server reports a
//! missing one with MLflow's message rather than a deserialisation error.

use ferroflow_core::model::{LoggedModelStatus, RunStatus, ViewType};
use serde::{Deserialize, Deserializer};

use crate::de;

/// A request message. `REPEATED` names its repeated fields, so that a query-string key given once
/// still reads as a one-element list.
pub trait RequestMessage: serde::de::DeserializeOwned {
    /// Names of the repeated (list) fields.
    const REPEATED: &'static [&'static str] = &[];
}

fn view_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ViewType>, D::Error> {
    de::opt_enum(
        d,
        |name| match name {
            "ACTIVE_ONLY" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" => Some(ViewType::DeletedOnly),
            "ALL" => Some(ViewType::All),
            _ => None,
        },
        |number| match number {
            1 => Some(ViewType::ActiveOnly),
            2 => Some(ViewType::DeletedOnly),
            3 => Some(ViewType::All),
            _ => None,
        },
    )
}

fn run_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RunStatus>, D::Error> {
    de::opt_enum(d, RunStatus::from_name, RunStatus::from_number)
}

/// A `{key, value}` pair (tags and params).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyValue {
    /// Key.
    pub key: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// experiments/create
#[derive(Debug, Deserialize)]
pub struct CreateExperiment {
    pub name: Option<String>,
    #[serde(alias = "artifactLocation")]
    pub artifact_location: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
}

/// experiments/get, delete, restore
#[derive(Debug, Deserialize)]
pub struct ExperimentId {
    #[serde(alias = "experimentId")]
    pub experiment_id: Option<String>,
}

/// experiments/get-by-name
#[derive(Debug, Deserialize)]
pub struct GetExperimentByName {
    #[serde(alias = "experimentName")]
    pub experiment_name: Option<String>,
}

/// experiments/search
#[derive(Debug, Deserialize)]
pub struct SearchExperiments {
    #[serde(default, alias = "maxResults", deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
    pub filter: Option<String>,
    #[serde(default, alias = "orderBy", deserialize_with = "de::strings")]
    pub order_by: Vec<String>,
    #[serde(default, alias = "viewType", deserialize_with = "view_type")]
    pub view_type: Option<ViewType>,
}

/// experiments/update
#[derive(Debug, Deserialize)]
pub struct UpdateExperiment {
    #[serde(alias = "experimentId")]
    pub experiment_id: Option<String>,
    #[serde(alias = "newName")]
    pub new_name: Option<String>,
}

/// experiments/set-experiment-tag
#[derive(Debug, Deserialize)]
pub struct SetExperimentTag {
    #[serde(alias = "experimentId")]
    pub experiment_id: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// experiments/delete-experiment-tag
#[derive(Debug, Deserialize)]
pub struct DeleteExperimentTag {
    #[serde(alias = "experimentId")]
    pub experiment_id: Option<String>,
    pub key: Option<String>,
}

/// runs/create
#[derive(Debug, Deserialize)]
pub struct CreateRun {
    #[serde(alias = "experimentId")]
    pub experiment_id: Option<String>,
    #[serde(alias = "userId")]
    pub user_id: Option<String>,
    #[serde(alias = "runName")]
    pub run_name: Option<String>,
    #[serde(default, alias = "startTime", deserialize_with = "de::opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
}

/// The run selector shared by run endpoints: `run_id`, or the deprecated `run_uuid`.
#[derive(Debug, Deserialize)]
pub struct RunRef {
    #[serde(alias = "runId")]
    pub run_id: Option<String>,
    #[serde(alias = "runUuid")]
    pub run_uuid: Option<String>,
}

impl RunRef {
    /// `run_id` when given, else `run_uuid`.
    pub fn id(&self) -> Option<&str> {
        self.run_id.as_deref().filter(|s| !s.is_empty()).or(self.run_uuid.as_deref().filter(|s| !s.is_empty()))
    }
}

/// runs/update
#[derive(Debug, Deserialize)]
pub struct UpdateRun {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "run_status")]
    pub status: Option<RunStatus>,
    #[serde(default, alias = "endTime", deserialize_with = "de::opt_i64")]
    pub end_time: Option<i64>,
    #[serde(alias = "runName")]
    pub run_name: Option<String>,
}

/// runs/search
#[derive(Debug, Deserialize)]
pub struct SearchRuns {
    #[serde(default, alias = "experimentIds", deserialize_with = "de::strings")]
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    #[serde(default, alias = "runViewType", deserialize_with = "view_type")]
    pub run_view_type: Option<ViewType>,
    #[serde(default, alias = "maxResults", deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, alias = "orderBy", deserialize_with = "de::strings")]
    pub order_by: Vec<String>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

/// runs/set-tag
#[derive(Debug, Deserialize)]
pub struct SetTag {
    #[serde(flatten)]
    pub run: RunRef,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// runs/delete-tag
#[derive(Debug, Deserialize)]
pub struct DeleteTag {
    #[serde(flatten)]
    pub run: RunRef,
    pub key: Option<String>,
}

/// A metric point as sent to log-metric (flattened into the request) and log-batch.
#[derive(Debug, Clone, Deserialize)]
pub struct Metric {
    pub key: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub value: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub step: Option<i64>,
    #[serde(alias = "modelId")]
    pub model_id: Option<String>,
    #[serde(alias = "datasetName")]
    pub dataset_name: Option<String>,
    #[serde(alias = "datasetDigest")]
    pub dataset_digest: Option<String>,
}

/// runs/log-metric
#[derive(Debug, Deserialize)]
pub struct LogMetric {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(flatten)]
    pub metric: Metric,
}

/// runs/log-parameter
#[derive(Debug, Deserialize)]
pub struct LogParam {
    #[serde(flatten)]
    pub run: RunRef,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// runs/log-batch
#[derive(Debug, Deserialize)]
pub struct LogBatch {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "de::list")]
    pub metrics: Vec<Metric>,
    #[serde(default, deserialize_with = "de::list")]
    pub params: Vec<KeyValue>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
}

/// A dataset in runs/log-inputs.
#[derive(Debug, Deserialize)]
pub struct Dataset {
    pub name: Option<String>,
    pub digest: Option<String>,
    #[serde(alias = "sourceType")]
    pub source_type: Option<String>,
    pub source: Option<String>,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

/// A dataset input in runs/log-inputs.
#[derive(Debug, Deserialize)]
pub struct DatasetInput {
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
    pub dataset: Option<Dataset>,
}

/// A model reference in runs/log-inputs and runs/outputs.
#[derive(Debug, Deserialize)]
pub struct ModelRef {
    #[serde(alias = "modelId")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub step: Option<i64>,
}

/// runs/log-inputs
#[derive(Debug, Deserialize)]
pub struct LogInputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "de::list")]
    pub datasets: Vec<DatasetInput>,
    #[serde(default, deserialize_with = "de::list")]
    pub models: Vec<ModelRef>,
}

/// runs/outputs
#[derive(Debug, Deserialize)]
pub struct LogOutputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "de::list")]
    pub models: Vec<ModelRef>,
}

/// metrics/get-history
#[derive(Debug, Deserialize)]
pub struct GetMetricHistory {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(alias = "metricKey")]
    pub metric_key: Option<String>,
    #[serde(default, alias = "maxResults", deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(alias = "pageToken")]
    pub page_token: Option<String>,
}

/// metrics/get-history-bulk-interval
#[derive(Debug, Deserialize)]
pub struct GetMetricHistoryBulkInterval {
    #[serde(default, alias = "runIds", deserialize_with = "de::strings")]
    pub run_ids: Vec<String>,
    #[serde(alias = "metricKey")]
    pub metric_key: Option<String>,
    #[serde(default, alias = "startStep", deserialize_with = "de::opt_i64")]
    pub start_step: Option<i64>,
    #[serde(default, alias = "endStep", deserialize_with = "de::opt_i64")]
    pub end_step: Option<i64>,
    #[serde(default, alias = "maxResults", deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
}

impl RequestMessage for CreateExperiment {}
impl RequestMessage for ExperimentId {}
impl RequestMessage for GetExperimentByName {}
impl RequestMessage for SearchExperiments {
    const REPEATED: &'static [&'static str] = &["order_by"];
}
impl RequestMessage for UpdateExperiment {}
impl RequestMessage for SetExperimentTag {}
impl RequestMessage for DeleteExperimentTag {}
impl RequestMessage for CreateRun {}
impl RequestMessage for RunRef {}
impl RequestMessage for UpdateRun {}
impl RequestMessage for SearchRuns {
    const REPEATED: &'static [&'static str] = &["experiment_ids", "order_by"];
}
impl RequestMessage for SetTag {}
impl RequestMessage for DeleteTag {}
impl RequestMessage for LogMetric {}
impl RequestMessage for LogParam {}
impl RequestMessage for LogBatch {}
impl RequestMessage for LogInputs {}
impl RequestMessage for LogOutputs {}
impl RequestMessage for GetMetricHistory {}
impl RequestMessage for GetMetricHistoryBulkInterval {
    const REPEATED: &'static [&'static str] = &["run_ids"];
}

/// artifacts/list (a run's artifacts, wherever they are stored) and the UI's get-artifact
#[derive(Debug, Deserialize)]
pub struct RunArtifact {
    #[serde(flatten)]
    pub run: RunRef,
    /// The file or directory, relative to the run's artifact root.
    pub path: Option<String>,
    /// Accepted and ignored: a listing is one page.
    pub page_token: Option<String>,
}

/// The UI's model-versions/get-artifact
#[derive(Debug, Deserialize)]
pub struct ModelVersionArtifact {
    #[serde(flatten)]
    pub version: ModelVersionRef,
    /// The file, relative to the version's model directory.
    pub path: Option<String>,
}

/// mlflow-artifacts/artifacts (list)
#[derive(Debug, Deserialize)]
pub struct ListArtifacts {
    pub path: Option<String>,
}

/// mlflow-artifacts/mpu/create
#[derive(Debug, Deserialize)]
pub struct CreateMultipartUpload {
    /// The client's local file; its base name is the artifact's name.
    pub path: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub num_parts: Option<i64>,
}

/// A finished part, as listed in mpu/complete.
#[derive(Debug, Deserialize)]
pub struct MultipartUploadPart {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub part_number: Option<i64>,
    pub etag: Option<String>,
    pub url: Option<String>,
}

/// mlflow-artifacts/mpu/complete and mpu/abort (which sends no parts)
#[derive(Debug, Deserialize)]
pub struct FinishMultipartUpload {
    pub path: Option<String>,
    pub upload_id: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub parts: Vec<MultipartUploadPart>,
}

/// The query of a part upload (ferroflow's own endpoint, named in mpu/create's credentials).
#[derive(Debug, Deserialize)]
pub struct UploadPart {
    pub upload_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub part_number: Option<i64>,
}

impl RequestMessage for ListArtifacts {}
impl RequestMessage for RunArtifact {}
impl RequestMessage for ModelVersionArtifact {}
impl RequestMessage for CreateMultipartUpload {}
impl RequestMessage for FinishMultipartUpload {
    const REPEATED: &'static [&'static str] = &["parts"];
}
impl RequestMessage for UploadPart {}

/// POST logged-models
#[derive(Debug, Deserialize)]
pub struct CreateLoggedModel {
    pub experiment_id: Option<String>,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub params: Vec<KeyValue>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
}

/// GET logged-models/{id} (query)
#[derive(Debug, Deserialize)]
pub struct GetLoggedModel {
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub allow_deleted: Option<bool>,
}

fn logged_model_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LoggedModelStatus>, D::Error> {
    de::opt_enum(d, LoggedModelStatus::from_name, LoggedModelStatus::from_number)
}

/// PATCH logged-models/{id} (finalize)
#[derive(Debug, Deserialize)]
pub struct FinalizeLoggedModel {
    #[serde(default, deserialize_with = "logged_model_status")]
    pub status: Option<LoggedModelStatus>,
}

/// PATCH logged-models/{id}/tags
#[derive(Debug, Deserialize)]
pub struct SetLoggedModelTags {
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
}

/// POST logged-models/{id}/params
#[derive(Debug, Deserialize)]
pub struct LogLoggedModelParams {
    #[serde(default, deserialize_with = "de::list")]
    pub params: Vec<KeyValue>,
}

/// A dataset scope of logged-models/search.
#[derive(Debug, Deserialize)]
pub struct DatasetFilter {
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

/// An order_by object of logged-models/search.
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct LoggedModelOrderBy {
    pub field_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub ascending: Option<bool>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

/// POST logged-models/search
#[derive(Debug, Deserialize)]
pub struct SearchLoggedModels {
    #[serde(default, deserialize_with = "de::strings")]
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub datasets: Vec<DatasetFilter>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "de::list")]
    pub order_by: Vec<LoggedModelOrderBy>,
    pub page_token: Option<String>,
}

impl RequestMessage for CreateLoggedModel {}
impl RequestMessage for GetLoggedModel {}
impl RequestMessage for FinalizeLoggedModel {}
impl RequestMessage for SetLoggedModelTags {}
impl RequestMessage for LogLoggedModelParams {}
impl RequestMessage for SearchLoggedModels {
    const REPEATED: &'static [&'static str] = &["experiment_ids"];
}

/// registered-models/create
#[derive(Debug, Deserialize)]
pub struct CreateRegisteredModel {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
    pub description: Option<String>,
}

/// registered-models/get, delete
#[derive(Debug, Deserialize)]
pub struct RegisteredModelName {
    pub name: Option<String>,
}

/// registered-models/rename
#[derive(Debug, Deserialize)]
pub struct RenameRegisteredModel {
    pub name: Option<String>,
    pub new_name: Option<String>,
}

/// registered-models/update, model-versions/update (with a version)
#[derive(Debug, Deserialize)]
pub struct UpdateDescription {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub version: Option<i64>,
    pub description: Option<String>,
}

/// registered-models/search, model-versions/search
#[derive(Debug, Deserialize)]
pub struct SearchRegistry {
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "de::strings")]
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// registered-models/get-latest-versions
#[derive(Debug, Deserialize)]
pub struct GetLatestVersions {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::strings")]
    pub stages: Vec<String>,
}

/// registered-models/set-tag, delete-tag, model-versions/set-tag, delete-tag
#[derive(Debug, Deserialize)]
pub struct RegistryTag {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub version: Option<i64>,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// registered-models/alias (set, delete, get)
#[derive(Debug, Deserialize)]
pub struct Alias {
    pub name: Option<String>,
    pub alias: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub version: Option<i64>,
}

/// model-versions/create
#[derive(Debug, Deserialize)]
pub struct CreateModelVersion {
    pub name: Option<String>,
    pub source: Option<String>,
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<KeyValue>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub model_id: Option<String>,
}

/// model-versions/get, delete, get-download-uri
#[derive(Debug, Deserialize)]
pub struct ModelVersionRef {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub version: Option<i64>,
}

/// model-versions/transition-stage
#[derive(Debug, Deserialize)]
pub struct TransitionStage {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub version: Option<i64>,
    pub stage: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub archive_existing_versions: Option<bool>,
}

impl RequestMessage for CreateRegisteredModel {}
impl RequestMessage for RegisteredModelName {}
impl RequestMessage for RenameRegisteredModel {}
impl RequestMessage for UpdateDescription {}
impl RequestMessage for SearchRegistry {
    const REPEATED: &'static [&'static str] = &["order_by"];
}
impl RequestMessage for GetLatestVersions {
    const REPEATED: &'static [&'static str] = &["stages"];
}
impl RequestMessage for RegistryTag {}
impl RequestMessage for Alias {}
impl RequestMessage for CreateModelVersion {}
impl RequestMessage for ModelVersionRef {}
impl RequestMessage for TransitionStage {}
