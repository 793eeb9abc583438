//! Errors raised by validation and parsing: all of them are the caller's mistake.

/// A user input that breaks one of MLflow's rules. The message is meant for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A value failed validation (MLflow's `INVALID_PARAMETER_VALUE`).
    #[error("{0}")]
    InvalidParameterValue(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for building an [`Error::InvalidParameterValue`].
pub fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidParameterValue(message.into())
}
