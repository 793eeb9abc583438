//! The route table. Reads like MLflow's REST reference: every tracking endpoint is served under
//! `/api/2.0/mlflow` and again under `/ajax-api/2.0/mlflow` (the web UI's prefix); the artifact proxy
//! likewise under `/api/2.0/mlflow-artifacts` and `/ajax-api/2.0/mlflow-artifacts`.

use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse as _;
use axum::routing::{any, delete, get, patch, post, put};
use axum::{middleware, Router};

use crate::error::{ApiError, ErrorCode};
use crate::handlers::artifacts::{self, Artifacts};
use crate::handlers::{experiments, logged_models, metrics, registry, runs, server};
use crate::{retry, AppState};

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
        .route("/logged-models", post(logged_models::create_logged_model))
        .route("/logged-models/search", post(logged_models::search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get_logged_model)
                .patch(logged_models::finalize_logged_model)
                .delete(logged_models::delete_logged_model),
        )
        .route("/logged-models/{model_id}/tags", patch(logged_models::set_logged_model_tags))
        .route("/logged-models/{model_id}/tags/{*key}", delete(logged_models::delete_logged_model_tag))
        .route("/logged-models/{model_id}/params", post(logged_models::log_logged_model_params))
        .route("/registered-models/create", post(registry::create_registered_model))
        .route("/registered-models/get", get(registry::get_registered_model))
        .route("/registered-models/rename", post(registry::rename_registered_model))
        .route("/registered-models/update", patch(registry::update_registered_model))
        .route("/registered-models/delete", delete(registry::delete_registered_model))
        .route(
            "/registered-models/search",
            get(registry::search_registered_models).post(registry::search_registered_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(registry::get_latest_versions).get(registry::get_latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_registered_model_tag))
        .route("/registered-models/delete-tag", delete(registry::delete_registered_model_tag))
        .route(
            "/registered-models/alias",
            post(registry::set_alias).delete(registry::delete_alias).get(registry::get_by_alias),
        )
        .route("/model-versions/create", post(registry::create_model_version))
        .route("/model-versions/get", get(registry::get_model_version))
        .route("/model-versions/update", patch(registry::update_model_version))
        .route("/model-versions/delete", delete(registry::delete_model_version))
        .route("/model-versions/search", get(registry::search_model_versions).post(registry::search_model_versions))
        .route("/model-versions/transition-stage", post(registry::transition_stage))
        .route("/model-versions/get-download-uri", get(registry::get_download_uri))
        .route("/model-versions/set-tag", post(registry::set_model_version_tag))
        .route("/model-versions/delete-tag", delete(registry::delete_model_version_tag))
        .route("/metrics/get-history", get(metrics::get_metric_history))
        .route("/metrics/get-history-bulk-interval", get(metrics::get_metric_history_bulk_interval))
}

fn artifacts_api() -> Router<Artifacts> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route("/artifacts/{*path}", get(artifacts::download).put(artifacts::upload).delete(artifacts::delete))
        .route("/mpu/create/{*path}", post(artifacts::create_multipart))
        .route("/mpu/complete/{*path}", post(artifacts::complete_multipart))
        .route("/mpu/abort/{*path}", post(artifacts::abort_multipart))
        .route("/mpu/part/{*path}", put(artifacts::upload_part))
        .route("/presigned/{*path}", get(artifacts::presigned_download))
}

/// All routes, without middleware. A service that is off (`None`) answers 503 on its routes, as MLflow
/// does for `--artifacts-only` and `--no-serve-artifacts`.
pub fn routes(tracking: Option<AppState>, artifacts: Option<Artifacts>, max_body_bytes: usize) -> Router {
    // As MLflow does, multipart uploads are offered for buckets only (on local disk one streamed PUT is
    // faster); the mpu routes work for local destinations all the same.
    let offer_multipart = artifacts.as_ref().is_some_and(|store| store.is_object_store());
    let mut router = Router::new();
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        router = match &tracking {
            Some(state) => router.nest(
                prefix,
                tracking_api()
                    .with_state(state.clone())
                    .layer(middleware::from_fn_with_state(max_body_bytes, retry::retry_transient)),
            ),
            None => router.route(&format!("{prefix}/{{*rest}}"), any(tracking_disabled)),
        };
    }
    for prefix in ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"] {
        router = match &artifacts {
            Some(store) => router.nest(prefix, artifacts_api().with_state(store.clone())),
            None => router.route(&format!("{prefix}/{{*rest}}"), any(artifacts::disabled)),
        };
    }
    router
        .route("/api/3.0/mlflow/server-info", get(move || server::server_info(offer_multipart)))
        .route("/ajax-api/3.0/mlflow/server-info", get(move || server::server_info(offer_multipart)))
        .route("/health", get(server::health))
        .route("/version", get(server::version))
        .fallback(endpoint_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn tracking_disabled() -> axum::response::Response {
    (StatusCode::SERVICE_UNAVAILABLE, "This endpoint is disabled: the server was started with --artifacts-only.")
        .into_response()
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
