use ferroflow_store::{BackendUri, PoolSettings, SqlStore, StoreConfig};
use sqlx::Connection as _;

use crate::test_database;

/// A database that `mlflow server` created is refused with a message that says so, by the server and
/// by `db upgrade`, and is left as it was.
#[tokio::test]
async fn a_database_created_by_mlflow_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let backend = test_database(dir.path()).await;
    let url = match &backend {
        BackendUri::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
        BackendUri::Postgres { url } | BackendUri::MySql { url } => url.clone(),
    };
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
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
