//! `/api/2.0/mlflow-artifacts/*`: the artifact proxy. Clients upload, list, download and delete files
//! under the server's artifact destination without holding storage credentials. Bodies are streamed in
//! both directions.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferroflow_api::requests as req;
use ferroflow_artifacts::{ArtifactPath, ArtifactStore, ByteRange, CompletedPart, MAX_PARTS};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::required;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::MlflowRequest;

/// The proxy's state: the destination.
pub type Artifacts = Arc<ArtifactStore>;

/// Prefix of the proxy's routes, used to build part-upload URLs.
const PART_UPLOAD_ROUTE: &str = "/api/2.0/mlflow-artifacts/mpu/part";

/// Extensions MLflow serves as `text/plain` (the UI previews them), and the extension-less model files.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "log",
    "err",
    "cfg",
    "conf",
    "cnf",
    "cf",
    "ini",
    "properties",
    "prop",
    "hocon",
    "toml",
    "yaml",
    "yml",
    "xml",
    "json",
    "js",
    "py",
    "py3",
    "csv",
    "tsv",
    "md",
    "rst",
    "ipynb",
    "MLmodel",
    "MLproject",
];

/// Characters escaped in one URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn artifact_path(raw: &str) -> ApiResult<ArtifactPath> {
    Ok(ArtifactPath::parse(raw)?)
}

/// PUT artifacts/{path}: the body, whatever its content type, becomes the file.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn upload(State(store): State<Artifacts>, Path(path): Path<String>, body: Body) -> ApiResult<Json<Value>> {
    let path = artifact_path(&path)?;
    let bytes = store.put(&path, body.into_data_stream()).await?;
    tracing::debug!(%path, bytes, "artifact stored");
    Ok(Json(json!({})))
}

/// GET artifacts/{path}: the file, streamed, as an attachment; honours a single `Range`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn download(
    State(store): State<Artifacts>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve_file(&store, &artifact_path(&path)?, &headers).await
}

/// The file at `path` in `store`, streamed as an attachment (so active content such as HTML or
/// SVG is never rendered in the server's origin), honouring a single `Range`.
pub(crate) async fn serve_file(store: &ArtifactStore, path: &ArtifactPath, headers: &HeaderMap) -> ApiResult<Response> {
    let range = headers.get(header::RANGE).and_then(|value| value.to_str().ok()).and_then(parse_range);
    let download = match store.get(path, range).await {
        Err(ferroflow_artifacts::Error::RangeNotSatisfiable { size }) => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))])
                .into_response());
        }
        other => other?,
    };
    let name = path.file_name().unwrap_or("artifact");
    let partial = range.is_some();
    let mut response = Response::new(Body::from_stream(download.body));
    *response.status_mut() = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime_type(name)));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.range.end - download.range.start));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if partial {
        let value = format!("bytes {}-{}/{}", download.range.start, download.range.end - 1, download.size);
        headers
            .insert(header::CONTENT_RANGE, HeaderValue::try_from(value).map_err(|_| ApiError::invalid("bad range"))?);
    }
    Ok(response)
}

/// GET artifacts?path=dir: the directory's entries (names only). A file or a missing path lists as `{}`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(store): State<Artifacts>,
    MlflowRequest(request): MlflowRequest<req::ListArtifacts>,
) -> ApiResult<Json<Value>> {
    let dir = artifact_path(request.path.as_deref().unwrap_or(""))?;
    let entries = store.list(&dir).await?;
    if entries.is_empty() {
        return Ok(Json(json!({})));
    }
    let files: Vec<Value> = entries
        .into_iter()
        .map(|entry| match entry.size {
            Some(size) => json!({"path": entry.name, "is_dir": entry.is_dir, "file_size": size}),
            None => json!({"path": entry.name, "is_dir": entry.is_dir}),
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}

/// DELETE artifacts/{path}: the file, or the directory and everything in it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(State(store): State<Artifacts>, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    store.delete(&artifact_path(&path)?).await?;
    Ok(Json(json!({})))
}

/// The artifact a multipart request is about: the directory in the URL plus the base name of the
/// client's local file (`path` in the body), as MLflow composes it.
fn multipart_target(dir: &str, local_file: Option<String>) -> ApiResult<ArtifactPath> {
    let local_file = required(local_file, "path")?;
    let name = local_file.rsplit(['/', '\\']).next().unwrap_or_default();
    Ok(artifact_path(dir)?.child(name)?)
}

/// POST mpu/create/{dir}: starts a multipart upload and hands out one URL per part. The URLs point back
/// at this server, so clients never need credentials for the storage behind it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_multipart(
    State(store): State<Artifacts>,
    Path(dir): Path<String>,
    headers: HeaderMap,
    MlflowRequest(request): MlflowRequest<req::CreateMultipartUpload>,
) -> ApiResult<Json<Value>> {
    let target = multipart_target(&dir, request.path)?;
    let num_parts = request.num_parts.unwrap_or(1);
    if !(1..=i64::from(MAX_PARTS)).contains(&num_parts) {
        return Err(ApiError::invalid(format!("num_parts must be between 1 and {MAX_PARTS}, got {num_parts}")));
    }
    let upload_id = store.create_multipart(&target, u32::try_from(num_parts).unwrap_or(MAX_PARTS)).await?;
    let base = format!(
        "{}{PART_UPLOAD_ROUTE}/{}?upload_id={}",
        public_origin(&headers),
        target.segments().iter().map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect::<Vec<_>>().join("/"),
        utf8_percent_encode(&upload_id, SEGMENT)
    );
    let credentials: Vec<Value> = (1..=num_parts)
        .map(|n| json!({"url": format!("{base}&part_number={n}"), "part_number": n, "headers": {}}))
        .collect();
    Ok(Json(json!({ "upload_id": upload_id, "credentials": credentials })))
}

