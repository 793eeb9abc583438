//! Reading a database that `mlflow server` created, on SQLite, PostgreSQL or MySQL, at any schema
//! revision from MLflow 2.0 to 3.17.
//!
//! The connection is read-only (SQLite opened with `mode=ro`, the server engines' sessions set to
//! read-only transactions), so nothing here can change the source. Tables and columns that a revision
//! lacks (datasets before 2.4, logged models before 3.0, ...) are found by looking at the schema, not
//! by revision number, and read as absent.

use std::collections::{HashMap, HashSet};

use ferroflow_store::sql::{Dialect, Sql};
use ferroflow_store::BackendUri;
use futures_util::TryStreamExt as _;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor as _, Row as _};

use crate::{revisions, Error, Key, Result};

/// An MLflow tracking database, opened for reading.
pub struct MlflowDatabase {
    dialect: Dialect,
    pool: AnyPool,
    /// The schema revision (`alembic_version`).
    pub revision: String,
    /// Tables, and the columns of each.
    columns: HashMap<String, HashSet<String>>,
    /// The row counts, once counted.
    counted: tokio::sync::OnceCell<Vec<Counted>>,
}

/// The rows of a source table that fill a ferroflow table: all of them, and those that are copied.
struct Counted {
    target: &'static str,
    source: &'static str,
    parent: &'static str,
    all: i64,
    copied: i64,
}

/// Conditions on a column that names a parent row, true when the parent is in the source (and
/// copied). MLflow declares these foreign keys, but SQLite does not enforce them.
pub(crate) fn experiment_exists(column: &str) -> String {
    format!("{column} IN (SELECT experiment_id FROM experiments)")
}

/// The runs that are copied.
pub(crate) fn copied_runs() -> String {
    format!("SELECT run_uuid FROM runs WHERE {}", experiment_exists("experiment_id"))
}

pub(crate) fn run_exists(column: &str) -> String {
    format!("{column} IN ({})", copied_runs())
}

pub(crate) fn dataset_exists(column: &str) -> String {
    format!("{column} IN (SELECT dataset_uuid FROM datasets WHERE {})", experiment_exists("experiment_id"))
}

/// The logged models that are copied.
pub(crate) fn copied_logged_models() -> String {
    format!("SELECT model_id FROM logged_models WHERE {}", experiment_exists("experiment_id"))
}

pub(crate) fn logged_model_exists(column: &str) -> String {
    format!("{column} IN ({})", copied_logged_models())
}

pub(crate) fn registered_model_exists(column: &str) -> String {
    format!("{column} IN (SELECT name FROM registered_models)")
}

/// The model versions that are copied.
pub(crate) fn copied_versions() -> String {
    format!("SELECT name, version FROM model_versions WHERE {}", registered_model_exists("name"))
}

pub(crate) fn version_exists(name: &str, version: &str) -> String {
    format!("({name}, {version}) IN ({})", copied_versions())
}

