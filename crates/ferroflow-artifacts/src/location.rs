//! [`LocationPolicy`]: the artifact locations an experiment may be given.
//!
//! Stock MLflow stores whatever `artifact_location` a caller sends, which lets anyone point an experiment
//! at the server's own disk or another team's bucket and have later reads (or a registered model's source)
//! follow it. Here a location must lie under one of the server's roots: the proxy (`mlflow-artifacts:/`)
//! when artifacts are served, `--default-artifact-root`, or `--artifacts-destination`.

use std::path::{Component, Path};

use url::Url;

use crate::error::{Error, Result};
use crate::path::ArtifactPath;

/// A location split into comparable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    /// `mlflow-artifacts:/<path>` on this server.
    Proxy(Vec<String>),
    /// A local path, absolute.
    Local(Vec<String>),
    /// `scheme://authority/<path>`.
    Remote { scheme: String, authority: String, segments: Vec<String> },
}

impl Location {
    fn parse(location: &str) -> Option<Self> {
        let url = Url::parse(location).ok().filter(|url| url.scheme().len() > 1);
        let Some(url) = url else { return local(Path::new(location)) };
        // The URL parser quietly resolves `..`; a location that contains one is refused outright.
        if climbs(location) {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(url.path()).decode_utf8().ok()?.into_owned();
        match url.scheme() {
            "mlflow-artifacts" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) || url.port().is_some() {
                    return None;
                }
                Some(Self::Proxy(segments(decoded.trim_start_matches('/'))?))
            }
            "file" => local(Path::new(&decoded)),
            scheme => {
                let host = url.host_str()?.to_owned();
                let authority = match (url.username(), url.port()) {
                    ("", None) => host,
                    ("", Some(port)) => format!("{host}:{port}"),
                    (user, _) => format!("{user}@{host}"),
                };
                Some(Self::Remote {
                    scheme: scheme.to_owned(),
                    authority,
                    segments: segments(decoded.trim_start_matches('/'))?,
                })
            }
        }
    }

    fn is_within(&self, root: &Self) -> bool {
        match (self, root) {
            (Self::Proxy(path), Self::Proxy(base)) | (Self::Local(path), Self::Local(base)) => path.starts_with(base),
            (
                Self::Remote { scheme, authority, segments },
                Self::Remote { scheme: root_scheme, authority: root_authority, segments: base },
            ) => scheme == root_scheme && authority == root_authority && segments.starts_with(base),
            _ => false,
        }
    }
}

/// True if any `/`-separated piece of `raw` is `..` once percent-decoded (however many times).
fn climbs(raw: &str) -> bool {
    let mut text = raw.to_owned();
    for _ in 0..4 {
        if text.split(['/', '\\']).any(|piece| piece == "..") {
            return true;
        }
        let decoded = percent_encoding::percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    false
}

/// Path segments of a relative path, or `None` if it tries to climb.
fn segments(path: &str) -> Option<Vec<String>> {
    ArtifactPath::parse(path).ok().map(|p| p.segments().to_vec())
}

/// An absolute local path as segments, or `None` if it holds `..` (or is not UTF-8).
fn local(path: &Path) -> Option<Location> {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
    let mut parts = Vec::new();
    for component in absolute.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(Location::Local(parts))
}

/// Whether `location` lies under `root`: same scheme and authority, whole path segments, and no `..`
/// anywhere in it, however encoded.
pub fn is_within(location: &str, root: &str) -> bool {
    match (Location::parse(location), Location::parse(root.trim_end_matches('/')).or_else(|| Location::parse(root))) {
        (Some(location), Some(root)) => location.is_within(&root),
        _ => false,
    }
}

/// Which experiment artifact locations are accepted.
#[derive(Debug, Clone, Default)]
pub struct LocationPolicy {
    roots: Vec<Location>,
    described: Vec<String>,
}

impl LocationPolicy {
    /// Roots: `default_artifact_root`, plus the proxy and `artifacts_destination` (give its resolved
    /// local directory, if local, as well) when the server serves artifacts.
    pub fn new(
        default_artifact_root: &str,
        artifacts_destination: Option<&str>,
        local_destination: Option<&Path>,
    ) -> Self {
        let mut policy = Self::default();
        policy.add(default_artifact_root);
        if let Some(destination) = artifacts_destination {
            policy.add("mlflow-artifacts:/");
            policy.add(destination);
        }
        if let Some(dir) = local_destination.and_then(|dir| dir.to_str()) {
            policy.add(dir);
        }
        policy
    }

    /// The policy of a server with `default_artifact_root` that serves `served` (if it serves artifacts).
    pub fn for_server(default_artifact_root: &str, served: Option<&crate::ArtifactStore>) -> Self {
        Self::new(
            default_artifact_root,
            served.map(crate::ArtifactStore::uri),
            served.and_then(|store| store.local_root()),
        )
    }

    fn add(&mut self, root: &str) {
        if let Some(location) = Location::parse(root.trim_end_matches('/')).or_else(|| Location::parse(root)) {
            if !self.roots.contains(&location) {
                self.roots.push(location);
                self.described.push(root.to_owned());
            }
        }
    }

    /// Accepts `location` if it lies under one of the roots.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the roots, for anything else (including paths that climb with `..`).
    pub fn check(&self, location: &str) -> Result<()> {
        let parsed = Location::parse(location);
        if parsed.is_some_and(|loc| self.roots.iter().any(|root| loc.is_within(root))) {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "Invalid artifact location '{location}': it must lie under one of this server's artifact roots ({})",
            self.described.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxied_server_accepts_its_roots_only() {
        let policy = LocationPolicy::new("mlflow-artifacts:/", Some("s3://bucket/mlflow"), None);
        for ok in ["mlflow-artifacts:/", "mlflow-artifacts:/7", "mlflow-artifacts:/team/a b", "s3://bucket/mlflow/x"] {
            assert!(policy.check(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "/etc",
            "file:///tmp/x",
            "./mlruns",
            "s3://other-bucket/x",
            "s3://bucket/other",
            "s3://bucket/mlflow/../x",
            "s3://bucket/mlflowx",
            "mlflow-artifacts://otherhost:5000/x",
            "mlflow-artifacts:/../x",
            "mlflow-artifacts:/%2e%2e/x",
            "s3://bucket/mlflow/x%2f..%2f..%2fother",
            "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x",
            "runs:/abc/model",
        ] {
            assert!(policy.check(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn containment_of_single_locations() {
        let run = "mlflow-artifacts:/1/abc/artifacts";
        assert!(is_within("mlflow-artifacts:/1/abc/artifacts/model", run));
        assert!(is_within(run, run));
        assert!(!is_within("mlflow-artifacts:/1/abcdef/artifacts/model", run));
        assert!(!is_within("mlflow-artifacts:/1/abc/artifacts/../../other", run));
        assert!(!is_within("/etc/passwd", run));
        assert!(!is_within("file:///srv/mlruns/1/abc/artifacts", run));
    }

    #[test]
    fn local_roots_compare_by_whole_segments() {
        let policy = LocationPolicy::new("/srv/mlruns", None, None);
        assert!(policy.check("/srv/mlruns/3").is_ok());
        assert!(policy.check("file:///srv/mlruns/3").is_ok());
        assert!(policy.check("/srv/mlruns-other/3").is_err());
        assert!(policy.check("/srv/mlruns/../etc").is_err());
        assert!(policy.check("mlflow-artifacts:/3").is_err());
    }
}
