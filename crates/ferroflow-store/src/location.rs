//! Parsing `--backend-store-uri`.

use std::path::PathBuf;

use crate::{Error, Result};

/// A database location. The SQLAlchemy spellings that `mlflow server` accepts are understood, so
/// deployments keep their configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum BackendUri {
    /// A SQLite database file.
    Sqlite {
        /// Path of the file (relative to the working directory unless absolute).
        path: PathBuf,
    },
}

impl BackendUri {
    /// Parses `sqlite:///relative.db`, `sqlite:////absolute.db`, or a bare file path.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a scheme this build does not support.
    pub fn parse(uri: &str) -> Result<Self> {
        if let Some(rest) = uri.strip_prefix("sqlite://") {
            // SQLAlchemy: three slashes for a relative path, four for an absolute one.
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(Error::InvalidParameterValue(
                    "An in-memory SQLite database cannot back a server: give a file path".to_owned(),
                ));
            }
            return Ok(Self::Sqlite { path: PathBuf::from(path) });
        }
        if uri.contains("://") {
            let scheme = uri.split("://").next().unwrap_or_default();
            return Err(Error::InvalidParameterValue(format!(
                "Unsupported backend store URI scheme '{scheme}': this build supports sqlite:///path"
            )));
        }
        Ok(Self::Sqlite { path: PathBuf::from(uri) })
    }
}

impl std::fmt::Debug for BackendUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "sqlite:///{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_sqlite_uris() {
        assert_eq!(BackendUri::parse("sqlite:///mlflow.db").unwrap(), BackendUri::Sqlite { path: "mlflow.db".into() });
        assert_eq!(
            BackendUri::parse("sqlite:////var/lib/x.db").unwrap(),
            BackendUri::Sqlite { path: "/var/lib/x.db".into() }
        );
        assert!(BackendUri::parse("sqlite:///:memory:").is_err());
        assert!(BackendUri::parse("oracle://x").is_err());
    }
}