impl MlflowDatabase {
    /// Connects read-only and checks the database is MLflow's, at a revision this import reads.
    ///
    /// # Errors
    /// `Source` when it cannot be reached; `Refused` when it is not an MLflow database or its revision
    /// is unknown.
    pub async fn open(backend: &BackendUri) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (dialect, url, session) = match backend {
            BackendUri::Sqlite { path } => {
                if !path.is_file() {
                    return Err(Error::Refused(format!("There is no SQLite database at {}", path.display())));
                }
                (Dialect::Sqlite, format!("sqlite://{}?mode=ro", path.display()), "PRAGMA query_only = ON")
            }
            BackendUri::Postgres { url } => {
                (Dialect::Postgres, url.clone(), "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            }
            BackendUri::MySql { url } => (Dialect::MySql, url.clone(), "SET SESSION TRANSACTION READ ONLY"),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(session).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|err| Error::source(format!("Could not connect to the MLflow database {backend}"), err))?;
        let mut database = Self {
            dialect,
            pool,
            revision: String::new(),
            columns: HashMap::new(),
            counted: tokio::sync::OnceCell::new(),
        };
        database.columns = database.read_columns().await?;
        if !database.columns.contains_key("alembic_version") || !database.columns.contains_key("experiments") {
            return Err(Error::Refused(format!(
                "{backend} is not an MLflow tracking database: it has no alembic_version and experiments tables"
            )));
        }
        let revision: Option<String> = database
            .sql("SELECT version_num FROM alembic_version")
            .query()
            .fetch_optional(&database.pool)
            .await
            .map_err(|err| Error::source("Could not read the MLflow schema revision", err))?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(|err| Error::source("Could not read the MLflow schema revision", err))?;
        let revision = revision.ok_or_else(|| {
            Error::Refused(format!("{backend} has an empty alembic_version table: MLflow never finished creating it"))
        })?;
        if let Some(why) = revisions::refusal(&revision) {
            return Err(Error::Refused(why));
        }
        database.revision = revision;
        Ok(database)
    }

    /// A statement in this source's spelling.
    pub(crate) fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect, text)
    }

    async fn read_columns(&self) -> Result<HashMap<String, HashSet<String>>> {
        let query = match self.dialect {
            Dialect::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
            }
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema()"
            }
            Dialect::MySql => {
                "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE()"
            }
        };
        let rows = sqlx::query(query)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| Error::source("Could not read the MLflow database's tables", err))?;
        let mut columns: HashMap<String, HashSet<String>> = HashMap::new();
        for row in rows {
            let table: String = row.try_get(0).map_err(|err| Error::source("Could not read a table name", err))?;
            let column: String = row.try_get(1).map_err(|err| Error::source("Could not read a column name", err))?;
            columns.entry(table.to_ascii_lowercase()).or_default().insert(column.to_ascii_lowercase());
        }
        Ok(columns)
    }

    /// Whether the source has this table.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns.get(table).is_some_and(|columns| columns.contains(column))
    }

    /// `column` read as a 64-bit integer on every engine (PostgreSQL's INTEGER is 32-bit).
    pub(crate) fn int(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("CAST({column} AS BIGINT)"),
            Dialect::MySql => format!("CAST({column} AS SIGNED)"),
        }
    }

    /// A boolean `column` read as 0 or 1.
    pub(crate) fn flag(&self, column: &str) -> String {
        self.int(&format!("CASE WHEN {column} THEN 1 ELSE 0 END"))
    }

    /// Workspaces other than `default` that hold experiments or registered models (MLflow 3.x
    /// workspaces; ferroflow has one).
    ///
    /// # Errors
    /// `Source` when the query fails.
    pub async fn other_workspaces(&self) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for table in ["experiments", "registered_models"] {
            if !self.has_column(table, "workspace") {
                continue;
            }
            let sql = self.sql(&format!("SELECT DISTINCT workspace FROM {table} WHERE workspace <> 'default'"));
            for row in self.all(&sql, "workspaces").await? {
                let name: String = get(&row, 0, "workspaces")?;
                if !found.contains(&name) {
                    found.push(name);
                }
            }
        }
        Ok(found)
    }

    /// The id MLflow would give its next experiment.
    ///
    /// # Errors
    /// `Source` when the query fails.
    pub async fn next_experiment_id(&self) -> Result<i64> {
        let largest = self.sql(&format!("SELECT {} FROM experiments", self.int("MAX(experiment_id)")));
        let largest: Option<i64> = get(&self.one(&largest, "experiments").await?, 0, "experiments")?;
        let after_largest = largest.map_or(0, |id| id + 1);
        let sequence = match self.dialect {
            // SQLAlchemy makes MLflow's experiment id a plain rowid on SQLite: the next is the largest + 1.
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                let sql = self.sql(
                    "SELECT CAST(CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS BIGINT) \
                     FROM experiments_experiment_id_seq",
                );
                match self.one(&sql, "experiments_experiment_id_seq").await {
                    Ok(row) => get::<Option<i64>>(&row, 0, "experiments_experiment_id_seq")?,
                    Err(_) => None,
                }
            }
            Dialect::MySql => {
                let sql = self.sql(
                    "SELECT CAST(auto_increment AS SIGNED) FROM information_schema.tables \
                     WHERE table_schema = DATABASE() AND table_name = 'experiments'",
                );
                get::<Option<i64>>(&self.one(&sql, "experiments").await?, 0, "experiments")?
            }
        };
        Ok(sequence.unwrap_or(0).max(after_largest))
    }

    /// Row counts of the source tables that fill each ferroflow table: the rows the import copies,
    /// so without orphans (see [`MlflowDatabase::orphans`]).
    ///
    /// # Errors
    /// `Source` when a query fails.
    pub async fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        Ok(self.counted().await?.iter().map(|c| (c.target, c.copied)).collect())
    }

    /// Rows whose parent is not in the source (a tag of a run that is gone, say), per table. MLflow's
    /// SQLite schema declares foreign keys that SQLite does not enforce, so such rows exist; ferroflow
    /// enforces them, so they are left out and reported.
    ///
    /// # Errors
    /// `Source` when a query fails.
    pub async fn orphans(&self) -> Result<Vec<(String, i64)>> {
        Ok(self
            .counted()
            .await?
            .iter()
            .filter(|c| c.all > c.copied)
            .map(|c| (format!("{} rows whose {} is not in the database", c.source, c.parent), c.all - c.copied))
            .collect())
    }

    async fn counted(&self) -> Result<&Vec<Counted>> {
        self.counted.get_or_try_init(|| self.count_tables()).await
    }

    async fn count_tables(&self) -> Result<Vec<Counted>> {
        let inputs = |source: &str, destination: &str| {
            format!("source_type = '{source}' AND destination_type = '{destination}'")
        };
        let dataset_inputs = format!(
            "{} AND {} AND {}",
            inputs("DATASET", "RUN"),
            run_exists("destination_id"),
            dataset_exists("source_id")
        );
        let model_inputs = format!("{} AND {}", inputs("RUN_INPUT", "MODEL_INPUT"), run_exists("source_id"));
        let model_outputs = format!("{} AND {}", inputs("RUN_OUTPUT", "MODEL_OUTPUT"), run_exists("source_id"));
        let tagged_inputs = "input_tags t JOIN inputs i ON i.input_uuid = t.input_uuid";
        let tagged_dataset_inputs = format!(
            "i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND {} AND {}",
            run_exists("i.destination_id"),
            dataset_exists("i.source_id")
        );
        // (ferroflow table, MLflow table, FROM clause, the rows of it that count, those that are copied, parent)
        let tables: Vec<(&'static str, &'static str, &str, String, String, &'static str)> = vec![
            ("experiments", "experiments", "experiments", String::new(), String::new(), ""),
            (
                "experiment_tags",
                "experiment_tags",
                "experiment_tags",
                String::new(),
                experiment_exists("experiment_id"),
                "experiment",
            ),
            ("datasets", "datasets", "datasets", String::new(), experiment_exists("experiment_id"), "experiment"),
            (
                "logged_models",
                "logged_models",
                "logged_models",
                String::new(),
                experiment_exists("experiment_id"),
                "experiment",
            ),
            (
                "logged_model_tags",
                "logged_model_tags",
                "logged_model_tags",
                String::new(),
                logged_model_exists("model_id"),
                "logged model",
            ),
            (
                "logged_model_params",
                "logged_model_params",
                "logged_model_params",
                String::new(),
                logged_model_exists("model_id"),
                "logged model",
            ),
            ("runs", "runs", "runs", String::new(), experiment_exists("experiment_id"), "experiment"),
            ("run_tags", "tags", "tags", String::new(), run_exists("run_uuid"), "run"),
            ("params", "params", "params", String::new(), run_exists("run_uuid"), "run"),
            ("metrics", "metrics", "metrics", String::new(), run_exists("run_uuid"), "run"),
            ("latest_metrics", "latest_metrics", "latest_metrics", String::new(), run_exists("run_uuid"), "run"),
            ("run_dataset_inputs", "inputs", "inputs", inputs("DATASET", "RUN"), dataset_inputs, "run or dataset"),
            (
                "run_input_tags",
                "input_tags",
                tagged_inputs,
                "i.source_type = 'DATASET' AND i.destination_type = 'RUN'".into(),
                tagged_dataset_inputs,
                "run or dataset",
            ),
            ("run_model_inputs", "inputs", "inputs", inputs("RUN_INPUT", "MODEL_INPUT"), model_inputs, "run"),
            ("run_model_outputs", "inputs", "inputs", inputs("RUN_OUTPUT", "MODEL_OUTPUT"), model_outputs, "run"),
            (
                "logged_model_metrics",
                "logged_model_metrics",
                "logged_model_metrics",
                String::new(),
                logged_model_exists("model_id"),
                "logged model",
            ),
            ("registered_models", "registered_models", "registered_models", String::new(), String::new(), ""),
            (
                "registered_model_tags",
                "registered_model_tags",
                "registered_model_tags",
                String::new(),
                registered_model_exists("name"),
                "registered model",
            ),
            (
                "model_versions",
                "model_versions",
                "model_versions",
                String::new(),
                registered_model_exists("name"),
                "registered model",
            ),
            (
                "model_version_tags",
                "model_version_tags",
                "model_version_tags",
                String::new(),
                version_exists("name", "version"),
                "model version",
            ),
            (
                "registered_model_aliases",
                "registered_model_aliases",
                "registered_model_aliases",
                String::new(),
                version_exists("name", "version"),
                "model version",
            ),
        ];
        let mut counted = Vec::with_capacity(tables.len());
        for (target, source, from, rows, copied, parent) in tables {
            if !self.has_table(source) {
                counted.push(Counted { target, source, parent, all: 0, copied: 0 });
                continue;
            }
            let query = |condition: &str| {
                let mut query = format!("SELECT COUNT(*) FROM {from}");
                for (i, part) in [rows.as_str(), condition].into_iter().filter(|p| !p.is_empty()).enumerate() {
                    query.push_str(if i == 0 { " WHERE " } else { " AND " });
                    query.push_str(part);
                }
                query
            };
            let all = self.count(&query(""), source).await?;
            let copied = if copied.is_empty() || all == 0 { all } else { self.count(&query(&copied), source).await? };
            counted.push(Counted { target, source, parent, all, copied });
        }
        Ok(counted)
    }

    async fn count(&self, query: &str, table: &str) -> Result<i64> {
        let sql = self.sql(&query.replacen("COUNT(*)", &self.int("COUNT(*)"), 1));
        get(&self.one(&sql, table).await?, 0, table)
    }

    /// Tables of the source that this import does not carry over and that hold rows (traces,
    /// assessments, webhooks, ...), with their row counts.
    ///
    /// # Errors
    /// `Source` when a query fails.
    pub async fn tables_left_behind(&self) -> Result<Vec<(String, i64)>> {
        let mut tables: Vec<&String> = self.columns.keys().filter(|t| !READ_TABLES.contains(&t.as_str())).collect();
        tables.sort();
        let mut left = Vec::new();
        for table in tables {
            let count = self.count(&format!("SELECT COUNT(*) FROM {table}"), table).await?;
            if count > 0 {
                left.push((table.clone(), count));
            }
        }
        Ok(left)
    }

    /// Rows of `table` (`key_column` > `after`, and `condition` if any, at most `limit`, in key order),
    /// selecting `columns`.
    pub(crate) async fn page(
        &self,
        table: &str,
        columns: &str,
        condition: Option<&str>,
        key_column: &str,
        after: &Key,
        limit: usize,
    ) -> Result<Vec<AnyRow>> {
        let condition = condition.map(|c| format!("{c} AND ")).unwrap_or_default();
        let mut sql = self.sql(&format!("SELECT {columns} FROM {table} WHERE {condition}{key_column} > "));
        after.bind(&mut sql);
        sql.push(&format!(" ORDER BY {key_column} LIMIT {limit}"));
        self.all(&sql, table).await
    }

    /// `select` (a `SELECT ... FROM ...` of `table`) restricted to rows whose `key` is in `(after, last]`
    /// (and `condition`, if any).
    pub(crate) fn range(&self, select: &str, condition: Option<&str>, key: &str, after: &Key, last: &Key) -> Sql {
        let mut sql = self.sql(select);
        sql.push(" WHERE ");
        if let Some(condition) = condition {
            sql.push(condition).push(" AND ");
        }
        sql.push(&format!("{key} > "));
        after.bind(&mut sql);
        sql.push(&format!(" AND {key} <= "));
        last.bind(&mut sql);
        sql
    }

    /// [`MlflowDatabase::range`] of a page's child rows, keeping those whose parent is copied:
    /// `child` (the columns naming the parent) must be among `parents` (a `SELECT ... WHERE ...` of
    /// the copied parents, `WHERE 1 = 1` for all of them) within the same page of their
    /// `parent_key`. Bounding the parents by the page lets each engine read only the page's rows (an
    /// unbounded list of parents made SQLite read every metric once per page).
    pub(crate) fn page_children(
        &self,
        select: &str,
        condition: Option<&str>,
        key: &str,
        (child, parents, parent_key): (&str, &str, &str),
        after: &Key,
        last: &Key,
    ) -> Sql {
        let mut sql = self.range(select, condition, key, after, last);
        sql.push(&format!(" AND {child} IN ({parents} AND {parent_key} > "));
        after.bind(&mut sql);
        sql.push(&format!(" AND {parent_key} <= "));
        last.bind(&mut sql);
        sql.push(")");
        sql
    }

    /// The rows of `sql`, as they arrive (a run's metric history can be long).
    pub(crate) fn stream<'a>(
        &'a self,
        sql: &'a Sql,
        table: &'a str,
    ) -> impl futures_util::Stream<Item = Result<AnyRow>> + Send + 'a {
        sql.query().fetch(&self.pool).map_err(move |err| Error::source(format!("Could not read {table}"), err))
    }

    async fn one(&self, sql: &Sql, table: &str) -> Result<AnyRow> {
        sql.query().fetch_one(&self.pool).await.map_err(|err| Error::source(format!("Could not read {table}"), err))
    }

    async fn all(&self, sql: &Sql, table: &str) -> Result<Vec<AnyRow>> {
        sql.query().fetch_all(&self.pool).await.map_err(|err| Error::source(format!("Could not read {table}"), err))
    }

    /// `column` of `table`, or `fallback` at a revision without it.
    pub(crate) fn column_or(&self, table: &str, column: &str, fallback: &str) -> String {
        if self.has_column(table, column) {
            column.to_owned()
        } else {
            fallback.to_owned()
        }
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The MLflow tables this import reads (the rest are reported if they hold rows).
const READ_TABLES: &[&str] = &[
    "alembic_version",
    "workspaces",
    "experiments",
    "experiment_tags",
    "runs",
    "tags",
    "params",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "logged_models",
    "logged_model_tags",
    "logged_model_params",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
];

/// Column `index` of `row`, decoded.
pub(crate) fn get<'r, T>(row: &'r AnyRow, index: usize, table: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(index).map_err(|err| Error::source(format!("Could not decode a row of {table}"), err))
}

/// Text column `index` of `row`. MySQL sends TEXT columns as BLOBs, which the `Any` driver will not
/// decode as strings, so those are read as bytes and checked to be UTF-8.
pub(crate) fn text(row: &AnyRow, index: usize, table: &str) -> Result<Option<String>> {
    match row.try_get::<Option<String>, _>(index) {
        Ok(value) => Ok(value),
        Err(sqlx::Error::ColumnDecode { .. }) => get::<Option<Vec<u8>>>(row, index, table)?
            .map(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|_| Error::Refused(format!("A value in {table} of the MLflow database is not UTF-8 text")))
            })
            .transpose(),
        Err(err) => Err(Error::source(format!("Could not decode a row of {table}"), err)),
    }
}
