//! Request hardening: the Host allow-list that stops DNS-rebinding pages from driving a local server,
//! and the security headers every response carries.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};

/// Which `Host` headers the server answers.
///
/// The default admits `localhost` names, any IP literal (DNS rebinding needs a hostname an attacker
/// controls, so literal addresses are safe) and the host the server was bound to. An explicit list
/// replaces the default; entries are `host`, `host:port`, `*.domain` or `*`.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    rules: Arc<Vec<String>>,
    default_rules: bool,
}

impl AllowedHosts {
    /// The default for a server bound to `bound_host`.
    pub fn default_for(bound_host: &str) -> Self {
        let rules = vec!["localhost".to_owned(), "*.localhost".to_owned(), bound_host.to_ascii_lowercase()];
        Self { rules: Arc::new(rules), default_rules: true }
    }

    /// An explicit list (from `--allowed-hosts`).
    pub fn from_list(list: &[String]) -> Self {
        let rules = list.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        Self { rules: Arc::new(rules), default_rules: false }
    }

    /// Whether a request with this `Host` header value is answered.
    pub fn allows(&self, host_header: &str) -> bool {
        let host_header = host_header.trim().to_ascii_lowercase();
        let (host, port) = split_host_port(&host_header);
        if self.default_rules && host.parse::<IpAddr>().is_ok() {
            return true;
        }
        self.rules.iter().any(|rule| {
            if rule == "*" {
                return true;
            }
            let (rule_host, rule_port) = split_host_port(rule);
            let port_ok = match rule_port {
                None | Some("*") => true,
                Some(p) => Some(p) == port,
            };
            let host_ok = match rule_host.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => rule_host == host,
            };
            host_ok && port_ok
        })
    }
}

/// Splits `host[:port]`, understanding bracketed IPv6 literals.
fn split_host_port(value: &str) -> (&str, Option<&str>) {
    if let Some(rest) = value.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            return (host, after.strip_prefix(':'));
        }
    }
    match value.rsplit_once(':') {
        // A bare IPv6 literal has several colons and no port.
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (value, None),
    }
}

/// Refuses requests whose `Host` header is not allowed.
pub async fn check_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        other => {
            tracing::warn!(host = ?other, "refused request with a disallowed Host header");
            ApiError::new(
                ErrorCode::PermissionDenied,
                "Invalid Host header: this host name is not allowed. Start the server with --allowed-hosts to admit it.",
            )
            .into_response()
        }
    }
}

/// Adds `X-Content-Type-Options: nosniff` and `X-Frame-Options: SAMEORIGIN` to every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_admits_local_names_and_ip_literals_only() {
        let allowed = AllowedHosts::default_for("127.0.0.1");
        for ok in ["localhost:5000", "LOCALHOST", "127.0.0.1:5000", "[::1]:5000", "10.1.2.3", "app.localhost"] {
            assert!(allowed.allows(ok), "{ok} refused");
        }
        for bad in ["evil.example.com", "evil.example.com:5000", "localhost.evil.com", ""] {
            assert!(!allowed.allows(bad), "{bad} admitted");
        }
    }

    #[test]
    fn explicit_list_with_wildcards_and_ports() {
        let allowed = AllowedHosts::from_list(&["mlflow.internal:5000".into(), "*.corp.example".into()]);
        assert!(allowed.allows("mlflow.internal:5000"));
        assert!(!allowed.allows("mlflow.internal:6000"));
        assert!(allowed.allows("a.corp.example"));
        assert!(!allowed.allows("corp.example.evil"));
        assert!(!allowed.allows("127.0.0.1"));
        assert!(AllowedHosts::from_list(&["*".into()]).allows("anything"));
    }
}
