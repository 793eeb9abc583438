//! `GET /api/2.0/ferroflow/audit/search`: the audit log, for admins and auditors.

use axum::extract::State;
use axum::Json;
use ferroflow_api::requests::RequestMessage;
use ferroflow_store::AuditSearch;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::MlflowRequest;
use crate::AppState;

/// Largest page.
const MAX_PAGE: usize = 1000;

/// The query of an audit search.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchEvents {
    actor: Option<String>,
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    outcome: Option<String>,
    max_results: Option<String>,
    page_token: Option<String>,
    order: Option<String>,
}

impl RequestMessage for SearchEvents {}

fn number<T: std::str::FromStr>(value: Option<String>, field: &str) -> ApiResult<Option<T>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(|_| ApiError::invalid(format!("Invalid value '{v}' for parameter '{field}'"))))
        .transpose()
}

/// GET audit/search: sealed events in sequence order (`order=desc`: newest first); `since`/`until`
/// in ms since the epoch.
pub async fn search_events(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<SearchEvents>,
) -> ApiResult<Json<Value>> {
    let max_results = number::<usize>(request.max_results, "max_results")?.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&max_results) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results': it must be between 1 and {MAX_PAGE}"
        )));
    }
    let search = AuditSearch {
        actor: request.actor.filter(|v| !v.is_empty()),
        action: request.action.filter(|v| !v.is_empty()),
        resource_type: request.resource_type.filter(|v| !v.is_empty()),
        resource_id: request.resource_id.filter(|v| !v.is_empty()),
        since_ms: number(request.since, "since")?,
        until_ms: number(request.until, "until")?,
        outcome: request.outcome.filter(|v| !v.is_empty()),
        after_seq: number(request.page_token, "page_token")?.unwrap_or(0),
        newest_first: match request.order.as_deref() {
            None | Some("" | "asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "Invalid value '{other}' for parameter 'order': use 'asc' (oldest first, the default) or 'desc'"
                )))
            }
        },
        max_results,
    };
    // Seal what is waiting first, so the caller sees every event stored before the search.
    if let Err(err) = state.store.seal_audit_events().await {
        tracing::warn!(error = %err, "could not seal audit events before a search");
    }
    let (events, more) = state.store.search_events(&search).await?;
    let next = if more { events.last().map(|e| e.seq.to_string()) } else { None };
    let mut body = json!({ "events": events });
    if let Some(next) = next {
        body["next_page_token"] = Value::String(next);
    }
    Ok(Json(body))
}
