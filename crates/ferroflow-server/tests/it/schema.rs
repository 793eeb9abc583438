use std::borrow::Cow;

use ferroflow_store::{BackendUri, PoolSettings, SqlStore, StoreConfig};
use serde_json::json;
use sqlx::migrate::Migrator;
use sqlx::Connection as _;

use crate::{test_database, Options, TestApp};

/// The URL sqlx connects to for `backend`.
fn connection_url(backend: &BackendUri) -> String {
    match backend {
        BackendUri::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
        BackendUri::Postgres { url } | BackendUri::MySql { url } => url.clone(),
    }
}

/// A database that `mlflow server` created is refused with a message that says so, by the server and
/// by `db upgrade`, and is left as it was.
#[tokio::test]
async fn a_database_created_by_mlflow_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let backend = test_database(dir.path()).await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&connection_url(&backend)).await.unwrap();
    // The marker MLflow's migrations leave, and one of its tables whose name ferroflow uses too.
    sqlx::query("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)").execute(&mut conn).await.unwrap();
    sqlx::query("INSERT INTO alembic_version VALUES ('1b5f0d9ad7c1')").execute(&mut conn).await.unwrap();
    sqlx::query("CREATE TABLE experiments (experiment_id INTEGER NOT NULL, name VARCHAR(256) NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();

    let opened = SqlStore::open(&StoreConfig {
        backend: backend.clone(),
        default_artifact_root: "mlflow-artifacts:/".to_owned(),
        max_read_connections: 1,
        pool: PoolSettings { max_connections: 2, ..PoolSettings::default() },
        migrate: true,
    })
    .await;
    let message = opened.err().expect("an MLflow database must be refused").to_string();
    assert!(message.contains("created by `mlflow server`"), "{message}");
    let upgraded = SqlStore::upgrade(&backend, &PoolSettings::default()).await;
    let message = upgraded.expect_err("db upgrade must refuse it too").to_string();
    assert!(message.contains("new, empty database"), "{message}");

    // Nothing was created or changed.
    let count = |table: &str| {
        match &backend {
        BackendUri::Sqlite { .. } => format!("SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}'"),
        BackendUri::Postgres { .. } => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{table}' AND table_schema = current_schema()"
        ),
        BackendUri::MySql { .. } => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '{table}' AND table_schema = DATABASE()"
        ),
    }
    };
    for (table, expected) in [("_sqlx_migrations", 0_i64), ("runs", 0), ("experiments", 1)] {
        let found: i64 = sqlx::query_scalar(&count(table)).fetch_one(&mut conn).await.unwrap();
        assert_eq!(found, expected, "table {table}");
    }
    conn.close().await.unwrap();
}

/// Runs logged before latest metrics, params and tags recorded their run's experiment get it from the
/// upgrade: a filtered search finds each in its own experiment only, and they take new params after.
#[tokio::test]
async fn runs_logged_before_the_experiment_scoped_keys_are_searchable_after_upgrade() {
    const FIRST_SCOPED_VERSION: i64 = 20261127120000;
    let dir = tempfile::tempdir().unwrap();
    let backend = test_database(dir.path()).await;
    let (engine, key) = match &backend {
        BackendUri::Sqlite { .. } => ("sqlite", "key"),
        BackendUri::Postgres { .. } => ("postgres", "key"),
        BackendUri::MySql { .. } => ("mysql", "`key`"),
    };
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&connection_url(&backend)).await.unwrap();
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferroflow-store/migrations").join(engine);
    let mut earlier = Migrator::new(migrations).await.unwrap();
    assert!(earlier.iter().any(|m| m.version == FIRST_SCOPED_VERSION), "the migration under test exists");
    earlier.migrations = Cow::Owned(earlier.iter().filter(|m| m.version < FIRST_SCOPED_VERSION).cloned().collect());
    earlier.run(&mut conn).await.unwrap();
    // Two experiments, each with a run that has the same metric, param and tag.
    for statement in [
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
         last_update_time) VALUES (101, 'before-a', '/a', 'active', 1, 1), (102, 'before-b', '/b', 'active', 1, 1)"
            .to_owned(),
        "INSERT INTO runs (run_id, name, experiment_id, user_id, status, start_time, artifact_uri, lifecycle_stage) \
         VALUES ('run-a', 'a', 101, 'u', 'FINISHED', 1, '/a/run-a', 'active'), \
         ('run-b', 'b', 102, 'u', 'FINISHED', 1, '/b/run-b', 'active')"
            .to_owned(),
        format!("INSERT INTO params (run_id, {key}, value) VALUES ('run-a', 'lr', '0.1'), ('run-b', 'lr', '0.1')"),
        format!("INSERT INTO run_tags (run_id, {key}, value) VALUES ('run-a', 'team', 'x'), ('run-b', 'team', 'x')"),
        format!(
            "INSERT INTO latest_metrics (run_id, {key}, value, is_nan, timestamp, step) VALUES \
             ('run-a', 'loss', 0.5, 0, 1, 0), ('run-b', 'loss', 0.5, 0, 1, 0)"
        ),
    ] {
        sqlx::query(&statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let app = TestApp::with(Options { database: Some(backend), ..Options::default() }).await;
    let search = |experiment: &'static str, filter: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "experiment_ids": [experiment], "filter": filter });
            let page = app.ok("runs/search", body).await;
            let runs = page["runs"].as_array().cloned().unwrap_or_default();
            runs.iter().map(|run| run["info"]["run_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let filter = "metrics.loss < 1 and params.lr = '0.1' and tags.team = 'x'";
    assert_eq!(search("101", filter).await, ["run-a"]);
    assert_eq!(search("102", filter).await, ["run-b"]);
    app.ok("runs/log-parameter", json!({ "run_id": "run-a", "key": "batch", "value": "64" })).await;
    assert_eq!(search("101", "params.batch = '64' and params.lr = '0.1'").await, ["run-a"]);
    assert!(search("102", "params.batch = '64'").await.is_empty());
}
