//! `POST /api/2.0/ferroflow/session/login` and `/session/logout`: the web UI's sign-in. Signing in
//! (with a password, checked by the gate like any Basic credentials) makes an API token that lives
//! in an HttpOnly cookie for [`session::LIFETIME`]; signing out revokes it. The gate accepts the
//! cookie in place of an Authorization header, and requires the CSRF token on every change.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ferroflow_auth::{session, token};
use serde_json::json;

use super::users::{caller, token_json, user_json};
use crate::auth::{AuthMethod, Caller};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Whether the browser reached the server over TLS, so that the cookies must be `Secure`: the page's
/// origin says so, or the TLS-terminating proxy does.
fn over_tls(headers: &HeaderMap) -> bool {
    let value = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    value(header::ORIGIN).starts_with("https://")
        || value(header::HeaderName::from_static("x-forwarded-proto")).eq_ignore_ascii_case("https")
}

fn with_cookies(body: Json<serde_json::Value>, cookies: [String; 2]) -> Response {
    let mut response = body.into_response();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// POST session/login: a new session for the caller, who signed in with their password (or a token).
pub async fn login(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = caller(caller_ext)?;
    // A session cannot renew itself, or it would never expire.
    if matches!(caller.method, AuthMethod::Session(_)) {
        return Err(ApiError::invalid("Sign in with a username and password (HTTP Basic), not with a web session"));
    }
    let lifetime_ms = i64::try_from(session::LIFETIME.as_millis()).unwrap_or(i64::MAX);
    let expires_ms = crate::now_ms() + lifetime_ms;
    let new = token::generate();
    let record = state.store.create_token(&caller.user, session::TOKEN_NAME, &new, Some(expires_ms)).await?;
    let body = Json(json!({
        "user": user_json(&state.store, &caller.user).await?,
        "session": token_json(&record),
        "csrf_token": session::csrf_token(&new.secret),
    }));
    Ok(with_cookies(body, session::set_cookies(Some(&new.secret), over_tls(&headers))))
}

/// POST session/logout: ends the caller's session (its token is revoked) and clears the cookies.
/// Called with other credentials, it only clears the cookies.
pub async fn logout(
    State(state): State<AppState>,
    caller_ext: Option<Extension<Caller>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = caller(caller_ext)?;
    let ended = match &caller.method {
        AuthMethod::Session(id) => {
            state.store.revoke_token(id).await?;
            Some(id.clone())
        }
        _ => None,
    };
    Ok(with_cookies(Json(json!({ "ended_session": ended })), session::set_cookies(None, over_tls(&headers))))
}
