//! Pooled connections that the database server drops (a failover, a restart, an administrator's kill)
//! are replaced without a client noticing.

use ferroflow_store::BackendUri;
use serde_json::json;
use sqlx::{Connection as _, Row as _};

use crate::TestApp;

/// Ends every other session on the test's database and returns how many it ended.
async fn kill_other_sessions(url: &str, mysql: bool) -> usize {
    let mut admin = sqlx::AnyConnection::connect(url).await.unwrap();
    let killed = if mysql {
        let ids = sqlx::query(
            "SELECT CAST(id AS SIGNED) AS id FROM information_schema.processlist \
             WHERE db = DATABASE() AND id <> CONNECTION_ID()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for row in &ids {
            let id: i64 = row.try_get("id").unwrap();
            sqlx::query(&format!("KILL CONNECTION {id}")).execute(&mut admin).await.unwrap();
        }
        ids.len()
    } else {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap()
        .len()
    };
    admin.close().await.unwrap();
    killed
}

/// The pool only pings a connection that sat idle for a while, so right after the kill the next
/// requests get dead connections: each must be retried on a live one, and every write must land once.
#[tokio::test]
async fn connections_the_database_dropped_are_replaced_unnoticed() {
    let app = TestApp::new().await;
    let (url, mysql) = match app.database.clone().unwrap() {
        // An embedded SQLite file has no server that could drop a connection.
        BackendUri::Sqlite { .. } => return,
        BackendUri::Postgres { url } => (url, false),
        BackendUri::MySql { url } => (url, true),
    };
    let experiment = app.create_experiment("dropped-connections").await;
    let run = app.create_run(&experiment, 1).await;
    let log = |step: i64| {
        app.post(
            "runs/log-metric",
            json!({"run_id": run, "key": "loss", "value": step as f64, "timestamp": 1000 + step, "step": step}),
        )
    };
    let get_path = format!("runs/get?run_id={run}");
    let get_run = || app.get(&get_path);
    // Several requests at once, so that both pools (writes, run loading) hold several connections.
    let warm = tokio::join!(log(0), log(1), log(2), log(3), get_run(), get_run());
    for (status, body) in [warm.0, warm.1, warm.2, warm.3, warm.4, warm.5] {
        assert_eq!(status, 200, "{body}");
    }

    assert!(kill_other_sessions(&url, mysql).await > 0, "the server held no connection to drop");

    for step in 4..16 {
        let (status, body) = log(step).await;
        assert_eq!(status, 200, "log-metric at step {step} after the kill: {body}");
        let (status, body) = get_run().await;
        assert_eq!(status, 200, "runs/get after the kill: {body}");
        assert_eq!(body["run"]["data"]["metrics"][0]["step"], step, "{body}");
    }
    let (status, history) = app.get(&format!("metrics/get-history?run_id={run}&metric_key=loss")).await;
    assert_eq!(status, 200, "{history}");
    let mut steps: Vec<i64> =
        history["metrics"].as_array().unwrap().iter().map(|m| m["step"].as_i64().unwrap()).collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..16).collect::<Vec<_>>(), "every acknowledged point, once");
}
