//! Store errors. User mistakes and internal failures stay in separate variants; nothing above the
//! store needs to look at `sqlx` types.

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks a rule (bad value, inactive entity, changed param ...).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// The named entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An entity with that name already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The entity is in a state that forbids the operation (MLflow's `INVALID_STATE`).
    #[error("{0}")]
    InvalidState(String),
    /// The database failed; the details are for the log, not for the client.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<ferroflow_core::Error> for Error {
    fn from(err: ferroflow_core::Error) -> Self {
        match err {
            ferroflow_core::Error::InvalidParameterValue(message) => Self::InvalidParameterValue(message),
        }
    }
}

/// Result alias for store calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
