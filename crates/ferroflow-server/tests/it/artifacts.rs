//! The artifact proxy, on a local directory and on a real S3-compatible server.
//!
//! The S3 cases need an S3 endpoint in `FERROFLOW_TEST_S3_ENDPOINT` (scripts/test.sh starts moto and sets
//! it, along with `MLFLOW_S3_ENDPOINT_URL` and the AWS credential variables). Without it they are not run,
//! unless `CI` is set, where its absence is a failure.

use std::path::Path;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

use ferroflow_artifacts::ArtifactStore;

use crate::{assert_error, Options, TestApp};

const PREFIX: &str = "/api/2.0/mlflow-artifacts";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()))
    }
}

async fn send(app: &TestApp, method: Method, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri).header(header::HOST, "localhost:5000");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.router.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body }
}

async fn put(app: &TestApp, path: &str, data: impl Into<Body>) -> Reply {
    send(app, Method::PUT, &format!("{PREFIX}/artifacts/{path}"), &[], data).await
}

async fn get(app: &TestApp, path: &str) -> Reply {
    send(app, Method::GET, &format!("{PREFIX}/artifacts/{path}"), &[], Body::empty()).await
}

async fn list(app: &TestApp, dir: &str) -> Value {
    let reply = send(app, Method::GET, &format!("{PREFIX}/artifacts?path={dir}"), &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::OK, "list {dir}: {}", reply.json());
    reply.json()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8).collect()
}

/// A fresh bucket on the S3 test server, as an `s3://` destination; `None` when no server is configured.
async fn s3_destination() -> Option<String> {
    let Ok(endpoint) = std::env::var("FERROFLOW_TEST_S3_ENDPOINT") else {
        assert!(std::env::var_os("CI").is_none(), "CI must provide an S3 server in FERROFLOW_TEST_S3_ENDPOINT");
        eprintln!("FERROFLOW_TEST_S3_ENDPOINT is unset: S3 destination not tested");
        return None;
    };
    assert_eq!(
        std::env::var("MLFLOW_S3_ENDPOINT_URL").ok().as_deref(),
        Some(endpoint.as_str()),
        "MLFLOW_S3_ENDPOINT_URL must name the same S3 server"
    );
    static BUCKETS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let serial = BUCKETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let bucket = format!("ferroflow-it-{}-{nanos}-{serial}", std::process::id());
    let answer = unsigned_s3_request("PUT", &format!("/{bucket}")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "could not create bucket {bucket}: {answer}");
    Some(format!("s3://{bucket}/artifacts/root"))
}

/// One app per destination under test: local always, S3 when available.
async fn apps() -> Vec<(&'static str, TestApp)> {
    let mut apps = vec![("local", TestApp::new().await)];
    if let Some(destination) = s3_destination().await {
        apps.push((
            "s3",
            TestApp::with(Options { artifacts_destination: Some(destination), ..Options::default() }).await,
        ));
    }
    apps
}

