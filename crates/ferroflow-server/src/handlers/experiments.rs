//! `/experiments/*`.

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::{requests as req, responses as resp};
use ferroflow_core::model::KeyValue;
use ferroflow_core::{page_token, search, validation};
use ferroflow_store::{ExperimentSearch, ResourceType};

use super::{experiment_id, key_values, required};
use crate::auth::caller::visible;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// POST experiments/create
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_experiment(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::CreateExperiment>,
) -> ApiResult<Json<resp::CreateExperiment>> {
    let name = required(request.name, "name")?;
    let tags = key_values(request.tags, "tags")?;
    let location = request.artifact_location.filter(|l| !l.is_empty());
    if let Some(location) = &location {
        state.locations.check(location)?;
    }
    let id = state.store.create_experiment(&name, location.as_deref(), &tags).await?;
    Ok(Json(resp::CreateExperiment { experiment_id: id.to_string() }))
}

/// GET experiments/get
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_experiment(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ExperimentId>,
) -> ApiResult<Json<resp::GetExperiment>> {
    let id = experiment_id(request.experiment_id)?;
    let experiment = state.store.get_experiment(id).await?;
    Ok(Json(resp::GetExperiment { experiment: experiment.into() }))
}

/// GET experiments/get-by-name
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_experiment_by_name(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::GetExperimentByName>,
) -> ApiResult<Json<resp::GetExperiment>> {
    let name = required(request.experiment_name, "experiment_name")?;
    let experiment = state.store.get_experiment_by_name(&name).await?;
    Ok(Json(resp::GetExperiment { experiment: experiment.into() }))
}

/// POST or GET experiments/search
#[tracing::instrument(level = "debug", skip_all)]
pub async fn search_experiments(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::SearchExperiments>,
) -> ApiResult<Json<resp::SearchExperiments>> {
    let max_results = request.max_results.ok_or_else(|| {
        ApiError::invalid("Invalid value for parameter 'max_results': it is required and must be between 1 and 50000.")
    })?;
    validation::validate_max_results(max_results, validation::MAX_SEARCH_RESULTS)?;
    let search = ExperimentSearch {
        filter: search::parse_experiment_filter(request.filter.as_deref().unwrap_or(""))?,
        view: request.view_type.unwrap_or_default(),
        max_results,
        order_by: search::parse_experiment_order_by(&request.order_by)?,
        offset: page_token::decode(request.page_token.as_deref())?,
        visible: visible(caller.as_deref(), ResourceType::Experiment),
    };
    let page = state.store.search_experiments(&search).await?;
    Ok(Json(resp::SearchExperiments {
        experiments: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// POST experiments/delete
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_experiment(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ExperimentId>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_experiment(experiment_id(request.experiment_id)?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST experiments/restore
#[tracing::instrument(level = "debug", skip_all)]
pub async fn restore_experiment(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::ExperimentId>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.restore_experiment(experiment_id(request.experiment_id)?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST experiments/update
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_experiment(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::UpdateExperiment>,
) -> ApiResult<Json<resp::Empty>> {
    let id = experiment_id(request.experiment_id)?;
    let new_name = required(request.new_name, "new_name")?;
    state.store.rename_experiment(id, &new_name).await?;
    Ok(Json(resp::Empty {}))
}

/// POST experiments/set-experiment-tag
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_experiment_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::SetExperimentTag>,
) -> ApiResult<Json<resp::Empty>> {
    let id = experiment_id(request.experiment_id)?;
    let tag = KeyValue { key: required(request.key, "key")?, value: request.value.unwrap_or_default() };
    state.store.set_experiment_tag(id, &tag).await?;
    Ok(Json(resp::Empty {}))
}

/// POST experiments/delete-experiment-tag
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_experiment_tag(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::DeleteExperimentTag>,
) -> ApiResult<Json<resp::Empty>> {
    let id = experiment_id(request.experiment_id)?;
    let key = required(request.key, "key")?;
    state.store.delete_experiment_tag(id, &key).await?;
    Ok(Json(resp::Empty {}))
}
