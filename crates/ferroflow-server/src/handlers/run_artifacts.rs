//! A run's artifacts (and a model version's files) wherever its artifact URI points: in the server's proxy (`mlflow-artifacts:/`),
//! or straight in a bucket or a directory that clients write to themselves (a server started with
//! `--default-artifact-root s3://...`, as many MLflow deployments are). `GET artifacts/list` is
//! MLflow's REST `ListArtifacts`; `GET /get-artifact` and `GET /model-versions/get-artifact` are
//! the routes MLflow's UI downloads files from.
//! Only locations under the server's own artifact roots are read, so a run cannot be pointed at
//! another bucket or directory to read it through the server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use ferroflow_api::requests as req;
use ferroflow_artifacts::{ArtifactPath, ArtifactStore, LocationPolicy};
use serde_json::{json, Value};

use super::artifacts::serve_file;
use super::registry::{model_name, version};
use super::required;
use super::runs::run_id;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::MlflowRequest;
use crate::AppState;

/// Stores opened for runs' artifact locations, kept for the next request about the same run.
const MAX_OPENED: usize = 256;

/// Where runs' artifacts are read from: the proxy's destination, the locations the server may read,
/// and the stores opened so far.
#[derive(Debug)]
pub struct RunArtifacts {
    served: Option<Arc<ArtifactStore>>,
    locations: Arc<LocationPolicy>,
    opened: Mutex<HashMap<String, Arc<ArtifactStore>>>,
}

/// A run's artifact root: a store, and the path of the root inside it.
struct Root {
    store: Arc<ArtifactStore>,
    prefix: ArtifactPath,
}

impl Root {
    /// `relative` (below the run's root) as a path in the store.
    fn path(&self, relative: &ArtifactPath) -> ApiResult<ArtifactPath> {
        Ok(relative.segments().iter().try_fold(self.prefix.clone(), |path, segment| path.child(segment))?)
    }
}

impl RunArtifacts {
    /// Reading runs' artifacts through `served` (the proxy's destination) when the server has one,
    /// and elsewhere only under `locations`.
    pub fn new(served: Option<Arc<ArtifactStore>>, locations: Arc<LocationPolicy>) -> Self {
        Self { served, locations, opened: Mutex::default() }
    }

    /// The store and prefix of `artifact_uri`; `None` for a local directory that does not exist
    /// (yet): a run that logged nothing. Opening a store never creates anything.
    fn root(&self, artifact_uri: &str) -> ApiResult<Option<Root>> {
        if let Some(path) = proxied_path(artifact_uri) {
            let store = self.served.clone().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameterValue,
                    format!(
                        "The run's artifacts ({artifact_uri}) are in the artifact proxy, which this server does not serve"
                    ),
                )
            })?;
            return Ok(Some(Root { store, prefix: ArtifactPath::parse(path)? }));
        }
        self.locations.check(artifact_uri)?;
        if local_dir(artifact_uri).is_some_and(|dir| !dir.is_dir()) {
            return Ok(None);
        }
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = opened.get(artifact_uri) {
            return Ok(Some(Root { store: store.clone(), prefix: ArtifactPath::root() }));
        }
        let store = Arc::new(ArtifactStore::open(artifact_uri)?);
        if opened.len() >= MAX_OPENED {
            opened.clear();
        }
        opened.insert(artifact_uri.to_owned(), store.clone());
        Ok(Some(Root { store, prefix: ArtifactPath::root() }))
    }
}

/// The path inside the proxy of an `mlflow-artifacts:` URI (with or without a host).
fn proxied_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    Some(match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, path)| path),
        None => rest.trim_start_matches('/'),
    })
}

/// The directory of a local artifact URI (a path, or `file://`); `None` for buckets.
fn local_dir(uri: &str) -> Option<PathBuf> {
    if let Some(path) = uri.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    (!uri.contains("://")).then(|| PathBuf::from(uri))
}

/// The run's artifact URI, and its root.
async fn run_root(state: &AppState, request: &req::RunArtifact) -> ApiResult<(String, Option<Root>)> {
    let run = state.store.get_run(&run_id(&request.run)?).await?;
    let uri = run.info.artifact_uri;
    let root = state.run_artifacts.root(&uri)?;
    Ok((uri, root))
}

/// GET artifacts/list?run_id=&path=: the entries of one directory of the run's artifacts, each with
/// its path from the run's root, as MLflow lists them. A missing directory lists as empty.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    MlflowRequest(request): MlflowRequest<req::RunArtifact>,
) -> ApiResult<Json<Value>> {
    let (uri, root) = run_root(&state, &request).await?;
    let dir = ArtifactPath::parse(request.path.as_deref().unwrap_or(""))?;
    let entries = match root {
        Some(root) => root.store.list(&root.path(&dir)?).await?,
        None => Vec::new(),
    };
    if entries.is_empty() {
        return Ok(Json(json!({ "root_uri": uri })));
    }
    let files: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            let path = if dir.is_root() { entry.name } else { format!("{dir}/{}", entry.name) };
            match entry.size {
                Some(size) => json!({"path": path, "is_dir": entry.is_dir, "file_size": size}),
                None => json!({"path": path, "is_dir": entry.is_dir}),
            }
        })
        .collect();
    Ok(Json(json!({ "root_uri": uri, "files": files })))
}

/// GET /get-artifact?run_uuid=&path=: one file of the run's artifacts, as an attachment.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    MlflowRequest(request): MlflowRequest<req::RunArtifact>,
) -> ApiResult<Response> {
    let path = ArtifactPath::parse(&required(request.path.clone(), "path")?)?;
    let (_, root) = run_root(&state, &request).await?;
    let root = root
        .ok_or_else(|| ApiError::new(ErrorCode::ResourceDoesNotExist, format!("No artifact '{path}' in this run")))?;
    serve_file(&root.store, &root.path(&path)?, &headers).await
}

/// GET /model-versions/get-artifact?name=&version=&path=: one file of a registered version's model
/// (below its storage location: the run's artifacts, a logged model's, or the source itself).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn model_version_download(
    State(state): State<AppState>,
    headers: HeaderMap,
    MlflowRequest(request): MlflowRequest<req::ModelVersionArtifact>,
) -> ApiResult<Response> {
    let path = ArtifactPath::parse(&required(request.path, "path")?)?;
    let name = model_name(request.version.name)?;
    let number = version(request.version.version)?;
    let stored = state.store.get_model_version(&name, number).await?;
    let root = state.run_artifacts.root(&stored.storage_location)?.ok_or_else(|| {
        ApiError::new(ErrorCode::ResourceDoesNotExist, format!("No file '{path}' in version {number} of '{name}'"))
    })?;
    serve_file(&root.store, &root.path(&path)?, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxied_uris_name_their_path_in_the_proxy() {
        assert_eq!(proxied_path("mlflow-artifacts:/1/abc/artifacts"), Some("1/abc/artifacts"));
        assert_eq!(proxied_path("mlflow-artifacts://host:5000/1/abc/artifacts"), Some("1/abc/artifacts"));
        assert_eq!(proxied_path("mlflow-artifacts:/"), Some(""));
        assert_eq!(proxied_path("s3://bucket/1/abc/artifacts"), None);
    }

    #[test]
    fn local_uris_are_told_from_buckets() {
        assert_eq!(local_dir("file:///data/mlruns/1"), Some(PathBuf::from("/data/mlruns/1")));
        assert_eq!(local_dir("./mlruns/1"), Some(PathBuf::from("./mlruns/1")));
        assert_eq!(local_dir("s3://bucket/1"), None);
    }
}
