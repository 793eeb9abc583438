//! Retrying requests that failed on a transient database error.
//!
//! A deadlock between replicas, a serialization failure or a connection lost in a failover says nothing
//! about the request: the same request will most likely succeed a moment later. The tracking and
//! registry routes therefore run behind [`retry_transient`], which keeps the request body and runs the
//! request again (with backoff) while the answer is marked [`TransientFailure`]. Only when that keeps
//! failing does the client see `503 TEMPORARILY_UNAVAILABLE` (which MLflow's client retries too), never
//! a 500.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::error::{ApiError, ErrorCode, TransientFailure};

/// Attempts after the first.
const RETRIES: u32 = 5;
/// Backoff before the first retry; doubled each time, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// Middleware: buffers the body (up to `max_body_bytes`, else 413) and retries transient failures.
pub async fn retry_transient(State(max_body_bytes): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return ApiError {
                code: ErrorCode::BadRequest,
                message: format!("Could not read the request body: {err}"),
                status: Some(StatusCode::PAYLOAD_TOO_LARGE),
            }
            .into_response();
        }
    };
    let mut backoff = FIRST_BACKOFF;
    for attempt in 0..=RETRIES {
        let response = next.clone().run(Request::from_parts(parts.clone(), Body::from(bytes.clone()))).await;
        if response.extensions().get::<TransientFailure>().is_none() || attempt == RETRIES {
            return response;
        }
        let jitter = Duration::from_micros(u64::from(rand::random::<u16>()) * 10);
        tracing::info!(attempt = attempt + 1, uri = %parts.uri.path(), "retrying after a transient database failure");
        tokio::time::sleep(backoff + jitter).await;
        backoff *= 2;
    }
    unreachable!("the loop returns on its last attempt")
}
