use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt as _;

use crate::{assert_error, TestApp};

fn post_raw(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(path).header(header::HOST, "127.0.0.1:5000");
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    builder.body(body.into()).unwrap()
}

#[tokio::test]
async fn malformed_bodies_get_json_400s() {
    let app = TestApp::new().await;
    let path = "/api/2.0/mlflow/experiments/create";
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for body in [b"{not json".to_vec(), b"[1,2]".to_vec(), vec![0xff, 0xfe, b'{'], deep.into_bytes()] {
        let (status, value) = app.raw(post_raw(path, Some("application/json"), body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(value["error_code"], "INVALID_PARAMETER_VALUE");
    }
    let response = app.raw(post_raw(path, Some("text/plain"), "{\"name\": \"x\"}")).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Content-Type");
    let response = app.raw(post_raw(path, None, "{\"name\": \"x\"}")).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "Content-Type");
}

#[tokio::test]
async fn wrong_types_and_overflow_are_invalid_parameters() {
    let app = TestApp::new().await;
    assert_error(
        &app.post("experiments/create", json!({"name": 5})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "",
    );
    let run = app.create_run("0", 0).await;
    let overflow = format!(r#"{{"run_id": "{run}", "key": "m", "value": 1, "timestamp": 99999999999999999999999}}"#);
    let response = app.raw(post_raw("/api/2.0/mlflow/runs/log-metric", Some("application/json"), overflow)).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "integer");
    assert_error(
        &app.post("runs/log-metric", json!({"run_id": run, "key": "m", "value": "abc", "timestamp": 1})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "number",
    );
}

#[tokio::test]
async fn missing_fields_are_named() {
    let app = TestApp::new().await;
    assert_error(
        &app.post("experiments/create", json!({})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "'name'",
    );
    let run = app.create_run("0", 0).await;
    assert_error(
        &app.post("runs/log-batch", json!({"run_id": run, "metrics": [{"key": "a", "value": 1}]})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "metrics[0].timestamp",
    );
}

#[tokio::test]
async fn unknown_routes_hosts_and_bodies_over_the_limit() {
    let app = TestApp::new().await;
    assert_error(&app.get("no/such/endpoint").await, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "no/such");
    let request =
        Request::builder().uri("/health").header(header::HOST, "attacker.example:5000").body(Body::empty()).unwrap();
    assert_error(&app.raw(request).await, StatusCode::FORBIDDEN, "PERMISSION_DENIED", "Host");
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(9 * 1024 * 1024));
    let (status, body) = app.raw(post_raw("/api/2.0/mlflow/experiments/create", Some("application/json"), big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error_code"], "BAD_REQUEST");
}

#[tokio::test]
async fn ajax_prefix_serves_the_same_api() {
    let app = TestApp::new().await;
    let request = Request::builder()
        .uri("/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let (status, body) = app.raw(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["experiment"]["name"], "Default");
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/2.0/mlflow/runs/create")
        .header(header::HOST, "localhost:5000")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cross_origin_access_only_for_configured_origins() {
    let closed = TestApp::new().await;
    let response = closed.router.clone().oneshot(preflight("https://ui.example.com")).await.unwrap();
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let open = TestApp::with_cors(vec!["https://ui.example.com".to_owned()]).await;
    let response = open.router.clone().oneshot(preflight("https://ui.example.com")).await.unwrap();
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://ui.example.com");
    let response = open.router.clone().oneshot(preflight("https://evil.example.com")).await.unwrap();
    assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::new().await;
    let request = Request::builder().uri("/health").header(header::HOST, "localhost").body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "SAMEORIGIN");
}
