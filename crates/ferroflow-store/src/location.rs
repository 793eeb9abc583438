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
    /// A PostgreSQL database, as a `postgres://` URL for the driver.
    Postgres {
        /// `postgres://user:password@host:port/database?options`
        url: String,
    },
    /// A MySQL or MariaDB database, as a `mysql://` URL for the driver.
    MySql {
        /// `mysql://user:password@host:port/database?options`
        url: String,
    },
}

/// SQLAlchemy dialect names (with or without a `+driver`) and the engine they mean.
const POSTGRES_SCHEMES: &[&str] = &["postgresql", "postgres"];
const MYSQL_SCHEMES: &[&str] = &["mysql", "mariadb"];

impl BackendUri {
    /// Parses `sqlite:///relative.db`, `sqlite:////absolute.db`, a bare file path,
    /// `postgresql[+driver]://...` or `mysql[+driver]://...` (also `mariadb`). Credentials stay
    /// percent-encoded, as in the URI, and are decoded by the driver.
    ///
    /// # Errors
    /// `InvalidParameterValue` for an unknown scheme or a URI that names no database.
    pub fn parse(uri: &str) -> Result<Self> {
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Ok(Self::Sqlite { path: PathBuf::from(uri) });
        };
        let dialect = scheme.split('+').next().unwrap_or_default().to_ascii_lowercase();
        if dialect == "sqlite" {
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
        let server_url = |driver_scheme: &str| -> Result<String> {
            let url = format!("{driver_scheme}://{rest}");
            let parsed = url::Url::parse(&url).map_err(|err| {
                Error::InvalidParameterValue(format!("Invalid backend store URI '{}': {err}", redact(uri)))
            })?;
            if parsed.host_str().is_none_or(str::is_empty) || parsed.path().trim_matches('/').is_empty() {
                return Err(Error::InvalidParameterValue(format!(
                    "Invalid backend store URI '{}': it must name a host and a database, e.g. \
                     {dialect}://user:password@host:port/database",
                    redact(uri)
                )));
            }
            Ok(url)
        };
        if POSTGRES_SCHEMES.contains(&dialect.as_str()) {
            return Ok(Self::Postgres { url: server_url("postgres")? });
        }
        if MYSQL_SCHEMES.contains(&dialect.as_str()) {
            return Ok(Self::MySql { url: server_url("mysql")? });
        }
        Err(Error::InvalidParameterValue(format!(
            "Unsupported backend store URI scheme '{scheme}': use sqlite:///path, postgresql://... or mysql://..."
        )))
    }

    /// The engine's name, for messages.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
            Self::MySql { .. } => "MySQL",
        }
    }
}

/// The URI with any password replaced, for logs and messages.
pub fn redact(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

impl std::fmt::Debug for BackendUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite { path } => write!(f, "sqlite:///{}", path.display()),
            Self::Postgres { url } | Self::MySql { url } => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Display for BackendUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
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

    #[test]
    fn sqlalchemy_server_uris() {
        for (uri, expected) in [
            ("postgresql://u:p@db:5432/mlflow", "postgres://u:p@db:5432/mlflow"),
            ("postgresql+psycopg2://u@db/mlflow?sslmode=require", "postgres://u@db/mlflow?sslmode=require"),
            ("postgres://u@db/mlflow", "postgres://u@db/mlflow"),
        ] {
            assert_eq!(BackendUri::parse(uri).unwrap(), BackendUri::Postgres { url: expected.into() }, "{uri}");
        }
        for (uri, expected) in [
            ("mysql+pymysql://root:p%40ss%2Fw0rd@db:3306/mlflow", "mysql://root:p%40ss%2Fw0rd@db:3306/mlflow"),
            ("mysql://root@db/mlflow", "mysql://root@db/mlflow"),
            ("mariadb+mariadbconnector://root@db/mlflow", "mysql://root@db/mlflow"),
        ] {
            assert_eq!(BackendUri::parse(uri).unwrap(), BackendUri::MySql { url: expected.into() }, "{uri}");
        }
        assert!(BackendUri::parse("postgresql://db").is_err(), "no database");
        assert!(BackendUri::parse("mysql:///mlflow").is_err(), "no host");
    }

    #[test]
    fn passwords_are_redacted() {
        let uri = BackendUri::parse("postgresql://user:secret@db/mlflow").unwrap();
        assert_eq!(uri.to_string(), "postgres://user:***@db/mlflow");
        assert_eq!(redact("mysql://root@db/x"), "mysql://root@db/x");
    }
}
