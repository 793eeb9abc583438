//! A small client of a running server's management API, logging in as the stock `mlflow` client
//! does: HTTP Basic from `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, else a Bearer token
//! from `MLFLOW_TRACKING_TOKEN`.

use anyhow::{bail, Context as _};
use base64::Engine as _;
use reqwest::{header, Method};
use serde_json::Value;

use crate::args::ServerAddress;

/// A server and the credentials to send it.
pub struct Remote {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

fn env_text(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Remote {
    /// The server of `address`, with the credentials of the environment.
    pub fn new(address: &ServerAddress) -> anyhow::Result<Self> {
        let base = address.tracking_uri.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--tracking-uri must be an http:// or https:// address of a ferroflow server, not '{base}'");
        }
        let basic = env_text("MLFLOW_TRACKING_USERNAME").zip(env_text("MLFLOW_TRACKING_PASSWORD"));
        let authorization = match (basic, env_text("MLFLOW_TRACKING_TOKEN")) {
            (Some((username, password)), _) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            (None, Some(token)) => Some(format!("Bearer {token}")),
            (None, None) => None,
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("ferroflow-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("could not set up the HTTP client")?;
        Ok(Self { http, base, authorization })
    }

    /// Calls `/api/2.0/<path>`: GETs with `fields` as the query string, other methods with them as
    /// the JSON body. Answers the response's JSON, or fails with the server's error code and message.
    pub async fn call(&self, method: Method, path: &str, fields: Value) -> anyhow::Result<Value> {
        let mut url = format!("{}/api/2.0/{path}", self.base);
        let request = if method == Method::GET {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in fields.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()) {
                query.append_pair(key, value.as_str().map_or_else(|| value.to_string(), str::to_owned).as_str());
            }
            let query = query.finish();
            if !query.is_empty() {
                url = format!("{url}?{query}");
            }
            self.http.get(&url)
        } else {
            self.http.request(method, &url).header(header::CONTENT_TYPE, "application/json").body(fields.to_string())
        };
        let mut request = request;
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let response = request.send().await.with_context(|| format!("could not reach {}", self.base))?;
        let status = response.status();
        let body = response.bytes().await.with_context(|| format!("could not read the answer of {url}"))?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let code = json.get("error_code").and_then(Value::as_str).unwrap_or("error");
        let message = json
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| String::from_utf8_lossy(&body).trim().to_owned(), str::to_owned);
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED && self.authorization.is_none() {
            " (set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)"
        } else {
            ""
        };
        bail!("{} {path}: {code}: {message}{hint}", status.as_u16())
    }
}