#[tokio::test]
async fn upload_list_download_delete_round_trip() {
    for (kind, app) in apps().await {
        let big = pattern(9 * 1024 * 1024 + 17, 7); // larger than one upload chunk
        let unicode = "dir/sub dir/résumé v1.json";
        assert_eq!(put(&app, "1/run/artifacts/model/weights.bin", big.clone()).await.status, StatusCode::OK, "{kind}");
        for (path, data) in [("1/run/artifacts/model/MLmodel", "flavors: {}\n"), ("1/run/artifacts/notes.txt", "hello")]
        {
            let reply = put(&app, path, data).await;
            assert_eq!(reply.status, StatusCode::OK, "{kind} {path}: {}", reply.json());
            assert_eq!(reply.json(), json!({}));
        }
        let encoded = "1/run/artifacts/dir/sub%20dir/r%C3%A9sum%C3%A9%20v1.json";
        assert_eq!(put(&app, encoded, "{\"a\": 1}").await.status, StatusCode::OK, "{kind}");
        assert_eq!(put(&app, "1/run/artifacts/empty.txt", Body::empty()).await.status, StatusCode::OK, "{kind}");

        assert_eq!(
            list(&app, "1/run/artifacts").await,
            json!({"files": [
                {"path": "dir", "is_dir": true},
                {"path": "empty.txt", "is_dir": false, "file_size": 0},
                {"path": "model", "is_dir": true},
                {"path": "notes.txt", "is_dir": false, "file_size": 5},
            ]}),
            "{kind}"
        );
        assert_eq!(
            list(&app, "1/run/artifacts/model").await["files"][1],
            json!({"path": "weights.bin", "is_dir": false, "file_size": big.len()}),
            "{kind}"
        );
        // A file, or nothing, lists as an empty object.
        assert_eq!(list(&app, "1/run/artifacts/notes.txt").await, json!({}), "{kind}");
        assert_eq!(list(&app, "1/nothing/here").await, json!({}), "{kind}");

        let reply = get(&app, "1/run/artifacts/model/weights.bin").await;
        assert_eq!(reply.status, StatusCode::OK, "{kind}");
        assert!(reply.body == big, "{kind}: downloaded bytes differ");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/octet-stream");
        assert_eq!(reply.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"weights.bin\"");
        assert_eq!(reply.headers[header::CONTENT_LENGTH], big.len().to_string().as_str());

        let reply = get(&app, encoded).await;
        assert_eq!(reply.body, "{\"a\": 1}", "{kind}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain");
        let disposition = reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20v1.json"), "{disposition}");
        assert_eq!(get(&app, "1/run/artifacts/empty.txt").await.body.len(), 0, "{kind}");
        assert_eq!(
            list(&app, "1/run/artifacts/dir/sub%20dir").await["files"][0]["path"],
            unicode.rsplit('/').next().unwrap()
        );

        // Overwrite replaces.
        put(&app, "1/run/artifacts/notes.txt", "replaced").await;
        assert_eq!(get(&app, "1/run/artifacts/notes.txt").await.body, "replaced", "{kind}");

        // Missing files and directories.
        let missing = get(&app, "1/run/artifacts/missing.txt").await;
        assert_error(
            &(missing.status, missing.json()),
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "missing.txt",
        );
        if kind == "local" {
            let reply = get(&app, "1/run/artifacts/model").await;
            assert_error(
                &(reply.status, reply.json()),
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER_VALUE",
                "directory",
            );
        }

        // Deleting a run's directory leaves a run whose id merely starts the same way.
        put(&app, "1/runner/artifacts/keep.txt", "keep").await;
        let reply = send(&app, Method::DELETE, &format!("{PREFIX}/artifacts/1/run"), &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::OK, "{kind}: {}", reply.json());
        assert_eq!(list(&app, "1/run").await, json!({}), "{kind}");
        assert_eq!(get(&app, "1/runner/artifacts/keep.txt").await.body, "keep", "{kind}");
        assert_eq!(list(&app, "1").await, json!({"files": [{"path": "runner", "is_dir": true}]}), "{kind}");
        // Deleting what is not there is fine.
        assert_eq!(
            send(&app, Method::DELETE, &format!("{PREFIX}/artifacts/1/gone"), &[], Body::empty()).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn ranged_downloads() {
    for (kind, app) in apps().await {
        let data = pattern(10_000, 3);
        put(&app, "r/data.bin", data.clone()).await;
        let uri = format!("{PREFIX}/artifacts/r/data.bin");
        for (range, expected, content_range) in [
            ("bytes=0-99", &data[..100], "bytes 0-99/10000"),
            ("bytes=9990-", &data[9990..], "bytes 9990-9999/10000"),
            ("bytes=-10", &data[9990..], "bytes 9990-9999/10000"),
            ("bytes=5000-20000", &data[5000..], "bytes 5000-9999/10000"),
        ] {
            let reply = send(&app, Method::GET, &uri, &[("range", range)], Body::empty()).await;
            assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{kind} {range}");
            assert_eq!(&reply.body[..], expected, "{kind} {range}");
            assert_eq!(reply.headers[header::CONTENT_RANGE], content_range, "{kind} {range}");
        }
        let reply = send(&app, Method::GET, &uri, &[("range", "bytes=10000-")], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{kind}");
        assert_eq!(reply.headers[header::CONTENT_RANGE], "bytes */10000");
        // Large objects on buckets are fetched in parallel ranges and must come back whole and in order.
        let large = pattern(17 * 1024 * 1024 + 5, 11);
        put(&app, "r/large.bin", large.clone()).await;
        let reply = get(&app, "r/large.bin").await;
        assert_eq!(reply.headers[header::CONTENT_LENGTH], large.len().to_string().as_str(), "{kind}");
        assert!(reply.body == large, "{kind}: large download differs");
        // Several ranges at once are not supported: the whole file comes back.
        let reply = send(&app, Method::GET, &uri, &[("range", "bytes=0-1,5-6")], Body::empty()).await;
        assert_eq!((reply.status, reply.body.len()), (StatusCode::OK, 10_000), "{kind}");
    }
}

/// Strips the origin from a credential URL so the in-process router can be called with it.
fn local_uri(url: &str) -> &str {
    let rest = url.split_once("://").unwrap().1;
    &rest[rest.find('/').unwrap()..]
}

async fn post_json(app: &TestApp, uri: &str, body: Value) -> Reply {
    send(app, Method::POST, uri, &[("content-type", "application/json")], body.to_string()).await
}

/// Starts a multipart upload under the artifact directory `dir` and returns the reply (which must be
/// 200): `upload_id` and one `credentials` entry per part.
async fn create_upload(app: &TestApp, kind: &str, dir: &str, path: &str, num_parts: u64) -> Value {
    let create =
        post_json(app, &format!("{PREFIX}/mpu/create/{dir}"), json!({"path": path, "num_parts": num_parts})).await;
    assert_eq!(create.status, StatusCode::OK, "{kind}: {}", create.json());
    create.json()
}

#[tokio::test]
async fn multipart_upload_in_parts() {
    for (kind, app) in apps().await {
        let part_size = 5 * 1024 * 1024;
        let data = pattern(2 * part_size + 1234, 9);
        let created = create_upload(&app, kind, "7/run/artifacts/big", "/home/me/data/huge file.bin", 3).await;
        let upload_id = created["upload_id"].as_str().unwrap().to_owned();
        let credentials = created["credentials"].as_array().unwrap().clone();
        assert_eq!(credentials.len(), 3);
        assert!(credentials[0]["url"].as_str().unwrap().starts_with(
            "http://localhost:5000/api/2.0/mlflow-artifacts/mpu/part/7/run/artifacts/big/huge%20file.bin?upload_id="
        ));
        // Parts may arrive in any order.
        let mut parts = Vec::new();
        for index in [2usize, 0, 1] {
            let chunk = data[index * part_size..((index + 1) * part_size).min(data.len())].to_vec();
            let len = chunk.len().to_string();
            let url = credentials[index]["url"].as_str().unwrap();
            let reply = send(&app, Method::PUT, local_uri(url), &[("content-length", len.as_str())], chunk).await;
            assert_eq!(reply.status, StatusCode::OK, "{kind} part {index}: {}", reply.json());
            let etag = reply.headers[header::ETAG].to_str().unwrap().to_owned();
            parts.push(json!({"part_number": index + 1, "etag": etag, "url": url}));
        }
        // Nothing is visible before completion.
        assert_eq!(get(&app, "7/run/artifacts/big/huge%20file.bin").await.status, StatusCode::NOT_FOUND, "{kind}");
        let gap = post_json(
            &app,
            &format!("{PREFIX}/mpu/complete/7/run/artifacts/big"),
            json!({"path": "huge file.bin", "upload_id": upload_id, "parts": [parts[0], parts[1]]}),
        )
        .await;
        assert_error(&(gap.status, gap.json()), StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "exactly once");
        // A part beyond the declared count, or completing under another path, is refused too.
        let extra = credentials[2]["url"].as_str().unwrap().replace("part_number=3", "part_number=4");
        let reply = send(&app, Method::PUT, local_uri(&extra), &[("content-length", "1")], "x").await;
        assert_error(&(reply.status, reply.json()), StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "part_number");
        let elsewhere = post_json(
            &app,
            &format!("{PREFIX}/mpu/complete/7/run/artifacts/other"),
            json!({"path": "huge file.bin", "upload_id": upload_id, "parts": parts}),
        )
        .await;
        assert_error(
            &(elsewhere.status, elsewhere.json()),
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "is not for",
        );
        let bogus = post_json(
            &app,
            &format!("{PREFIX}/mpu/complete/7/run/artifacts/big"),
            json!({"path": "huge file.bin", "upload_id": "../../x", "parts": parts}),
        )
        .await;
        assert_error(
            &(bogus.status, bogus.json()),
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "multipart upload",
        );
        let done = post_json(
            &app,
            &format!("{PREFIX}/mpu/complete/7/run/artifacts/big"),
            json!({"path": "huge file.bin", "upload_id": upload_id, "parts": parts}),
        )
        .await;
        assert_eq!(done.status, StatusCode::OK, "{kind}: {}", done.json());
        let reply = get(&app, "7/run/artifacts/big/huge%20file.bin").await;
        assert!(reply.status == StatusCode::OK && reply.body == data, "{kind}: multipart result differs");
        assert_eq!(list(&app, "7/run/artifacts/big").await["files"].as_array().unwrap().len(), 1, "{kind}");

        // Abort discards; the id is then unknown.
        let created = create_upload(&app, kind, "7/run/artifacts", "x.bin", 1).await;
        let upload_id = created["upload_id"].as_str().unwrap().to_owned();
        let url = created["credentials"][0]["url"].as_str().unwrap().to_owned();
        send(&app, Method::PUT, local_uri(&url), &[("content-length", "3")], "abc").await;
        let abort = post_json(
            &app,
            &format!("{PREFIX}/mpu/abort/7/run/artifacts"),
            json!({"path": "x.bin", "upload_id": upload_id}),
        )
        .await;
        assert_eq!(abort.status, StatusCode::OK, "{kind}: {}", abort.json());
        assert_eq!(get(&app, "7/run/artifacts/x.bin").await.status, StatusCode::NOT_FOUND, "{kind}");
        if kind == "local" {
            let late = post_json(
                &app,
                &format!("{PREFIX}/mpu/complete/7/run/artifacts"),
                json!({"path": "x.bin", "upload_id": upload_id, "parts": [{"part_number": 1, "etag": "\"1-3\""}]}),
            )
            .await;
            assert_error(
                &(late.status, late.json()),
                StatusCode::NOT_FOUND,
                "RESOURCE_DOES_NOT_EXIST",
                "multipart upload",
            );
            assert!(!Path::new(&app.artifacts).join(".ferroflow-multipart").join(&upload_id).exists());
        }
        let bad =
            post_json(&app, &format!("{PREFIX}/mpu/create/7/run"), json!({"path": "x.bin", "num_parts": 10_001})).await;
        assert_error(&(bad.status, bad.json()), StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "num_parts");
        let traversal =
            post_json(&app, &format!("{PREFIX}/mpu/create/7/run"), json!({"path": "..", "num_parts": 1})).await;
        assert_eq!(traversal.status, StatusCode::BAD_REQUEST, "{kind}");
    }
}

#[tokio::test]
async fn server_info_offers_multipart_uploads_for_buckets() {
    for (kind, app) in apps().await {
        let reply = send(&app, Method::GET, "/api/3.0/mlflow/server-info", &[], Body::empty()).await;
        // On local disk one streamed PUT is faster than parts, so only buckets get them (as in MLflow).
        assert_eq!(reply.json()["multipart_uploads_enabled"], kind == "s3", "{kind}");
        assert_eq!(reply.json()["multipart_downloads_enabled"], false);
    }
    let app = TestApp::new().await;
    let presigned = send(&app, Method::GET, &format!("{PREFIX}/presigned/1/a.bin"), &[], Body::empty()).await;
    assert_eq!(presigned.status, StatusCode::NOT_IMPLEMENTED);
}

/// Every traversal form, on every verb, is refused, and nothing outside the root is touched.
#[tokio::test]
async fn traversal_is_refused_everywhere() {
    let app = TestApp::new().await;
    let outside = app.dir.path().join("secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    put(&app, "a/b/inside.txt", "inside").await;
    let attacks = [
        "../secret.txt",
        "a/../../secret.txt",
        "a/b/../../../secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E%2Fsecret.txt",
        "a%2F..%2F..%2Fsecret.txt",
        "%252e%252e/secret.txt",
        "%25252e%25252e%25252fsecret.txt",
        "..%5csecret.txt",
        "a%5c..%5c..%5csecret.txt",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "C:/Windows/win.ini",
        "a/%00/x",
        "a%00.txt",
        "./a/b/inside.txt",
        ".ferroflow-multipart/x",
    ];
    for attack in attacks {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let reply = send(&app, method.clone(), &format!("{PREFIX}/artifacts/{attack}"), &[], "overwritten").await;
            assert!(
                matches!(reply.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
                "{method} {attack}: {} {}",
                reply.status,
                reply.json()
            );
            if reply.status == StatusCode::BAD_REQUEST {
                assert_eq!(reply.json()["error_code"], "INVALID_PARAMETER_VALUE", "{method} {attack}");
            }
        }
        let reply = send(&app, Method::GET, &format!("{PREFIX}/artifacts?path={attack}"), &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "list {attack}: {}", reply.json());
        let reply =
            post_json(&app, &format!("{PREFIX}/mpu/create/{attack}"), json!({"path": "f.bin", "num_parts": 1})).await;
        assert!(
            matches!(reply.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "mpu {attack}: {}",
            reply.status
        );
    }
    // The double slash form reaches the handler as an absolute path.
    let reply = send(&app, Method::GET, &format!("{PREFIX}/artifacts//etc/passwd"), &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret");
    assert_eq!(get(&app, "a/b/inside.txt").await.body, "inside");
    let mut siblings: Vec<String> = std::fs::read_dir(app.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("mlflow.db"))
        .collect();
    siblings.sort();
    assert_eq!(siblings, ["artifacts", "secret.txt"], "something was written next to the root");
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_cannot_lead_out_of_the_root() {
    let app = TestApp::new().await;
    let outside = app.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let root = Path::new(&app.artifacts);
    std::fs::create_dir_all(root.join("exp")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("exp/escape")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("exp/secret-link")).unwrap();
    std::fs::write(root.join("exp/real.txt"), "real").unwrap();
    std::os::unix::fs::symlink(root.join("exp/real.txt"), root.join("exp/inner-link")).unwrap();

    for path in ["exp/escape/secret.txt", "exp/secret-link", "exp/escape/new.txt"] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let reply = send(&app, method.clone(), &format!("{PREFIX}/artifacts/{path}"), &[], "overwritten").await;
            assert_error(
                &(reply.status, reply.json()),
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "outside the artifact root",
            );
        }
    }
    let reply = send(&app, Method::GET, &format!("{PREFIX}/artifacts?path=exp/escape"), &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Links that lead out are not listed; a link within the root is.
    assert_eq!(
        list(&app, "exp").await,
        json!({"files": [
            {"path": "inner-link", "is_dir": false, "file_size": 4},
            {"path": "real.txt", "is_dir": false, "file_size": 4},
        ]})
    );
    assert_eq!(get(&app, "exp/inner-link").await.body, "real");
    // Deleting the directory that holds the links removes the links, not their targets.
    assert_eq!(
        send(&app, Method::DELETE, &format!("{PREFIX}/artifacts/exp"), &[], Body::empty()).await.status,
        StatusCode::OK
    );
    assert_eq!(std::fs::read_to_string(outside.join("secret.txt")).unwrap(), "secret");
    assert!(!outside.join("new.txt").exists());
}

#[tokio::test]
async fn runs_get_proxied_artifact_uris_and_locations_are_confined() {
    let app = TestApp::new().await;
    let id = app.create_experiment("confined").await;
    let (_, body) = app.get(&format!("experiments/get?experiment_id={id}")).await;
    assert_eq!(body["experiment"]["artifact_location"], format!("mlflow-artifacts:/{id}"));
    let run = app.create_run(&id, 1).await;
    let (_, body) = app.get(&format!("runs/get?run_id={run}")).await;
    assert_eq!(body["run"]["info"]["artifact_uri"], format!("mlflow-artifacts:/{id}/{run}/artifacts"));

    for location in
        ["/etc", "file:///tmp/x", "s3://other-bucket/x", "mlflow-artifacts://evil:5000/x", "mlflow-artifacts:/../x"]
    {
        let response = app
            .post("experiments/create", json!({"name": format!("bad {location}"), "artifact_location": location}))
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", "artifact roots");
    }
    let inside = format!("{}/team", app.artifacts);
    for location in ["mlflow-artifacts:/team-a", inside.as_str()] {
        let response = app
            .post("experiments/create", json!({"name": format!("ok {location}"), "artifact_location": location}))
            .await;
        assert_eq!(response.0, StatusCode::OK, "{location}: {}", response.1);
    }
}

#[tokio::test]
async fn switched_off_services_answer_503() {
    let no_artifacts = TestApp::with(Options { serve_artifacts: false, ..Options::default() }).await;
    let reply = get(&no_artifacts, "1/a.txt").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&reply.body).contains("--no-serve-artifacts"));
    let info = send(&no_artifacts, Method::GET, "/api/3.0/mlflow/server-info", &[], Body::empty()).await;
    assert_eq!(info.json()["multipart_uploads_enabled"], false);
    let id = no_artifacts.create_experiment("direct").await;
    let (_, body) = no_artifacts.get(&format!("experiments/get?experiment_id={id}")).await;
    assert_eq!(body["experiment"]["artifact_location"], format!("{}/{id}", no_artifacts.artifacts));

    let only = TestApp::with(Options { artifacts_only: true, ..Options::default() }).await;
    let reply = send(&only, Method::GET, "/api/2.0/mlflow/experiments/get?experiment_id=0", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(put(&only, "x/y.txt", "ok").await.status, StatusCode::OK);
    assert_eq!(get(&only, "x/y.txt").await.body, "ok");
}

#[tokio::test]
async fn abandoned_multipart_uploads_are_swept() {
    for (kind, app) in apps().await {
        let created = create_upload(&app, kind, "7/run/artifacts", "left.bin", 2).await;
        let upload_id = created["upload_id"].as_str().unwrap().to_owned();
        let url = created["credentials"][0]["url"].as_str().unwrap().to_owned();
        let part = pattern(5 * 1024 * 1024, 3);
        let reply = send(&app, Method::PUT, local_uri(&url), &[("content-length", "5242880")], part).await;
        assert_eq!(reply.status, StatusCode::OK, "{kind}: {}", reply.json());
        let etag = reply.headers[header::ETAG].to_str().unwrap().to_owned();

        // The client dies here. A sweep for uploads idle an hour leaves this one alone...
        let store = ArtifactStore::open(&app.artifacts).unwrap();
        assert_eq!(store.sweep_abandoned_uploads(Duration::from_secs(3600)).await.unwrap(), 0, "{kind}");
        if kind == "s3" {
            assert_eq!(pending_s3_uploads(&app.artifacts).await, 1, "the store holds the upload");
        }
        // ...one for any idle time removes it, parts and all.
        assert_eq!(store.sweep_abandoned_uploads(Duration::ZERO).await.unwrap(), 1, "{kind}");
        if kind == "local" {
            let staging = Path::new(&app.artifacts).join(".ferroflow-multipart");
            assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0, "staged parts left behind");
        } else {
            assert_eq!(pending_s3_uploads(&app.artifacts).await, 0, "the upload was not aborted at the store");
        }
        let complete = post_json(
            &app,
            &format!("{PREFIX}/mpu/complete/7/run/artifacts"),
            json!({"path": "left.bin", "upload_id": upload_id, "parts": [{"part_number": 1, "etag": etag}]}),
        )
        .await;
        assert_error(
            &(complete.status, complete.json()),
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "multipart upload",
        );
        assert_eq!(store.sweep_abandoned_uploads(Duration::ZERO).await.unwrap(), 0, "{kind}: nothing left");
    }
}

/// Sends a request without a signature (moto accepts them) to the S3 test server; returns the raw
/// answer.
async fn unsigned_s3_request(method: &str, target: &str) -> String {
    let endpoint = std::env::var("FERROFLOW_TEST_S3_ENDPOINT").unwrap();
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("S3 test server unreachable");
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// How many multipart uploads the S3 test server holds in the bucket of `destination`
/// (ListMultipartUploads).
async fn pending_s3_uploads(destination: &str) -> usize {
    let bucket = destination.trim_start_matches("s3://").split('/').next().unwrap();
    let answer = unsigned_s3_request("GET", &format!("/{bucket}?uploads")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "ListMultipartUploads: {answer}");
    answer.matches("<Upload>").count()
}

/// Puts `data` at `path` under `root`, the way a client with its own credentials writes a run's
/// artifacts when the server does not proxy them.
async fn write_directly(root: &str, path: &str, data: &'static str) {
    let store = ArtifactStore::open(root).unwrap();
    let body = Body::from(data).into_data_stream();
    store.put(&ferroflow_artifacts::ArtifactPath::parse(path).unwrap(), body).await.unwrap();
}

#[tokio::test]
async fn a_runs_artifacts_are_listed_and_downloaded_wherever_they_are_stored() {
    let mut cases = vec![
        ("proxied", TestApp::new().await),
        ("local, not proxied", TestApp::with(Options { serve_artifacts: false, ..Options::default() }).await),
    ];
    if let Some(destination) = s3_destination().await {
        cases.push((
            "s3, not proxied",
            TestApp::with(Options {
                serve_artifacts: false,
                artifacts_destination: Some(destination),
                ..Options::default()
            })
            .await,
        ));
    }
    for (kind, app) in cases {
        let experiment = app.create_experiment("artifacts everywhere").await;
        let run = app.create_run(&experiment, 1).await;
        let (_, got) = app.get(&format!("runs/get?run_id={run}")).await;
        let root = got["run"]["info"]["artifact_uri"].as_str().unwrap().to_owned();
        assert_eq!(root.starts_with("mlflow-artifacts:"), kind == "proxied", "{kind}: {root}");
        // Nothing logged yet: an empty listing, not an error.
        assert_eq!(app.get(&format!("artifacts/list?run_id={run}")).await, (StatusCode::OK, json!({"root_uri": root})));

        let files =
            [("model/MLmodel", "flavors: {}\n"), ("notes.txt", "hello"), ("report.html", "<script>alert(1)</script>")];
        for (path, data) in files {
            if kind == "proxied" {
                let in_proxy = root.trim_start_matches("mlflow-artifacts:/");
                assert_eq!(put(&app, &format!("{in_proxy}/{path}"), data).await.status, StatusCode::OK, "{kind}");
            } else {
                write_directly(&root, path, data).await;
            }
        }
        let (status, listed) = app.get(&format!("artifacts/list?run_id={run}")).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {listed}");
        assert_eq!(
            listed,
            json!({"root_uri": root, "files": [
                {"path": "model", "is_dir": true},
                {"path": "notes.txt", "is_dir": false, "file_size": 5},
                {"path": "report.html", "is_dir": false, "file_size": 25},
            ]}),
            "{kind}"
        );
        let (_, listed) = app.get(&format!("artifacts/list?run_uuid={run}&path=model")).await;
        assert_eq!(listed["files"], json!([{"path": "model/MLmodel", "is_dir": false, "file_size": 12}]), "{kind}");

        let reply =
            send(&app, Method::GET, &format!("/get-artifact?run_uuid={run}&path=model/MLmodel"), &[], Body::empty())
                .await;
        assert_eq!((reply.status, &reply.body[..]), (StatusCode::OK, &b"flavors: {}\n"[..]), "{kind}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain", "{kind}");
        // Active content is only ever an attachment, never rendered in the server's origin.
        let reply =
            send(&app, Method::GET, &format!("/get-artifact?run_uuid={run}&path=report.html"), &[], Body::empty())
                .await;
        assert_eq!(reply.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"report.html\"", "{kind}");
        let reply = send(
            &app,
            Method::GET,
            &format!("/get-artifact?run_uuid={run}&path=notes.txt"),
            &[("range", "bytes=1-2")],
            Body::empty(),
        )
        .await;
        assert_eq!((reply.status, &reply.body[..]), (StatusCode::PARTIAL_CONTENT, &b"el"[..]), "{kind}");

        // Out of the run's root, or of any run: refused.
        for path in ["../other", "model/../../x", "/etc/passwd"] {
            let (status, body) = app.get(&format!("artifacts/list?run_id={run}&path={path}")).await;
            assert_eq!(
                (status, body["error_code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER_VALUE")),
                "{kind} {path}: {body}"
            );
            let reply =
                send(&app, Method::GET, &format!("/get-artifact?run_uuid={run}&path={path}"), &[], Body::empty()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{kind} {path}: {}", reply.json());
        }
        let reply =
            send(&app, Method::GET, &format!("/get-artifact?run_uuid={run}&path=missing.txt"), &[], Body::empty())
                .await;
        assert_eq!(reply.json()["error_code"], "RESOURCE_DOES_NOT_EXIST", "{kind}");
        let reply = send(&app, Method::GET, &format!("/get-artifact?run_uuid={run}"), &[], Body::empty()).await;
        assert_eq!(reply.json()["error_code"], "INVALID_PARAMETER_VALUE", "{kind}");

        // A version registered from the run reads its model's files the same way.
        app.ok("registered-models/create", json!({"name": "from-run"})).await;
        let source = format!("runs:/{run}/model");
        app.ok("model-versions/create", json!({"name": "from-run", "source": source, "run_id": run})).await;
        let version_file = |query: &str| format!("/model-versions/get-artifact?name=from-run&version=1&{query}");
        let reply = send(&app, Method::GET, &version_file("path=MLmodel"), &[], Body::empty()).await;
        assert_eq!(
            (reply.status, &reply.body[..]),
            (StatusCode::OK, &b"flavors: {}\n"[..]),
            "{kind}: {}",
            reply.json()
        );
        let reply = send(&app, Method::GET, &version_file("path=../notes.txt"), &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{kind}: {}", reply.json());
        let reply = send(
            &app,
            Method::GET,
            "/model-versions/get-artifact?name=from-run&version=9&path=MLmodel",
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.json()["error_code"], "RESOURCE_DOES_NOT_EXIST", "{kind}");

        assert_error(
            &app.get("artifacts/list?run_id=0123456789abcdef0123456789abcdef").await,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            "0123456789abcdef0123456789abcdef",
        );
    }
}
