//! [`MlflowRequest`]: reads an endpoint's request message the way MLflow does. GET requests carry it in
//! the query string (repeated keys for lists; a JSON body when there is no query string); other methods
//! carry a JSON body, and POST/PUT/PATCH bodies must be declared `application/json`, which also keeps
//! HTML forms on foreign pages from driving the API.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, Method};
use ferroflow_api::requests::RequestMessage;
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};

/// A request message of type `T`, parsed leniently (see `ferroflow_api`).
pub struct MlflowRequest<T>(pub T);

impl<S: Send + Sync, T: RequestMessage> FromRequest<S> for MlflowRequest<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_owned);
        if method == Method::GET {
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                return parse_value(query_to_json(&query, T::REPEATED)).map(Self);
            }
        } else if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            check_json_content_type(&req)?;
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| ApiError {
            code: ErrorCode::BadRequest,
            message: format!("Could not read the request body: {}", rejection.body_text()),
            status: Some(rejection.status()),
        })?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return parse_value(Value::Object(Map::new())).map(Self);
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|err| ApiError::invalid(format!("Malformed JSON in the request body: {err}")))?;
        if !value.is_object() {
            return Err(ApiError::invalid("The request body must be a JSON object"));
        }
        parse_value(value).map(Self)
    }
}

fn check_json_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::invalid("Bad Request. Content-Type header is missing; it must be 'application/json'."));
    };
    let essence = content_type.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" {
        return Err(ApiError::invalid(format!(
            "Bad Request. Content-Type must be one of ['application/json'], got '{essence}'."
        )));
    }
    Ok(())
}

fn parse_value<T: RequestMessage>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|err| ApiError::invalid(format!("Invalid request: {err}")))
}

/// Query pairs as a JSON object: a key given once maps to a string, a repeated key (or one of the
/// message's `repeated` fields) to an array.
fn query_to_json(query: &str, repeated: &[&str]) -> Value {
    let mut map = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            Some(Value::Array(items)) => items.push(value),
            None if repeated.contains(&key.as_ref()) => {
                map.insert(key.into_owned(), Value::Array(vec![value]));
            }
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(key.into_owned(), value);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::query_to_json;
    use serde_json::json;

    #[test]
    fn repeated_query_keys_become_arrays() {
        assert_eq!(
            query_to_json("run_ids=a&run_ids=b&metric_key=m%20x&run_ids=c", &[]),
            json!({"run_ids": ["a", "b", "c"], "metric_key": "m x"})
        );
        assert_eq!(query_to_json("run_ids=a&metric_key=m", &["run_ids"]), json!({"run_ids": ["a"], "metric_key": "m"}));
    }
}
