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

impl Error {
    /// The database refused a value the request carried (SQLSTATE class 22, "data exception": a NUL
    /// character PostgreSQL cannot store, a string too long for its column, ...). The client's fault.
    pub fn is_data_exception(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(db)) if db.code().is_some_and(|code| code.starts_with("22")))
    }

    /// A failure that the same request may not meet again: a deadlock or serialization failure, a lock
    /// wait that timed out, a connection that broke or could not be had. Worth retrying as a whole.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Database(err) if is_transient(err))
    }

    /// SQLite refused audit events that did not follow the stored head of the chain (the trigger
    /// `audit_events_extend_head`): another process extended it first.
    pub(crate) fn is_audit_head_moved(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(db)) if db.message().contains("audit chain head moved"))
    }
}

/// See [`Error::is_transient`].
pub(crate) fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // SQLSTATE: serialization failure, deadlock, lock not available, connection exceptions,
            // server shutting down or not accepting connections, too many connections.
            let state = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if matches!(state.as_str(), "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300")
                || state.starts_with("08")
            {
                return true;
            }
            // SQLite: busy or locked (another process writes), with its extended codes.
            if matches!(state.as_str(), "5" | "6" | "261" | "517" | "262") {
                return true;
            }
            // MySQL: lock wait timeout (1205), deadlock (1213), too many connections (1040).
            if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return matches!(mysql.number(), 1205 | 1213 | 1040);
            }
            false
        }
        _ => false,
    }
}
