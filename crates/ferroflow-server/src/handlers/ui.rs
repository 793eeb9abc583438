//! The web UI: `GET /` answers its page, `GET /assets/*` the files it loads (content-hashed names,
//! cached for a year, gzip-compressed for clients that accept it).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferroflow_auth::Permission;
use ferroflow_ui::Asset;

/// What the page and its scripts may load: only this server, plus images drawn in the page itself.
/// Inline styles are allowed for the chart library's positioning.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
     object-src 'none'; base-uri 'self'; frame-ancestors 'self'; form-action 'self'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>ferroflow</title>\
    <p>This ferroflow binary was built without its web UI (cargo's <code>--no-default-features</code>). \
    The API is served as usual under <code>/api/</code>.</p>";

/// The page's tag that tells the UI, before it asks anything, whether access control is on and what
/// a user without a grant may do: `off`, or the default permission.
const ACCESS_META: &str = "ferroflow-access-control";

/// The UI's page, with the access-control meta tag (so the UI's first calls need not wait for
/// server-info), made once when the routes are: the server's setting does not change.
#[derive(Clone)]
pub struct IndexPage(Option<(Bytes, &'static str)>);

impl IndexPage {
    /// The page of a server whose default permission is `default_permission` (`None`: access
    /// control off).
    pub fn new(default_permission: Option<Permission>) -> Self {
        Self(ferroflow_ui::index().map(|page| {
            let html = String::from_utf8_lossy(page.body);
            let access = default_permission.map_or("off", Permission::name);
            let tag = format!("<head><meta name=\"{ACCESS_META}\" content=\"{access}\">");
            (Bytes::from(html.replacen("<head>", &tag, 1)), page.content_type)
        }))
    }
}

/// GET /
pub async fn index(page: IndexPage) -> Response {
    let Some((body, content_type)) = page.0 else {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response();
    };
    // A page of a few hundred bytes: not worth compressing.
    let mut response = body.into_response();
    set_file_headers(&mut response, content_type, "no-cache");
    response
}

/// GET /assets/{*path}
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ferroflow_ui::asset(&format!("assets/{path}")) {
        Some(asset) => serve(asset, &headers),
        None => (StatusCode::NOT_FOUND, "No such file in the web UI").into_response(),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let gzip = asset.gzip.filter(|_| accepts_gzip(request));
    let mut response = gzip.unwrap_or(asset.body).into_response();
    let cache = if asset.is_immutable() { "public, max-age=31536000, immutable" } else { "no-cache" };
    set_file_headers(&mut response, asset.content_type, cache);
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The headers every file of the UI is served with: its type, caching and the page's policy.
fn set_file_headers(response: &mut Response, content_type: &'static str, cache: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
}

/// Whether `Accept-Encoding` lists gzip (or `*`) with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_is_sent_only_where_accepted() {
        assert!(accepts_gzip(&accepting("gzip, deflate, br")));
        assert!(accepts_gzip(&accepting("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&accepting("*")));
        assert!(!accepts_gzip(&accepting("br")));
        assert!(!accepts_gzip(&accepting("gzip;q=0")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
