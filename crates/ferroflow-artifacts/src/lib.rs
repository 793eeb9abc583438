//! Artifact storage for ferroflow's artifact proxy (`/api/2.0/mlflow-artifacts/...`).
//!
//! - [`ArtifactPath`]: client paths, validated against every traversal trick once, at the edge.
//! - [`ArtifactStore`]: streamed upload, ranged download, listing, recursive delete and multipart uploads
//!   on a local directory or a bucket (S3 and S3-compatible servers, GCS, Azure) through `object_store`.
//! - [`LocationPolicy`]: which experiment artifact locations the server accepts.

mod destination;
mod error;
mod location;
mod path;
mod store;

pub use error::{Error, Result};
pub use location::{is_within, LocationPolicy};
pub use path::ArtifactPath;
pub use store::{ArtifactStore, ByteRange, CompletedPart, Download, Entry, MAX_BUFFERED_PART_BYTES, MAX_PARTS};
