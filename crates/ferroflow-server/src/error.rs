//! The one place that knows HTTP statuses: MLflow error codes, the JSON error body, and how store and
//! validation errors map onto them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// MLflow's error codes that this server sends (`databricks_pb2.ErrorCode` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A value in the request is invalid.
    InvalidParameterValue,
    /// The request cannot be read at all.
    BadRequest,
    /// The named entity does not exist.
    ResourceDoesNotExist,
    /// An entity with that name exists already.
    ResourceAlreadyExists,
    /// The entity's state forbids the operation.
    InvalidState,
    /// No such endpoint (or method).
    EndpointNotFound,
    /// The caller is not logged in (missing, malformed or wrong credentials).
    Unauthenticated,
    /// The caller may not do this (e.g. a refused Host header).
    PermissionDenied,
    /// The server cannot do this (e.g. multipart downloads).
    NotImplemented,
    /// The database hit a transient failure (deadlock, lost connection) even after retries.
    TemporarilyUnavailable,
    /// The server failed.
    InternalError,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            Self::BadRequest => "BAD_REQUEST",
            Self::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            Self::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            Self::InvalidState => "INVALID_STATE",
            Self::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::NotImplemented => "NOT_IMPLEMENTED",
            Self::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status, as MLflow's `ERROR_CODE_TO_HTTP_STATUS` maps it, with one deliberate change:
    /// `INVALID_STATE` is a user error here (400), because MLflow's 500 makes the Python client retry the
    /// request for minutes before it reports the error.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidParameterValue | Self::BadRequest | Self::ResourceAlreadyExists | Self::InvalidState => {
                StatusCode::BAD_REQUEST
            }
            Self::ResourceDoesNotExist | Self::EndpointNotFound => StatusCode::NOT_FOUND,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered as `{"error_code": ..., "message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    /// The code (decides the status).
    pub code: ErrorCode,
    /// A message for the client.
    pub message: String,
    /// Status override, for the few answers whose status MLflow does not derive from the code.
    pub status: Option<StatusCode>,
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with the code's status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: None }
    }

    /// `INVALID_PARAMETER_VALUE`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    /// A required field is absent or empty.
    pub fn missing(field: &str) -> Self {
        ferroflow_core::validation::missing(field).into()
    }
}

/// Marks a response whose request failed on a transient database error, so [`crate::retry`] may run
/// the request again.
#[derive(Debug, Clone, Copy)]
pub struct TransientFailure;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| self.code.status());
        let transient = self.code == ErrorCode::TemporarilyUnavailable;
        let body = ferroflow_api::responses::Error { error_code: self.code.as_str(), message: self.message };
        let mut response = (status, Json(body)).into_response();
        if transient {
            response.extensions_mut().insert(TransientFailure);
        }
        response
    }
}

impl From<ferroflow_core::Error> for ApiError {
    fn from(err: ferroflow_core::Error) -> Self {
        match err {
            ferroflow_core::Error::InvalidParameterValue(message) => Self::invalid(message),
        }
    }
}

impl From<ferroflow_store::Error> for ApiError {
    fn from(err: ferroflow_store::Error) -> Self {
        use ferroflow_store::Error as E;
        match err {
            E::InvalidParameterValue(message) => Self::invalid(message),
            E::NotFound(message) => Self::new(ErrorCode::ResourceDoesNotExist, message),
            E::AlreadyExists(message) => Self::new(ErrorCode::ResourceAlreadyExists, message),
            E::InvalidState(message) => Self::new(ErrorCode::InvalidState, message),
            transient if transient.is_transient() => {
                tracing::warn!(error = ?transient, "transient database failure");
                Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    "The database is temporarily unavailable (a deadlock or a lost connection); try again.",
                )
            }
            refused if refused.is_data_exception() => {
                tracing::info!(error = ?refused, "the database refused a value of the request");
                Self::invalid("Invalid value: the database cannot store a value of this request (for example a NUL character or an over-long string)")
            }
            internal @ (E::Database(_) | E::Migrate(_)) => {
                // The chain (SQL errors, paths) goes to the log only.
                tracing::error!(error = ?internal, "store failure");
                Self::new(
                    ErrorCode::InternalError,
                    "Internal server error: the tracking store failed. See the server log.",
                )
            }
        }
    }
}

impl From<ferroflow_artifacts::Error> for ApiError {
    fn from(err: ferroflow_artifacts::Error) -> Self {
        use ferroflow_artifacts::Error as E;
        let message = err.to_string();
        match err {
            E::InvalidPath(_) | E::IsDirectory(_) | E::Invalid(_) => Self::invalid(message),
            E::OutsideRoot(_) => Self::new(ErrorCode::PermissionDenied, message),
            E::NotFound(_) => Self::new(ErrorCode::ResourceDoesNotExist, message),
            E::Upload(_) => Self::new(ErrorCode::BadRequest, message),
            E::NotImplemented(_) => Self::new(ErrorCode::NotImplemented, message),
            E::RangeNotSatisfiable { .. } => Self {
                code: ErrorCode::InvalidParameterValue,
                message,
                status: Some(StatusCode::RANGE_NOT_SATISFIABLE),
            },
            internal @ (E::Config(_) | E::Storage(_) | E::Io(_)) => {
                tracing::error!(error = ?internal, "artifact storage failure");
                Self::new(
                    ErrorCode::InternalError,
                    "Internal server error: the artifact store failed. See the server log.",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_mlflow() {
        assert_eq!(ErrorCode::ResourceAlreadyExists.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::ResourceDoesNotExist.status(), StatusCode::NOT_FOUND);
        assert_eq!(ErrorCode::InvalidParameterValue.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::InternalError.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
