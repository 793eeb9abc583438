use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::{assert_error, TestApp};

fn metric(key: &str, value: Value, timestamp: i64, step: i64) -> Value {
    json!({"key": key, "value": value, "timestamp": timestamp, "step": step})
}

#[tokio::test]
async fn run_name_comes_from_argument_or_tag_and_must_agree() {
    let app = TestApp::new().await;
    let (_, body) = app.post("runs/create", json!({"experiment_id": "0", "run_name": "alpha"})).await;
    assert_eq!(body["run"]["info"]["run_name"], "alpha");
    assert_eq!(body["run"]["data"]["tags"], json!([{"key": "mlflow.runName", "value": "alpha"}]));
    let (_, body) = app.post("runs/create", json!({"tags": [{"key": "mlflow.runName", "value": "beta"}]})).await;
    assert_eq!(body["run"]["info"]["run_name"], "beta");
    let response =
        app.post("runs/create", json!({"run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]})).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "different values");
    let (_, body) = app.post("runs/create", json!({})).await;
    assert_eq!(body["run"]["info"]["run_name"].as_str().unwrap().split('-').count(), 3);
    assert!(body["run"]["info"]["artifact_uri"].as_str().unwrap().starts_with("mlflow-artifacts:/0/"));
}

#[tokio::test]
async fn latest_metric_is_highest_step_then_timestamp_then_value() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    let metrics = json!([
        metric("loss", json!(5.0), 100, 3),
        metric("loss", json!(1.0), 50, 7),
        metric("loss", json!(9.0), 10, 7),
        metric("loss", json!(0.5), 50, 7),
        metric("acc", json!("NaN"), 1, 0),
        metric("big", json!("-Infinity"), 1, 0),
    ]);
    app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics})).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    let latest = &body["run"]["data"]["metrics"];
    // MySQL's DOUBLE has no infinities: there they are kept as the largest finite double, as MLflow does.
    let minus_infinity = if crate::on_mysql() { json!(-f64::MAX) } else { json!("-Infinity") };
    assert_eq!(
        *latest,
        json!([
            {"key": "acc", "value": "NaN", "timestamp": 1, "step": 0},
            {"key": "big", "value": minus_infinity, "timestamp": 1, "step": 0},
            {"key": "loss", "value": 1.0, "timestamp": 50, "step": 7},
        ])
    );
    let (_, history) = app.get(&format!("metrics/get-history?run_id={run}&metric_key=loss")).await;
    let values: Vec<f64> =
        history["metrics"].as_array().unwrap().iter().map(|m| m["value"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![9.0, 0.5, 1.0, 5.0]);
}

#[tokio::test]
async fn params_are_immutable_and_failed_batches_leave_nothing() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    app.ok("runs/log-parameter", json!({"run_id": run, "key": "lr", "value": "0.1"})).await;
    app.ok("runs/log-parameter", json!({"run_id": run, "key": "lr", "value": "0.1"})).await;
    let batch = json!({
        "run_id": run,
        "metrics": [metric("m", json!(1), 1, 0)],
        "params": [{"key": "other", "value": "x"}, {"key": "lr", "value": "0.2"}],
        "tags": [{"key": "t", "value": "v"}],
    });
    assert_error(
        &app.post("runs/log-batch", batch).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "Changing param values",
    );
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["data"]["params"], json!([{"key": "lr", "value": "0.1"}]));
    assert!(body["run"]["data"].get("metrics").is_none(), "{body}");
    assert_eq!(body["run"]["data"]["tags"].as_array().unwrap().len(), 1, "only mlflow.runName: {body}");
}

