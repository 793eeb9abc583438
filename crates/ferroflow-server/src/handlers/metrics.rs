//! `/metrics/*`.

use axum::extract::State;
use axum::{Extension, Json};
use ferroflow_api::{requests as req, responses as resp};
use ferroflow_core::{page_token, validation};
use ferroflow_store::{BulkIntervalQuery, HistoryQuery};

use super::required;
use super::runs::run_id;
use crate::auth::caller::may_read_experiment;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

const MAX_BULK_RUNS: usize = 100;
const MAX_BULK_POINTS_PER_RUN: i64 = 2500;

/// GET metrics/get-history
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_metric_history(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::GetMetricHistory>,
) -> ApiResult<Json<resp::MetricHistory>> {
    let run_id = run_id(&request.run)?;
    let key = required(request.metric_key, "metric_key")?;
    if let Some(max_results) = request.max_results {
        if max_results < 1 {
            return Err(ApiError::invalid(format!(
                "Invalid value {max_results} for parameter 'max_results': it must be at least 1"
            )));
        }
    }
    let query = HistoryQuery {
        run_id,
        key,
        max_results: request.max_results,
        offset: page_token::decode(request.page_token.as_deref())?,
    };
    let page = state.store.metric_history(&query).await?;
    Ok(Json(resp::MetricHistory {
        metrics: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// GET metrics/get-history-bulk-interval
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_metric_history_bulk_interval(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    MlflowRequest(request): MlflowRequest<req::GetMetricHistoryBulkInterval>,
) -> ApiResult<Json<resp::MetricHistory>> {
    if request.run_ids.is_empty() {
        return Err(ApiError::missing("run_ids"));
    }
    if request.run_ids.len() > MAX_BULK_RUNS {
        return Err(ApiError::invalid(format!(
            "GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids. Received {} run_ids.",
            request.run_ids.len()
        )));
    }
    for id in &request.run_ids {
        validation::validate_run_id(id)?;
    }
    let key = required(request.metric_key, "metric_key")?;
    let steps = match (request.start_step, request.end_step) {
        (Some(start), Some(end)) if start <= end => Some((start, end)),
        (Some(start), Some(end)) => {
            return Err(ApiError::invalid(format!(
                "end_step must be greater than start_step. Found start_step={start} and end_step={end}."
            )))
        }
        (None, None) => None,
        _ => return Err(ApiError::invalid("If either start step or end step are specified, both must be specified.")),
    };
    let max_results = request.max_results.unwrap_or(MAX_BULK_POINTS_PER_RUN);
    validation::validate_max_results(max_results, MAX_BULK_POINTS_PER_RUN)?;
    // Runs of experiments the caller may not read are left out, as if they had no such metric.
    let run_ids = match caller.as_deref() {
        None => request.run_ids,
        Some(caller) => {
            let mut readable = Vec::with_capacity(request.run_ids.len());
            for run_id in request.run_ids {
                match state.store.experiment_of_run(&run_id).await? {
                    Some(experiment) if !may_read_experiment(Some(caller), &experiment.to_string()) => {}
                    _ => readable.push(run_id),
                }
            }
            readable
        }
    };
    if run_ids.is_empty() {
        return Ok(Json(resp::MetricHistory { metrics: Vec::new(), next_page_token: None }));
    }
    let query = BulkIntervalQuery { run_ids, key, steps, max_results: usize::try_from(max_results).unwrap_or(1) };
    let points = state.store.metric_history_bulk_interval(&query).await?;
    Ok(Json(resp::MetricHistory { metrics: points.into_iter().map(Into::into).collect(), next_page_token: None }))
}