/// PUT mpu/part/{path}?upload_id=&part_number=: one part's bytes. Answers with the part's `ETag`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn upload_part(
    State(store): State<Artifacts>,
    Path(path): Path<String>,
    Query(query): Query<req::UploadPart>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let path = artifact_path(&path)?;
    let upload_id = required(query.upload_id, "upload_id")?;
    let part_number = query.part_number.ok_or_else(|| ApiError::missing("part_number"))?;
    let part_number = u32::try_from(part_number)
        .map_err(|_| ApiError::invalid(format!("part_number must be between 1 and {MAX_PARTS}, got {part_number}")))?;
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let etag = store.put_part(&path, &upload_id, part_number, length, body.into_data_stream()).await?;
    let mut response = Json(json!({})).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// POST mpu/complete/{dir}: joins the parts into the artifact.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn complete_multipart(
    State(store): State<Artifacts>,
    Path(dir): Path<String>,
    MlflowRequest(request): MlflowRequest<req::FinishMultipartUpload>,
) -> ApiResult<Json<Value>> {
    let target = multipart_target(&dir, request.path)?;
    let upload_id = required(request.upload_id, "upload_id")?;
    let parts = request
        .parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let number = part.part_number.ok_or_else(|| ApiError::missing(&format!("parts[{i}].part_number")))?;
            Ok(CompletedPart {
                part_number: u32::try_from(number)
                    .map_err(|_| ApiError::invalid(format!("parts[{i}].part_number is out of range: {number}")))?,
                etag: required(part.etag, &format!("parts[{i}].etag"))?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    store.complete_multipart(&target, &upload_id, parts).await?;
    Ok(Json(json!({})))
}

/// POST mpu/abort/{dir}: discards the upload's parts.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn abort_multipart(
    State(store): State<Artifacts>,
    Path(dir): Path<String>,
    MlflowRequest(request): MlflowRequest<req::FinishMultipartUpload>,
) -> ApiResult<Json<Value>> {
    let target = multipart_target(&dir, request.path)?;
    let upload_id = required(request.upload_id, "upload_id")?;
    store.abort_multipart(&target, &upload_id).await?;
    Ok(Json(json!({})))
}

/// GET presigned/{path}: multipart downloads are not offered (server-info says so); the client then
/// downloads through the proxy.
pub async fn presigned_download() -> ApiError {
    ApiError::new(
        ErrorCode::NotImplemented,
        "Multipart download is not supported by this artifact store; download through the proxy instead.",
    )
}

/// Answer of every artifact route when the server does not serve artifacts.
pub async fn disabled() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "This endpoint is disabled: the server was started with --no-serve-artifacts.")
        .into_response()
}

/// `scheme://host` the client reached this server at (behind a proxy, the forwarded one).
fn public_origin(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .map(str::to_owned)
    };
    let scheme =
        first("x-forwarded-proto").filter(|s| s == "https" || s == "http").unwrap_or_else(|| "http".to_owned());
    let host =
        first("x-forwarded-host").or_else(|| first(header::HOST.as_str())).unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// A single-range `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`); anything else is ignored and the
/// whole file is sent, as RFC 9110 allows.
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (false, false) => Some(ByteRange::FromTo(first.parse().ok()?, last.parse().ok()?)),
        (false, true) => Some(ByteRange::From(first.parse().ok()?)),
        (true, false) => Some(ByteRange::Last(last.parse().ok()?)),
        (true, true) => None,
    }
}

/// The content type MLflow gives a file of this name.
fn mime_type(name: &str) -> &'static str {
    let extension = match name.rsplit_once('.') {
        Some((_, extension)) if !extension.is_empty() => extension,
        _ => name,
    };
    if TEXT_EXTENSIONS.contains(&extension) {
        return "text/plain";
    }
    mime_guess::from_path(name).first_raw().unwrap_or("application/octet-stream")
}

/// `attachment; filename=...`, with an RFC 5987 `filename*` when the name is not plain ASCII.
fn content_disposition(name: &str) -> String {
    let plain = name.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ');
    if plain {
        return format!("attachment; filename=\"{name}\"");
    }
    let fallback: String = name.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\').collect();
    let fallback = if fallback.is_empty() { "download".to_owned() } else { fallback };
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(name, SEGMENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99"), Some(ByteRange::FromTo(0, 99)));
        assert_eq!(parse_range("bytes=100-"), Some(ByteRange::From(100)));
        assert_eq!(parse_range("bytes=-5"), Some(ByteRange::Last(5)));
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=x-1"), None);
    }

    #[test]
    fn content_types_follow_mlflow() {
        assert_eq!(mime_type("MLmodel"), "text/plain");
        assert_eq!(mime_type("metrics.json"), "text/plain");
        assert_eq!(mime_type("plot.png"), "image/png");
        assert_eq!(mime_type("model.pkl"), "application/octet-stream");
        assert_eq!(mime_type("page.html"), "text/html");
    }

    #[test]
    fn disposition_escapes_unusual_names() {
        assert_eq!(content_disposition("a b.txt"), "attachment; filename=\"a b.txt\"");
        let unicode = content_disposition("résumé.txt");
        assert!(unicode.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.txt"), "{unicode}");
        assert!(content_disposition("a\"b").contains("filename*="));
    }
}