#[tokio::test]
async fn batch_limits_are_enforced() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    let metrics: Vec<Value> = (0..1001).map(|i| metric("m", json!(i), i, i)).collect();
    assert_error(
        &app.post("runs/log-batch", json!({"run_id": run, "metrics": metrics})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "at most 1000 metrics",
    );
    let params: Vec<Value> = (0..101).map(|i| json!({"key": format!("p{i}"), "value": "v"})).collect();
    assert_error(
        &app.post("runs/log-batch", json!({"run_id": run, "params": params})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "at most 100 params",
    );
    let dup = json!([{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]);
    assert_error(
        &app.post("runs/log-batch", json!({"run_id": run, "params": dup})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "Duplicate parameter keys",
    );
    assert_error(
        &app.post("runs/log-metric", json!({"run_id": run, "key": "../x", "value": 1, "timestamp": 1})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "Invalid metric name",
    );
}

#[tokio::test]
async fn update_rename_delete_and_tags() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    let (_, body) = app
        .post("runs/update", json!({"run_id": run, "status": "FINISHED", "end_time": 42, "run_name": "renamed"}))
        .await;
    assert_eq!(body["run_info"]["status"], "FINISHED");
    assert_eq!(body["run_info"]["end_time"], 42);
    app.ok("runs/set-tag", json!({"run_id": run, "key": "mlflow.runName", "value": "by-tag"})).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["info"]["run_name"], "by-tag");
    assert_error(
        &app.post("runs/delete-tag", json!({"run_id": run, "key": "nope"})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "nope",
    );
    app.ok("runs/delete", json!({"run_id": run})).await;
    assert_error(
        &app.post("runs/log-metric", json!({"run_id": run, "key": "m", "value": 1, "timestamp": 1})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "active",
    );
    assert_error(
        &app.get("runs/get?run_id=0123456789abcdef0123456789abcdef").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "not found",
    );
}

#[tokio::test]
async fn history_pages_cover_every_point_once() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    for chunk in 0..3 {
        let metrics: Vec<Value> =
            (0..1000).map(|i| metric("h", json!(i), chunk * 1000 + i, chunk * 1000 + i)).collect();
        app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics})).await;
    }
    let mut steps = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = format!("metrics/get-history?run_id={run}&metric_key=h&max_results=700");
        if let Some(t) = &token {
            query.push_str(&format!("&page_token={t}"));
        }
        let (status, body) = app.get(&query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        steps.extend(body["metrics"].as_array().unwrap().iter().map(|m| m["step"].as_i64().unwrap()));
        match body["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(steps, (0..3000).collect::<Vec<_>>());
}

#[tokio::test]
async fn bulk_interval_samples_steps_per_run() {
    let app = TestApp::new().await;
    let a = app.create_run("0", 0).await;
    let b = app.create_run("0", 0).await;
    let metrics: Vec<Value> = (0..=100).map(|i| metric("x", json!(i), i, i)).collect();
    app.ok("runs/log-batch", json!({"run_id": a, "metrics": metrics})).await;
    app.ok("runs/log-batch", json!({"run_id": b, "metrics": [metric("x", json!(1), 1, 1)]})).await;
    let (status, body) = app
        .get(&format!("metrics/get-history-bulk-interval?run_ids={a}&run_ids={b}&metric_key=x&max_results=5&start_step=0&end_step=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = body["metrics"].as_array().unwrap();
    let of_a: Vec<i64> =
        points.iter().filter(|p| p["run_id"] == a.as_str()).map(|p| p["step"].as_i64().unwrap()).collect();
    assert_eq!(of_a, vec![0, 25, 50, 75, 100]);
    assert_eq!(points.iter().filter(|p| p["run_id"] == b.as_str()).count(), 1);
    let (status, _) =
        app.get(&format!("metrics/get-history-bulk-interval?run_ids={a}&metric_key=x&start_step=5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn inputs_and_outputs_come_back_on_the_run() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    let dataset = json!({"name": "iris", "digest": "abc123", "source_type": "local", "source": "{}"});
    let inputs = json!({
        "run_id": run,
        "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}],
        "models": [{"model_id": "m-1"}],
    });
    app.ok("runs/log-inputs", inputs).await;
    app.ok("runs/outputs", json!({"run_id": run, "models": [{"model_id": "m-2", "step": 3}]})).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["inputs"]["dataset_inputs"][0]["dataset"]["name"], "iris");
    assert_eq!(body["run"]["inputs"]["dataset_inputs"][0]["tags"][0]["value"], "train");
    assert_eq!(body["run"]["inputs"]["model_inputs"], json!([{"model_id": "m-1"}]));
    assert_eq!(body["run"]["outputs"]["model_outputs"], json!([{"model_id": "m-2", "step": 3}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_all_kept_and_params_stay_immutable() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let run = app.create_run("0", 0).await;
    let mut tasks = Vec::new();
    for i in 0..64_i64 {
        let (app, run) = (app.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let metric = app
                .post("runs/log-metric", json!({"run_id": run, "key": "c", "value": i, "timestamp": i, "step": i}))
                .await;
            let param =
                app.post("runs/log-parameter", json!({"run_id": run, "key": "winner", "value": i.to_string()})).await;
            (metric.0, param.0)
        }));
    }
    let mut param_ok = 0;
    for task in tasks {
        let (metric_status, param_status) = task.await.unwrap();
        assert_eq!(metric_status, StatusCode::OK);
        param_ok += usize::from(param_status == StatusCode::OK);
    }
    assert_eq!(param_ok, 1, "exactly one value of an immutable param is accepted");
    let (_, history) = app.get(&format!("metrics/get-history?run_id={run}&metric_key=c")).await;
    assert_eq!(history["metrics"].as_array().unwrap().len(), 64);
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["data"]["metrics"][0]["step"], 63);
}

#[tokio::test]
async fn metric_values_round_trip_exactly() {
    let app = TestApp::new().await;
    let run = app.create_run("0", 0).await;
    let values = [0.1 + 0.2, 1e-300, -123_456_789.123_456_78, f64::MAX, 5e-324];
    let metrics: Vec<Value> =
        values.iter().enumerate().map(|(i, v)| metric("v", json!(v), i as i64, i as i64)).collect();
    app.ok("runs/log-batch", json!({"run_id": run, "metrics": metrics})).await;
    let (_, history) = app.get(&format!("metrics/get-history?run_id={run}&metric_key=v")).await;
    let back: Vec<f64> = history["metrics"].as_array().unwrap().iter().map(|m| m["value"].as_f64().unwrap()).collect();
    assert_eq!(back, values);
}
