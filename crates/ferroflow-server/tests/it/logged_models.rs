//! Logged models: the lifecycle `log_model` drives, and their search.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, TestApp};

async fn create(app: &TestApp, body: Value) -> Value {
    let (status, body) = app.post("logged-models", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["model"].clone()
}

#[tokio::test]
async fn lifecycle_of_a_logged_model() {
    let app = TestApp::new().await;
    let experiment = app.create_experiment("models").await;
    let run = app.create_run(&experiment, 1).await;
    let model = create(
        &app,
        json!({"experiment_id": experiment, "name": "clf", "source_run_id": run, "model_type": "sklearn",
               "params": [{"key": "depth", "value": "3"}], "tags": [{"key": "team", "value": "a"}]}),
    )
    .await;
    let id = model["info"]["model_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("m-") && id.len() == 34, "{id}");
    assert_eq!(model["info"]["status"], "LOGGED_MODEL_PENDING");
    assert_eq!(model["info"]["artifact_uri"], format!("mlflow-artifacts:/{experiment}/models/{id}/artifacts"));
    assert_eq!(model["info"]["source_run_id"], run);
    assert_eq!(model["data"]["params"], json!([{"key": "depth", "value": "3"}]));

    // The metrics a run logs against the model belong to it.
    app.ok(
        "runs/log-batch",
        json!({"run_id": run, "metrics": [
            {"key": "acc", "value": 0.5, "timestamp": 1, "step": 0, "model_id": id, "dataset_name": "eval", "dataset_digest": "d1"},
            {"key": "acc", "value": 0.9, "timestamp": 2, "step": 1, "model_id": id, "dataset_name": "eval", "dataset_digest": "d1"},
        ]}),
    )
    .await;
    let (status, body) = app
        .call(Method::PATCH, &format!("logged-models/{id}"), json!({"model_id": id, "status": "LOGGED_MODEL_READY"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model"]["info"]["status"], "LOGGED_MODEL_READY");
    let metrics = body["model"]["data"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[1]["value"], 0.9);
    assert_eq!(metrics[1]["run_id"], run);

    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("logged-models/{id}/tags"),
            json!({"tags": [{"key": "stage", "value": "x"}, {"key": "stage", "value": "y"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.get(&format!("logged-models/{id}")).await;
    assert_eq!(body["model"]["info"]["tags"], json!([{"key": "stage", "value": "y"}, {"key": "team", "value": "a"}]));
    let (status, _) = app.call(Method::DELETE, &format!("logged-models/{id}/tags/team"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let missing = app.call(Method::DELETE, &format!("logged-models/{id}/tags/team"), json!({})).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", "team");

    // Params are write-once.
    let (status, _) = app
        .post(
            &format!("logged-models/{id}/params"),
            json!({"params": [{"key": "depth", "value": "3"}, {"key": "lr", "value": "0.1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let changed =
        app.post(&format!("logged-models/{id}/params"), json!({"params": [{"key": "depth", "value": "4"}]})).await;
    assert_error(&changed, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Changing param values");

    // Deleted models are hidden unless asked for.
    let (status, _) = app.call(Method::DELETE, &format!("logged-models/{id}"), json!({"model_id": id})).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&app.get(&format!("logged-models/{id}")).await, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", &id);
    let (status, body) = app.get(&format!("logged-models/{id}?allow_deleted=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        &app.get("logged-models/m-00000000000000000000000000000000").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "not found",
    );
}

#[tokio::test]
async fn bad_requests() {
    let app = TestApp::new().await;
    let experiment = app.create_experiment("bad").await;
    for name in ["a/b", "a.b", "", "x:y"] {
        let response = app.post("logged-models", json!({"experiment_id": experiment, "name": name})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Invalid model name");
    }
    assert_error(
        &app.post("logged-models", json!({"name": "m"})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "experiment_id",
    );
    assert_error(
        &app.post("logged-models", json!({"experiment_id": "999"})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "999",
    );
    let model = create(&app, json!({"experiment_id": experiment})).await;
    assert!(!model["info"]["name"].as_str().unwrap().is_empty(), "a name is generated");
    let id = model["info"]["model_id"].as_str().unwrap();
    let pending =
        app.call(Method::PATCH, &format!("logged-models/{id}"), json!({"status": "LOGGED_MODEL_PENDING"})).await;
    assert_eq!(pending.0, StatusCode::BAD_REQUEST);
    let search = app.post("logged-models/search", json!({"filter": "name = 'x'"})).await;
    assert_error(&search, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "experiment_ids");
    let search =
        app.post("logged-models/search", json!({"experiment_ids": [experiment], "filter": "colour = 'red'"})).await;
    assert_error(&search, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "colour");
    let search = app
        .post("logged-models/search", json!({"experiment_ids": [experiment], "order_by": [{"field_name": "params.x"}]}))
        .await;
    assert_error(&search, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "params.x");
}

#[tokio::test]
async fn search_filters_orders_and_pages() {
    let app = TestApp::new().await;
    let experiment = app.create_experiment("search").await;
    let other = app.create_experiment("other").await;
    let run = app.create_run(&experiment, 1).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let name = if i % 2 == 0 { "even" } else { "odd" };
        let model = create(
            &app,
            json!({"experiment_id": experiment, "name": name, "source_run_id": run,
                                          "tags": [{"key": "i", "value": i.to_string()}]}),
        )
        .await;
        let id = model["info"]["model_id"].as_str().unwrap().to_owned();
        app.ok("runs/log-batch", json!({"run_id": run, "metrics": [
            {"key": "score", "value": f64::from(i) / 10.0, "timestamp": 1, "step": 0, "model_id": id, "dataset_name": "eval"},
            {"key": "score", "value": 1.0 - f64::from(i) / 10.0, "timestamp": 1, "step": 0, "model_id": id, "dataset_name": "train"},
        ]})).await;
        ids.push(id);
    }
    create(&app, json!({"experiment_id": other, "name": "even"})).await;

    let names = |body: &Value| -> Vec<String> {
        body["models"].as_array().map_or(Vec::new(), |models| {
            models.iter().map(|m| m["info"]["tags"][0]["value"].as_str().unwrap_or("-").to_owned()).collect()
        })
    };
    let (status, body) =
        app.post("logged-models/search", json!({"experiment_ids": [experiment], "filter": "name = 'even'"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["6", "4", "2", "0"], "newest first by default");

    let (_, body) = app
        .post(
            "logged-models/search",
            json!({"experiment_ids": [experiment],
        "filter": "metrics.score >= 0.3 AND tags.i != '5'", "datasets": [{"dataset_name": "eval"}],
        "order_by": [{"field_name": "metrics.score", "ascending": true, "dataset_name": "eval"}]}),
        )
        .await;
    assert_eq!(names(&body), ["3", "4", "6"]);
    let (_, body) = app
        .post(
            "logged-models/search",
            json!({"experiment_ids": [experiment],
        "order_by": [{"field_name": "metrics.score", "ascending": false, "dataset_name": "train"}]}),
        )
        .await;
    assert_eq!(names(&body), ["0", "1", "2", "3", "4", "5", "6"]);
    let (_, body) = app
        .post("logged-models/search", json!({"experiment_ids": [experiment, other], "filter": "name LIKE 'ev%'"}))
        .await;
    assert_eq!(body["models"].as_array().unwrap().len(), 5);

    // Pages of 3: every model once, and the token only continues the same search.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request =
            json!({"experiment_ids": [experiment], "max_results": 3, "order_by": [{"field_name": "name"}]});
        if let Some(t) = &token {
            request["page_token"] = json!(t);
        }
        let (status, body) = app.post("logged-models/search", request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(
            body["models"].as_array().unwrap().iter().map(|m| m["info"]["model_id"].as_str().unwrap().to_owned()),
        );
        match body["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    let (_, first) = app.post("logged-models/search", json!({"experiment_ids": [experiment], "max_results": 3})).await;
    let token = first["next_page_token"].as_str().unwrap();
    let reused = app
        .post(
            "logged-models/search",
            json!({"experiment_ids": [experiment], "max_results": 3, "filter": "name = 'odd'", "page_token": token}),
        )
        .await;
    assert_error(&reused, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "different");
}
