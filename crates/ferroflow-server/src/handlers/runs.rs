//! `/runs/*`.

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::{requests as req, responses as resp};
use ferroflow_core::model::{Dataset, DatasetInput, KeyValue, Metric, ModelOutput};
use ferroflow_core::{page_token, search, validation};
use ferroflow_store::{CreateRun, LogBatch, LogInputs, RunSearch, UpdateRun};

use super::{key_values, required};
use crate::auth::caller::may_read_experiment;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// The run a request names, checked for shape.
pub(crate) fn run_id(run: &req::RunRef) -> ApiResult<String> {
    let id = run.id().ok_or_else(|| ApiError::missing("run_id"))?;
    validation::validate_run_id(id)?;
    Ok(id.to_owned())
}

/// POST runs/create
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_run(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::CreateRun>,
) -> ApiResult<Json<resp::GetRun>> {
    let experiment_id = match request.experiment_id.filter(|id| !id.is_empty()) {
        Some(id) => validation::parse_experiment_id(&id)?,
        None => 0,
    };
    let run = state
        .store
        .create_run(CreateRun {
            experiment_id,
            user_id: request.user_id.unwrap_or_default(),
            run_name: request.run_name,
            start_time: request.start_time.unwrap_or(0),
            tags: key_values(request.tags, "tags")?,
        })
        .await?;
    Ok(Json(resp::GetRun { run: run.into() }))
}

/// GET runs/get
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_run(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RunRef>,
) -> ApiResult<Json<resp::GetRun>> {
    let run = state.store.get_run(&run_id(&request)?).await?;
    Ok(Json(resp::GetRun { run: run.into() }))
}

/// POST runs/update
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_run(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::UpdateRun>,
) -> ApiResult<Json<resp::UpdateRun>> {
    let id = run_id(&request.run)?;
    if let Some(end_time) = request.end_time {
        validation::validate_timestamp("end_time", end_time)?;
    }
    let update = UpdateRun { status: request.status, end_time: request.end_time, run_name: request.run_name };
    let info = state.store.update_run(&id, update).await?;
    Ok(Json(resp::UpdateRun { run_info: info.into() }))
}

/// POST runs/delete
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_run(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RunRef>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_run(&run_id(&request)?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/restore
#[tracing::instrument(level = "debug", skip_all)]
pub async fn restore_run(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RunRef>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.restore_run(&run_id(&request)?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/search
#[tracing::instrument(level = "debug", skip_all)]
pub async fn search_runs(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::SearchRuns>,
) -> ApiResult<Json<resp::SearchRuns>> {
    let max_results = request.max_results.unwrap_or(validation::DEFAULT_RUN_SEARCH_RESULTS);
    validation::validate_max_results(max_results, validation::MAX_SEARCH_RESULTS)?;
    let mut experiment_ids =
        request.experiment_ids.iter().map(|id| validation::parse_experiment_id(id)).collect::<Result<Vec<_>, _>>()?;
    // Runs of experiments the caller may not read are left out, as if those ids were not asked for.
    let asked = experiment_ids.len();
    experiment_ids.retain(|id| may_read_experiment(caller.as_deref(), &id.to_string()));
    if asked > 0 && experiment_ids.is_empty() {
        return Ok(Json(resp::SearchRuns { runs: Vec::new(), next_page_token: None }));
    }
    let search = RunSearch {
        experiment_ids,
        filter: search::parse_run_filter(request.filter.as_deref().unwrap_or(""))?,
        view: request.run_view_type.unwrap_or_default(),
        max_results,
        order_by: search::parse_run_order_by(&request.order_by)?,
        offset: page_token::decode(request.page_token.as_deref())?,
    };
    let page = state.store.search_runs(&search).await?;
    Ok(Json(resp::SearchRuns {
        runs: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// POST runs/set-tag
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::SetTag>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let tag = KeyValue { key: required(request.key, "key")?, value: request.value.unwrap_or_default() };
    state.store.set_run_tag(&id, tag).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/delete-tag
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::DeleteTag>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let key = required(request.key, "key")?;
    state.store.delete_run_tag(&id, &key).await?;
    Ok(Json(resp::Empty {}))
}

fn metric(m: req::Metric, path: &str) -> ApiResult<Metric> {
    let key = required(m.key, &format!("{path}key"))?;
    let value = m.value.ok_or_else(|| ApiError::missing(&format!("{path}value")))?;
    let timestamp = m.timestamp.ok_or_else(|| ApiError::missing(&format!("{path}timestamp")))?;
    Ok(Metric {
        key,
        value,
        timestamp,
        step: m.step.unwrap_or(0),
        dataset_name: m.dataset_name.filter(|s| !s.is_empty()),
        dataset_digest: m.dataset_digest.filter(|s| !s.is_empty()),
        model_id: m.model_id.filter(|s| !s.is_empty()),
        run_id: None,
    })
}

/// POST runs/log-metric
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_metric(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::LogMetric>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let batch = LogBatch { metrics: vec![metric(request.metric, "")?], ..LogBatch::default() };
    state.store.log_batch(&id, batch).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/log-parameter
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_param(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::LogParam>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let param = KeyValue { key: required(request.key, "key")?, value: request.value.unwrap_or_default() };
    state.store.log_batch(&id, LogBatch { params: vec![param], ..LogBatch::default() }).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/log-batch
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_batch(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::LogBatch>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let metrics = request
        .metrics
        .into_iter()
        .enumerate()
        .map(|(i, m)| metric(m, &format!("metrics[{i}].")))
        .collect::<ApiResult<Vec<_>>>()?;
    let batch =
        LogBatch { metrics, params: key_values(request.params, "params")?, tags: key_values(request.tags, "tags")? };
    state.store.log_batch(&id, batch).await?;
    Ok(Json(resp::Empty {}))
}

fn dataset_input(input: req::DatasetInput, i: usize) -> ApiResult<DatasetInput> {
    let path = format!("datasets[{i}].dataset");
    let d = input.dataset.ok_or_else(|| ApiError::missing(&path))?;
    Ok(DatasetInput {
        tags: key_values(input.tags, &format!("datasets[{i}].tags"))?,
        dataset: Dataset {
            name: required(d.name, &format!("{path}.name"))?,
            digest: required(d.digest, &format!("{path}.digest"))?,
            source_type: required(d.source_type, &format!("{path}.source_type"))?,
            source: required(d.source, &format!("{path}.source"))?,
            schema: d.schema,
            profile: d.profile,
        },
    })
}

/// POST runs/log-inputs
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_inputs(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::LogInputs>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let datasets =
        request.datasets.into_iter().enumerate().map(|(i, d)| dataset_input(d, i)).collect::<ApiResult<_>>()?;
    let model_ids = request
        .models
        .into_iter()
        .enumerate()
        .map(|(i, m)| required(m.model_id, &format!("models[{i}].model_id")))
        .collect::<ApiResult<_>>()?;
    state.store.log_inputs(&id, LogInputs { datasets, model_ids }).await?;
    Ok(Json(resp::Empty {}))
}

/// POST runs/outputs
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_outputs(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::LogOutputs>,
) -> ApiResult<Json<resp::Empty>> {
    let id = run_id(&request.run)?;
    let outputs = request
        .models
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(ModelOutput {
                model_id: required(m.model_id, &format!("models[{i}].model_id"))?,
                step: m.step.ok_or_else(|| ApiError::missing(&format!("models[{i}].step")))?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    state.store.log_outputs(&id, &outputs).await?;
    Ok(Json(resp::Empty {}))
}
