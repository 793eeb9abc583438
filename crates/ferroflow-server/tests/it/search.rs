use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::{assert_error, TestApp};

/// Five runs with a metric, a param and a tag, started at 1..=5.
async fn seeded() -> (TestApp, String, Vec<String>) {
    let app = TestApp::new().await;
    let exp = app.create_experiment("search").await;
    let mut runs = Vec::new();
    for i in 1..=5_i64 {
        let run = app.create_run(&exp, i).await;
        let mut batch = json!({
            "run_id": run,
            "metrics": [{"key": "acc", "value": i as f64 / 10.0, "timestamp": 1, "step": 0}],
            "params": [{"key": "model", "value": if i % 2 == 0 { "RF" } else { "svm" }}],
            "tags": [{"key": "team name", "value": format!("team-{i}")}],
        });
        if i == 5 {
            batch["metrics"] = json!([]);
        }
        app.ok("runs/log-batch", batch).await;
        runs.push(run);
    }
    (app, exp, runs)
}

async fn search(app: &TestApp, exp: &str, extra: Value) -> Vec<String> {
    let mut body = json!({"experiment_ids": [exp]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let (status, value) = app.post("runs/search", body).await;
    assert_eq!(status, StatusCode::OK, "{value}");
    value["runs"]
        .as_array()
        .map_or_else(Vec::new, |runs| runs.iter().map(|r| r["info"]["run_id"].as_str().unwrap().to_owned()).collect())
}

#[tokio::test]
async fn filters_on_metrics_params_tags_and_attributes() {
    let (app, exp, runs) = seeded().await;
    let by_filter = |f: &str| json!({"filter": f});
    assert_eq!(search(&app, &exp, by_filter("metrics.acc >= 0.3")).await, vec![runs[3].clone(), runs[2].clone()]);
    assert_eq!(search(&app, &exp, by_filter("params.model = 'RF'")).await, vec![runs[3].clone(), runs[1].clone()]);
    assert_eq!(search(&app, &exp, by_filter("params.model = 'rf'")).await, Vec::<String>::new());
    assert_eq!(search(&app, &exp, by_filter("params.model ILIKE 'rf'")).await.len(), 2);
    assert_eq!(search(&app, &exp, by_filter("params.model LIKE 'R%'")).await.len(), 2);
    assert_eq!(search(&app, &exp, by_filter("tags.`team name` = 'team-3'")).await, vec![runs[2].clone()]);
    assert_eq!(search(&app, &exp, by_filter("params.missing IS NULL")).await.len(), 5);
    assert_eq!(search(&app, &exp, by_filter("tags.`team name` IS NOT NULL and metrics.acc != 0.1")).await.len(), 3);
    let ids = format!("attributes.run_id IN ('{}', '{}')", runs[0], runs[4]);
    assert_eq!(search(&app, &exp, by_filter(&ids)).await, vec![runs[4].clone(), runs[0].clone()]);
    assert_eq!(search(&app, &exp, by_filter("attributes.start_time > 3 and status = 'RUNNING'")).await.len(), 2);
}

#[tokio::test]
async fn orders_with_missing_values_last_and_pages_without_gaps() {
    let (app, exp, runs) = seeded().await;
    let order = search(&app, &exp, json!({"order_by": ["metrics.acc DESC"]})).await;
    assert_eq!(order, vec![runs[3].clone(), runs[2].clone(), runs[1].clone(), runs[0].clone(), runs[4].clone()]);
    let order = search(&app, &exp, json!({"order_by": ["metrics.acc ASC"]})).await;
    assert_eq!(order.last(), Some(&runs[4]));
    let default = search(&app, &exp, json!({})).await;
    assert_eq!(default, runs.iter().rev().cloned().collect::<Vec<_>>(), "default is start_time DESC");

    let mut seen = Vec::new();
    let mut token = Value::Null;
    loop {
        let (_, body) = app
            .post("runs/search", json!({"experiment_ids": [exp], "max_results": 2, "page_token": token, "order_by": ["params.model", "start_time"]}))
            .await;
        seen.extend(body["runs"].as_array().unwrap().iter().map(|r| r["info"]["run_id"].as_str().unwrap().to_owned()));
        token = body.get("next_page_token").cloned().unwrap_or(Value::Null);
        if token.is_null() {
            break;
        }
    }
    assert_eq!(seen, vec![runs[1].clone(), runs[3].clone(), runs[0].clone(), runs[2].clone(), runs[4].clone()]);
}

#[tokio::test]
async fn view_types_and_bad_requests() {
    let (app, exp, runs) = seeded().await;
    app.ok("runs/delete", json!({"run_id": runs[0]})).await;
    assert_eq!(search(&app, &exp, json!({})).await.len(), 4);
    assert_eq!(search(&app, &exp, json!({"run_view_type": "DELETED_ONLY"})).await, vec![runs[0].clone()]);
    assert_eq!(search(&app, &exp, json!({"run_view_type": 3})).await.len(), 5);
    for (body, fragment) in [
        (json!({"filter": "metrics.acc > 'x'"}), "numeric"),
        (json!({"filter": "params.a = 'x' OR params.b = 'y'"}), "OR"),
        (json!({"max_results": 50001}), "max_results"),
        (json!({"page_token": "garbage!"}), "page token"),
        (json!({"order_by": ["metrics.acc", "metrics.acc DESC"]}), "duplicate"),
    ] {
        let mut request = json!({"experiment_ids": [exp]});
        request.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        assert_error(
            &app.post("runs/search", request).await,
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            fragment,
        );
    }
}

#[tokio::test]
async fn experiment_search_filters_orders_and_pages() {
    let app = TestApp::new().await;
    for name in ["alpha", "Beta", "gamma"] {
        app.create_experiment(name).await;
    }
    let (_, body) = app.post("experiments/search", json!({"max_results": 10, "filter": "name ILIKE 'b%'"})).await;
    assert_eq!(body["experiments"][0]["name"], "Beta");
    let (_, body) = app.post("experiments/search", json!({"max_results": 2, "order_by": ["name ASC"]})).await;
    let names: Vec<&str> =
        body["experiments"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Beta", "Default"]);
    let token = body["next_page_token"].as_str().unwrap();
    let (_, body) =
        app.post("experiments/search", json!({"max_results": 2, "order_by": ["name ASC"], "page_token": token})).await;
    let names: Vec<&str> =
        body["experiments"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["alpha", "gamma"]);
    assert!(body.get("next_page_token").is_none());
    assert_error(
        &app.post("experiments/search", json!({})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "max_results",
    );
    let (_, body) = app.get("experiments/search?max_results=5&filter=name%20%3D%20%27gamma%27").await;
    assert_eq!(body["experiments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn long_lists_stay_within_engine_limits() {
    let (app, exp, runs) = seeded().await;
    // More ids than SQLite allows bound parameters (32766): lists travel as one JSON parameter.
    let mut ids: Vec<String> = (0..40_000).map(|i| format!("{i:032x}")).collect();
    ids.push(runs[2].clone());
    let quoted: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    let filter = format!("attributes.run_id IN ({})", quoted.join(", "));
    assert_eq!(search(&app, &exp, json!({"filter": filter})).await, vec![runs[2].clone()]);
    let mut experiment_ids: Vec<String> = (1000..41_000).map(|i| i.to_string()).collect();
    experiment_ids.push(exp.clone());
    let (status, body) = app.post("runs/search", json!({"experiment_ids": experiment_ids})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["runs"].as_array().unwrap().len(), 5);

    let tags: Vec<Value> = (0..11_000).map(|i| json!({"key": format!("t{i}"), "value": "v"})).collect();
    let (status, body) = app.post("runs/create", json!({"experiment_id": exp, "tags": tags})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run"]["data"]["tags"].as_array().unwrap().len(), 11_001, "with mlflow.runName");

    let order_by: Vec<String> = (0..64).map(|i| format!("params.p{i}")).collect();
    let response = app.post("runs/search", json!({"experiment_ids": [exp], "order_by": order_by})).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "at most");
}
