//! A minimal HTTP/1.1 client: one keep-alive connection per [`Client`],
//! reconnecting transparently when the server closed it.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the server under test listens.
#[derive(Clone, Debug)]
pub struct Target {
    /// `host:port`, used both to connect and as the `Host` header.
    pub authority: String,
    /// Path prefix without a trailing slash (usually empty).
    pub base_path: String,
    /// `Authorization` header sent with every request, if any.
    pub authorization: Option<String>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Self> {
        let rest =
            url.strip_prefix("http://").ok_or_else(|| anyhow!("only http:// URLs are supported, got {url:?}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("missing host in {url:?}");
        }
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let authority = if has_port { authority.to_string() } else { format!("{authority}:80") };
        Ok(Self { authority, base_path: path.trim_end_matches('/').to_string(), authorization: None })
    }
}

pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Response {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// A short description of a failed response, for error reports.
    pub fn describe(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(300).collect();
        format!("HTTP {}: {}", self.status.as_u16(), text.trim())
    }
}

/// One persistent connection to the target.
pub struct Client {
    target: Target,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(target: Target, timeout: Duration) -> Self {
        Self { target, timeout, sender: None }
    }

    async fn connect(&mut self) -> Result<()> {
        let stream = TcpStream::connect(&self.target.authority)
            .await
            .with_context(|| format!("connecting to {}", self.target.authority))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the connection closes; errors surface on the sender.
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request and reads the whole response body.
    pub async fn request(&mut self, method: Method, path: &str, body: Bytes) -> Result<Response> {
        match tokio::time::timeout(self.timeout, self.request_inner(method, path, body)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                bail!("request timed out after {:?}", self.timeout)
            }
        }
    }

    async fn request_inner(&mut self, method: Method, path: &str, body: Bytes) -> Result<Response> {
        let reusable = match self.sender.as_mut() {
            Some(s) => !s.is_closed() && s.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.sender = None;
            self.connect().await?;
        }
        let Some(sender) = self.sender.as_mut() else {
            bail!("no connection");
        };
        sender.ready().await.context("connection not ready")?;
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.target.base_path, path))
            .header(HOST, self.target.authority.as_str())
            .header(CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.target.authorization {
            req = req.header(AUTHORIZATION, authorization.as_str());
        }
        let req = req.body(Full::new(body))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Response { status, body })
    }

    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<Response> {
        self.request(Method::POST, path, body).await
    }

    pub async fn get(&mut self, path: &str) -> Result<Response> {
        self.request(Method::GET, path, Bytes::new()).await
    }

    /// POSTs JSON and parses a successful JSON answer; a non-2xx status is an error.
    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let resp = self.post(path, Bytes::from(serde_json::to_vec(body)?)).await?;
        if !resp.is_success() {
            bail!("POST {path}: {}", resp.describe());
        }
        serde_json::from_slice(&resp.body).with_context(|| format!("POST {path}: invalid JSON answer"))
    }
}

/// Percent-encodes a query-string value.
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() -> Result<()> {
        let t = Target::parse("http://127.0.0.1:5000/")?;
        assert_eq!(t.authority, "127.0.0.1:5000");
        assert_eq!(t.base_path, "");
        let t = Target::parse("http://localhost/prefix/")?;
        assert_eq!(t.authority, "localhost:80");
        assert_eq!(t.base_path, "/prefix");
        let t = Target::parse("http://[::1]:8080")?;
        assert_eq!(t.authority, "[::1]:8080");
        let t = Target::parse("http://[::1]")?;
        assert_eq!(t.authority, "[::1]:80");
        assert!(Target::parse("https://x").is_err());
        Ok(())
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode_query_value("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode_query_value("abc-_.~9"), "abc-_.~9");
    }
}
