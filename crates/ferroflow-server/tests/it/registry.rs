//! The model registry over HTTP.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::{assert_error, TestApp};

/// A run with a model directory, and the source of that directory.
async fn run_with_model(app: &TestApp) -> (String, String) {
    let experiment = app.create_experiment(&format!("e{}", rand_suffix())).await;
    let run = app.create_run(&experiment, 1).await;
    (run.clone(), format!("mlflow-artifacts:/{experiment}/{run}/artifacts/model"))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

async fn register(app: &TestApp, name: &str, run: &str, source: &str) -> Value {
    let (status, body) =
        app.post("model-versions/create", json!({"name": name, "source": source, "run_id": run})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["model_version"].clone()
}

#[tokio::test]
async fn versions_stages_aliases_and_tags() {
    let app = TestApp::new().await;
    let (run, source) = run_with_model(&app).await;
    let (status, body) =
        app.post("registered-models/create", json!({"name": "boston", "tags": [{"key": "team", "value": "a"}]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(
        &app.post("registered-models/create", json!({"name": "boston"})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "boston",
    );
    for expected in 1..=3 {
        assert_eq!(register(&app, "boston", &run, &source).await["version"], expected.to_string());
    }
    let (_, body) = app.get("model-versions/get?name=boston&version=2").await;
    assert_eq!(body["model_version"]["current_stage"], "None");
    assert_eq!(body["model_version"]["status"], "READY");
    assert_eq!(body["model_version"]["run_id"], run);

    // Stages: archiving the previous Production version.
    for version in ["1", "2"] {
        let (status, body) = app
            .post(
                "model-versions/transition-stage",
                json!({"name": "boston", "version": version, "stage": "production", "archive_existing_versions": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["model_version"]["current_stage"], "Production");
    }
    let (_, body) = app.get("model-versions/get?name=boston&version=1").await;
    assert_eq!(body["model_version"]["current_stage"], "Archived");
    let (_, body) =
        app.post("registered-models/get-latest-versions", json!({"name": "boston", "stages": ["Production"]})).await;
    assert_eq!(body["model_versions"][0]["version"], "2");
    let bad = app
        .post(
            "model-versions/transition-stage",
            json!({"name": "boston", "version": "3", "stage": "Archived", "archive_existing_versions": true}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Active");
    let bad = app
        .post(
            "model-versions/transition-stage",
            json!({"name": "boston", "version": "3", "stage": "Gold", "archive_existing_versions": false}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "stage");

    // Aliases move, and resolve.
    for version in ["1", "3"] {
        let (status, _) = app
            .post("registered-models/alias", json!({"name": "boston", "alias": "champion", "version": version}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, body) = app.get("registered-models/alias?name=boston&alias=champion").await;
    assert_eq!(body["model_version"]["version"], "3");
    assert_eq!(body["model_version"]["aliases"], json!(["champion"]));
    for alias in ["latest", "LATEST", "v1", "V12", "a b", ""] {
        let response =
            app.post("registered-models/alias", json!({"name": "boston", "alias": alias, "version": "1"})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "alias");
    }
    let (_, body) = app.get("registered-models/get?name=boston").await;
    assert_eq!(body["registered_model"]["aliases"], json!([{"alias": "champion", "version": "3"}]));
    let stages: Vec<&str> = body["registered_model"]["latest_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["current_stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["Archived", "Production", "None"]);

    // Tags and descriptions.
    let (status, _) =
        app.post("model-versions/set-tag", json!({"name": "boston", "version": "3", "key": "k", "value": "v"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app
        .call(Method::PATCH, "model-versions/update", json!({"name": "boston", "version": "3", "description": "best"}))
        .await;
    assert_eq!(body["model_version"]["description"], "best");
    assert_eq!(body["model_version"]["tags"], json!([{"key": "k", "value": "v"}]));
    let (status, _) =
        app.call(Method::DELETE, "registered-models/delete-tag", json!({"name": "boston", "key": "team"})).await;
    assert_eq!(status, StatusCode::OK);
    // Deleting a tag that is not there is a no-op, as in MLflow.
    let (status, _) =
        app.call(Method::DELETE, "registered-models/delete-tag", json!({"name": "boston", "key": "team"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.get("registered-models/get?name=boston").await;
    assert!(body["registered_model"].get("tags").is_none(), "{body}");

    // Deleting a version hides it, drops its aliases, and its number is not reused.
    let (status, _) =
        app.call(Method::DELETE, "model-versions/delete", json!({"name": "boston", "version": "3"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &app.get("model-versions/get?name=boston&version=3").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "version=3",
    );
    assert_error(
        &app.get("registered-models/alias?name=boston&alias=champion").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "champion",
    );
    let (_, body) = app.get("registered-models/alias?name=boston&alias=Latest").await;
    assert_eq!(body["model_version"]["version"], "2", "latest is the highest remaining version");
    assert_eq!(register(&app, "boston", &run, &source).await["version"], "4");

    // Renaming carries versions along; deleting removes everything.
    let (status, body) = app.post("registered-models/rename", json!({"name": "boston", "new_name": "boston2"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = app.get("model-versions/get?name=boston2&version=4").await;
    assert_eq!(body["model_version"]["name"], "boston2");
    assert_error(
        &app.get("registered-models/get?name=boston").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "boston",
    );
    let (status, _) = app.call(Method::DELETE, "registered-models/delete", json!({"name": "boston2"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.get("model-versions/search?filter=name%3D%27boston2%27").await;
    assert_eq!(body, json!({}));
}

#[tokio::test]
async fn sources_must_belong_to_the_run_or_model() {
    let app = TestApp::new().await;
    let (run, source) = run_with_model(&app).await;
    let (other_run, _) = run_with_model(&app).await;
    app.ok("registered-models/create", json!({"name": "m"})).await;
    let run_root = source.trim_end_matches("/model");
    for bad in [
        "/etc/passwd",
        "file:///etc",
        "s3://other-bucket/x",
        "mlflow-artifacts:/0/elsewhere/artifacts/model",
        &format!("{run_root}/../../x"),
        &format!("{run_root}/model/%2e%2e/%2e%2e/x"),
        &format!("runs:/{other_run}/model"),
        &format!("runs:/{run}/../x"),
        "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x",
    ] {
        let response = app.post("model-versions/create", json!({"name": "m", "source": bad, "run_id": run})).await;
        assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Invalid model version source");
    }
    let without_run = app.post("model-versions/create", json!({"name": "m", "source": source})).await;
    assert_error(&without_run, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "run_id or model_id");
    let runs_uri_alone =
        app.post("model-versions/create", json!({"name": "m", "source": format!("runs:/{run}/model")})).await;
    assert_error(&runs_uri_alone, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "run_id request parameter");
    // runs:/ resolves to the run's files; get-download-uri answers the storage location.
    let version = register(&app, "m", &run, &format!("runs:/{run}/model")).await;
    let (_, body) = app
        .get(&format!("model-versions/get-download-uri?name=m&version={}", version["version"].as_str().unwrap()))
        .await;
    assert_eq!(body["artifact_uri"], source);
    // A models:/<name>/<version> source copies that version's lineage, and must agree with it.
    let copy = register(&app, "m", &run, "models:/m/1").await;
    assert_eq!((copy["run_id"].as_str(), copy["version"].as_str()), (Some(run.as_str()), Some("2")));
    let mismatch =
        app.post("model-versions/create", json!({"name": "m", "source": "models:/m/1", "run_id": other_run})).await;
    assert_error(&mismatch, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "must match");
    assert_error(
        &app.post("model-versions/create", json!({"name": "nope", "source": source, "run_id": run})).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "nope",
    );
}

#[tokio::test]
async fn concurrent_registrations_get_distinct_consecutive_versions() {
    let app = TestApp::new().await;
    let (run, source) = run_with_model(&app).await;
    app.ok("registered-models/create", json!({"name": "raced"})).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (router, run, source) = (app.router.clone(), run.clone(), source.clone());
        tasks.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for _ in 0..5 {
                let request = Request::builder()
                    .method(Method::POST)
                    .uri("/api/2.0/mlflow/model-versions/create")
                    .header(header::HOST, "localhost")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"name": "raced", "source": source, "run_id": run}).to_string()))
                    .unwrap();
                let response = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                versions.push(body["model_version"]["version"].as_str().unwrap().parse::<i64>().unwrap());
            }
            versions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=20).collect::<Vec<i64>>());
}

#[tokio::test]
async fn searches_filter_order_page_and_hide_prompts() {
    let app = TestApp::new().await;
    let (run, source) = run_with_model(&app).await;
    for i in 0..12 {
        let name = format!("model-{i:02}");
        app.ok(
            "registered-models/create",
            json!({"name": name, "tags": [{"key": "parity", "value": if i % 2 == 0 { "even" } else { "odd" }}]}),
        )
        .await;
        register(&app, &name, &run, &source).await;
    }
    app.ok(
        "registered-models/create",
        json!({"name": "a-prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}),
    )
    .await;

    let names = |body: &Value| -> Vec<String> {
        body["registered_models"]
            .as_array()
            .map_or(Vec::new(), |m| m.iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect())
    };
    // What the 3.x client sends by default.
    let (status, body) = app
        .get("registered-models/search?filter=tag.%60mlflow.prompt.is_prompt%60%20!%3D%20%27true%27&max_results=100")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body).len(), 12);
    let (_, body) = app.get("registered-models/search").await;
    assert_eq!(names(&body).len(), 12, "prompts are hidden by default");
    let (_, body) =
        app.get("registered-models/search?filter=tags.%60mlflow.prompt.is_prompt%60%20%3D%20%27true%27").await;
    assert_eq!(names(&body), ["a-prompt"]);
    let (_, body) = app.get("registered-models/search?filter=name%20LIKE%20%27model-1%25%27%20AND%20tags.parity%20%3D%20%27odd%27&order_by=name%20DESC").await;
    assert_eq!(names(&body), ["model-11"]);

    let mut seen = Vec::new();
    let mut query = "registered-models/search?max_results=5".to_owned();
    loop {
        let (_, body) = app.get(&query).await;
        seen.extend(names(&body));
        match body["next_page_token"].as_str() {
            Some(token) => query = format!("registered-models/search?max_results=5&page_token={token}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..12).map(|i| format!("model-{i:02}")).collect::<Vec<_>>());

    let (_, body) = app.get("model-versions/search?filter=name%20IN%20(%27model-01%27%2C%20%27model-02%27)%20AND%20version_number%20%3D%201&order_by=name%20DESC").await;
    let found: Vec<&str> =
        body["model_versions"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(found, ["model-02", "model-01"]);
    for bad in [
        "registered-models/search?filter=run_id%20%3D%20%27x%27",
        "model-versions/search?order_by=size",
        "registered-models/search?max_results=1001",
    ] {
        let (status, body) = app.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
