use axum::http::StatusCode;
use serde_json::json;

use crate::{assert_error, TestApp};

#[tokio::test]
async fn default_experiment_exists_with_proxied_location() {
    let app = TestApp::new().await;
    let (status, body) = app.get("experiments/get?experiment_id=0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["experiment"]["name"], "Default");
    assert_eq!(body["experiment"]["artifact_location"], "mlflow-artifacts:/0");
    assert_eq!(body["experiment"]["lifecycle_stage"], "active");
}

#[tokio::test]
async fn duplicate_names_are_refused_even_when_deleted() {
    let app = TestApp::new().await;
    let id = app.create_experiment("dup").await;
    assert_error(
        &app.post("experiments/create", json!({"name": "dup"})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "dup",
    );
    app.ok("experiments/delete", json!({"experiment_id": id})).await;
    assert_error(
        &app.post("experiments/create", json!({"name": "dup"})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "dup",
    );
}

#[tokio::test]
async fn delete_and_restore_cascade_to_runs() {
    let app = TestApp::new().await;
    let id = app.create_experiment("cascade").await;
    let run = app.create_run(&id, 1).await;
    app.ok("experiments/delete", json!({"experiment_id": id})).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["info"]["lifecycle_stage"], "deleted");
    assert_error(
        &app.post("runs/create", json!({"experiment_id": id})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "active",
    );
    app.ok("experiments/restore", json!({"experiment_id": id})).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["info"]["lifecycle_stage"], "active");
}

#[tokio::test]
async fn rename_and_tags() {
    let app = TestApp::new().await;
    let id = app.create_experiment("old").await;
    app.ok("experiments/update", json!({"experiment_id": id, "new_name": "new"})).await;
    app.ok("experiments/set-experiment-tag", json!({"experiment_id": id, "key": "team", "value": "ml"})).await;
    let (_, body) = app.get("experiments/get-by-name?experiment_name=new").await;
    assert_eq!(body["experiment"]["experiment_id"], id);
    assert_eq!(body["experiment"]["tags"], json!([{"key": "team", "value": "ml"}]));
    app.ok("experiments/delete-experiment-tag", json!({"experiment_id": id, "key": "team"})).await;
    assert_error(
        &app.post("experiments/delete-experiment-tag", json!({"experiment_id": id, "key": "team"})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "team",
    );
    assert_error(
        &app.get("experiments/get-by-name?experiment_name=old").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "old",
    );
}
