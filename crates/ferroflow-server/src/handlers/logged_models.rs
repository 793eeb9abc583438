//! `/logged-models/*` (MLflow 3): the models every 3.x `log_model` creates, finalizes and tags.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use ferroflow_api::{requests as req, responses as resp};
use ferroflow_core::model::LoggedModelStatus;
use ferroflow_core::{page_token, search, validation};
use ferroflow_store::{CreateLoggedModel, DatasetScope, LoggedModelSearch};
use serde_json::json;

use super::{key_values, required};
use crate::auth::caller::may_read_experiment;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// Page size when the request names none (the proto's default).
const DEFAULT_MAX_RESULTS: i64 = 50;
/// Largest page.
const MAX_RESULTS_LIMIT: i64 = 50_000;

/// POST logged-models
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_logged_model(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::CreateLoggedModel>,
) -> ApiResult<Json<resp::GetLoggedModel>> {
    let experiment_id = validation::parse_experiment_id(&required(request.experiment_id, "experiment_id")?)?;
    if let Some(run_id) = &request.source_run_id {
        validation::validate_run_id(run_id)?;
    }
    let model = state
        .store
        .create_logged_model(CreateLoggedModel {
            experiment_id,
            name: request.name,
            model_type: request.model_type,
            source_run_id: request.source_run_id,
            params: key_values(request.params, "params")?,
            tags: key_values(request.tags, "tags")?,
        })
        .await?;
    Ok(Json(resp::GetLoggedModel { model: model.into() }))
}

/// GET logged-models/{model_id}
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_logged_model(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    MlflowRequest(request): MlflowRequest<req::GetLoggedModel>,
) -> ApiResult<Json<resp::GetLoggedModel>> {
    let model = state.store.get_logged_model(&model_id, request.allow_deleted.unwrap_or(false)).await?;
    Ok(Json(resp::GetLoggedModel { model: model.into() }))
}

/// PATCH logged-models/{model_id}: sets the final status.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn finalize_logged_model(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    MlflowRequest(request): MlflowRequest<req::FinalizeLoggedModel>,
) -> ApiResult<Json<resp::GetLoggedModel>> {
    let status = request.status.ok_or_else(|| ApiError::missing("status"))?;
    if status == LoggedModelStatus::Pending {
        return Err(ApiError::invalid("A logged model can only be finalized as READY or UPLOAD_FAILED"));
    }
    let model = state.store.finalize_logged_model(&model_id, status).await?;
    Ok(Json(resp::GetLoggedModel { model: model.into() }))
}

/// DELETE logged-models/{model_id}
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_logged_model(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_logged_model(&model_id).await?;
    Ok(Json(resp::Empty {}))
}

/// PATCH logged-models/{model_id}/tags
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_logged_model_tags(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    MlflowRequest(request): MlflowRequest<req::SetLoggedModelTags>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.set_logged_model_tags(&model_id, key_values(request.tags, "tags")?).await?;
    Ok(Json(resp::Empty {}))
}

/// DELETE logged-models/{model_id}/tags/{key}
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_logged_model_tag(
    State(state): State<AppState>,
    Path((model_id, key)): Path<(String, String)>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.delete_logged_model_tag(&model_id, &key).await?;
    Ok(Json(resp::Empty {}))
}

/// POST logged-models/{model_id}/params
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_logged_model_params(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
    MlflowRequest(request): MlflowRequest<req::LogLoggedModelParams>,
) -> ApiResult<Json<resp::Empty>> {
    state.store.log_logged_model_params(&model_id, key_values(request.params, "params")?).await?;
    Ok(Json(resp::Empty {}))
}

/// POST logged-models/search
#[tracing::instrument(level = "debug", skip_all)]
pub async fn search_logged_models(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::SearchLoggedModels>,
) -> ApiResult<Json<resp::SearchLoggedModels>> {
    if request.experiment_ids.is_empty() {
        return Err(ApiError::missing("experiment_ids"));
    }
    let mut experiment_ids =
        request.experiment_ids.iter().map(|id| validation::parse_experiment_id(id)).collect::<Result<Vec<_>, _>>()?;
    // Logged models of experiments the caller may not read are left out.
    experiment_ids.retain(|id| may_read_experiment(caller.as_deref(), &id.to_string()));
    if experiment_ids.is_empty() {
        return Ok(Json(resp::SearchLoggedModels { models: Vec::new(), next_page_token: None }));
    }
    let filter = request.filter.as_deref().map(search::parse_logged_model_filter).transpose()?.unwrap_or_default();
    let datasets = request
        .datasets
        .into_iter()
        .map(|d| match d.dataset_name.filter(|n| !n.is_empty()) {
            Some(name) => Ok(DatasetScope { name, digest: d.dataset_digest.filter(|s| !s.is_empty()) }),
            None => Err(ApiError::invalid("`dataset_name` in the `datasets` clause must be specified.")),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if request.order_by.len() > search::MAX_ORDER_BY_KEYS {
        return Err(ApiError::invalid(format!("`order_by` can have at most {} keys", search::MAX_ORDER_BY_KEYS)));
    }
    let order_by = request
        .order_by
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let field = o.field_name.clone().ok_or_else(|| ApiError::missing(&format!("order_by[{i}].field_name")))?;
            Ok(search::parse_logged_model_order(
                &field,
                o.ascending.unwrap_or(true),
                o.dataset_name.clone(),
                o.dataset_digest.clone(),
            )?)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let max_results = request.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    if !(1..=MAX_RESULTS_LIMIT).contains(&max_results) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be between 1 and {MAX_RESULTS_LIMIT}."
        )));
    }
    // A page token continues exactly one search.
    let fingerprint = json!([request.experiment_ids, request.filter, request.order_by]).to_string();
    let offset = page_token::decode_for_search(request.page_token.as_deref(), &fingerprint)?;
    let page = state
        .store
        .search_logged_models(&LoggedModelSearch {
            experiment_ids,
            filter,
            datasets,
            order_by,
            max_results,
            offset,
            fingerprint,
        })
        .await?;
    Ok(Json(resp::SearchLoggedModels {
        models: page.items.into_iter().map(resp::LoggedModel::from).collect(),
        next_page_token: page.next_page_token,
    }))
}
