//! The route table. Reads like MLflow's REST reference: every tracking endpoint is served under
//! `/api/2.0/mlflow` and again under `/ajax-api/2.0/mlflow` (the web UI's prefix).

use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::Router;

use crate::error::{ApiError, ErrorCode};
use crate::handlers::{experiments, metrics, runs, server};
use crate::AppState;

fn tracking_api() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(experiments::create_experiment))
        .route("/experiments/get", get(experiments::get_experiment))
        .route("/experiments/get-by-name", get(experiments::get_experiment_by_name))
        .route("/experiments/search", post(experiments::search_experiments).get(experiments::search_experiments))
        .route("/experiments/delete", post(experiments::delete_experiment))
        .route("/experiments/restore", post(experiments::restore_experiment))
        .route("/experiments/update", post(experiments::update_experiment))
        .route("/experiments/set-experiment-tag", post(experiments::set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(experiments::delete_experiment_tag))
        .route("/runs/create", post(runs::create_run))
        .route("/runs/get", get(runs::get_run))
        .route("/runs/update", post(runs::update_run))
        .route("/runs/delete", post(runs::delete_run))
        .route("/runs/restore", post(runs::restore_run))
        .route("/runs/search", post(runs::search_runs).get(runs::search_runs))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/outputs", post(runs::log_outputs))
        .route("/metrics/get-history", get(metrics::get_metric_history))
        .route("/metrics/get-history-bulk-interval", get(metrics::get_metric_history_bulk_interval))
}

/// All routes, without middleware.
pub fn routes() -> Router<AppState> {
    Router::new()
        .nest("/api/2.0/mlflow", tracking_api())
        .nest("/ajax-api/2.0/mlflow", tracking_api())
        .route("/api/3.0/mlflow/server-info", get(server::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(server::server_info))
        .route("/health", get(server::health))
        .route("/version", get(server::version))
        .fallback(endpoint_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn endpoint_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::EndpointNotFound, format!("No endpoint {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        code: ErrorCode::EndpointNotFound,
        message: format!("Method {method} is not allowed on {}", uri.path()),
        status: Some(axum::http::StatusCode::METHOD_NOT_ALLOWED),
    }
}
