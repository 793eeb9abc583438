//! Errors of the artifact store, by what the caller should be told.

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong with an artifact operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path is not a plain relative path.
    #[error("Invalid path: '{0}'")]
    InvalidPath(String),
    /// The path resolves outside the destination (a symlink that leads out).
    #[error("Access denied: '{0}' leads outside the artifact root")]
    OutsideRoot(String),
    /// Nothing is stored at the path.
    #[error("No artifact at '{0}'")]
    NotFound(String),
    /// The path names a directory where a file is needed.
    #[error("Artifact path refers to a directory, not a file: '{0}'")]
    IsDirectory(String),
    /// A request that cannot be carried out as given (bad range, bad multipart upload, ...).
    #[error("{0}")]
    Invalid(String),
    /// The requested byte range lies outside the file.
    #[error("Range not satisfiable for a file of {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The destination cannot do this.
    #[error("{0}")]
    NotImplemented(String),
    /// The destination URI or its settings are unusable.
    #[error("Invalid artifact destination: {0}")]
    Config(String),
    /// The storage backend failed.
    #[error("artifact storage failed: {0}")]
    Storage(#[from] object_store::Error),
    /// The local filesystem failed.
    #[error("artifact storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The client's upload stream broke off.
    #[error("the upload was interrupted: {0}")]
    Upload(String),
}
