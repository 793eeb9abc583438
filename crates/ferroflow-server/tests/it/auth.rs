//! Access control and the audit log, through the router: the route-table walk, the permission
//! model, credentials, and tampering with the stored audit chain.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine as _;
use ferroflow_auth::{password, Permission};
use ferroflow_server::auth::{Access, AuthConfig, TrustedProxies};
use ferroflow_store::{AuditVerdict, BackendUri};
use serde_json::{json, Value};

use crate::{assert_error, Options, TestApp};

const ADMIN_PASSWORD: &str = "admin password 1";
const PASSWORD: &str = "a long password";

async fn app(default_permission: Permission) -> TestApp {
    app_behind(default_permission, TrustedProxies::default()).await
}

async fn app_behind(default_permission: Permission, trusted_proxies: TrustedProxies) -> TestApp {
    let app = TestApp::with(Options {
        auth: Some(AuthConfig { default_permission, audit_reads: false, trusted_proxies }),
        ..Options::default()
    })
    .await;
    let store = app.store.as_ref().unwrap();
    store.create_user("admin", &password::hash(ADMIN_PASSWORD), true).await.unwrap();
    app
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

/// A request with an `Authorization` header (`None`: anonymous). `path` is the full path.
async fn send(
    app: &TestApp,
    auth: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header(header::HOST, "localhost:5000");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    app.raw(request.body(body).unwrap()).await
}

/// A user of the test server, calling `/api/2.0/mlflow/...`.
struct As<'a> {
    app: &'a TestApp,
    auth: String,
}

impl As<'_> {
    async fn post(&self, endpoint: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, endpoint, body).await
    }

    async fn call(&self, method: Method, endpoint: &str, body: Value) -> (StatusCode, Value) {
        let path = if endpoint.starts_with('/') { endpoint.to_owned() } else { format!("/api/2.0/mlflow/{endpoint}") };
        send(self.app, Some(&self.auth), method, &path, Some(body)).await
    }

    async fn get(&self, endpoint: &str) -> (StatusCode, Value) {
        let path = if endpoint.starts_with('/') { endpoint.to_owned() } else { format!("/api/2.0/mlflow/{endpoint}") };
        send(self.app, Some(&self.auth), Method::GET, &path, None).await
    }

    async fn ok(&self, endpoint: &str, body: Value) -> Value {
        let (status, value) = self.post(endpoint, body).await;
        assert_eq!(status, StatusCode::OK, "{endpoint}: {value}");
        value
    }
}

fn login<'a>(app: &'a TestApp, user: &str, secret: &str) -> As<'a> {
    As { app, auth: basic(user, secret) }
}

async fn add_user<'a>(app: &'a TestApp, admin: &As<'_>, name: &str) -> As<'a> {
    admin.ok("users/create", json!({"username": name, "password": PASSWORD})).await;
    login(app, name, PASSWORD)
}

fn example_path(path: &str) -> String {
    path.replace("{model_id}", "m-0123").replace("{*path}", "1/abc/artifacts/x.txt").replace("{*key}", "k")
}

#[tokio::test]
async fn every_declared_route_refuses_anonymous_callers_on_both_prefixes() {
    let app = app(Permission::Read).await;
    let declared = ferroflow_server::declared_routes();
    assert!(declared.len() > 80, "the table declares every route ({} found)", declared.len());
    let paths: Vec<&str> = declared.iter().map(|d| d.path.as_str()).collect();
    let mut public = Vec::new();
    for route in &declared {
        // Every /api route has its /ajax-api twin with the same declarations, and the other way round.
        let twin = match (route.path.strip_prefix("/api/"), route.path.strip_prefix("/ajax-api/")) {
            (Some(rest), _) => Some(format!("/ajax-api/{rest}")),
            (_, Some(rest)) => Some(format!("/api/{rest}")),
            _ => None,
        };
        if let Some(twin) = twin {
            let other =
                declared.iter().find(|d| d.path == twin).unwrap_or_else(|| panic!("{} has no twin", route.path));
            let access = |d: &ferroflow_server::auth::Declared| {
                d.endpoints.iter().map(|e| (e.method.clone(), e.access)).collect::<Vec<_>>()
            };
            assert_eq!(access(route), access(other), "{} and its twin differ", route.path);
        }
        for endpoint in &route.endpoints {
            let path = example_path(&route.path);
            let response = send(&app, None, endpoint.method.clone(), &path, None).await;
            if endpoint.access == Access::Public {
                public.push(route.path.clone());
                assert_ne!(response.0, StatusCode::UNAUTHORIZED, "{} {path}", endpoint.method);
            } else {
                assert_eq!(response.0, StatusCode::UNAUTHORIZED, "{} {path} answered {:?}", endpoint.method, response);
            }
        }
    }
    public.sort();
    // The web UI's page and files are public (its sign-in page must load); its data comes from the API.
    assert_eq!(
        public,
        [
            "/",
            "/ajax-api/3.0/mlflow/server-info",
            "/api/3.0/mlflow/server-info",
            "/assets/{*path}",
            "/health",
            "/version"
        ]
    );
    assert!(paths.contains(&"/ajax-api/2.0/mlflow-artifacts/mpu/part/{*path}"));

    // What is not declared is not served, even to an admin.
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    assert_error(
        &admin.get("/api/2.0/mlflow/not-a-route").await,
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        "No endpoint",
    );
    assert_error(&admin.get("/graphql").await, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", "No endpoint");
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_the_basic_challenge() {
    let app = app(Permission::Read).await;
    let request = Request::builder()
        .uri("/api/2.0/mlflow/experiments/search?max_results=10")
        .header(header::HOST, "localhost:5000")
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Basic realm=\"mlflow\"");

    let search = "/api/2.0/mlflow/experiments/search?max_results=10";
    for bad in [
        "Basic !!!",
        "Basic",
        "Bearer ",
        "Digest x",
        &basic("admin", "wrong password!"),
        &basic("nobody", "whatever pass"),
    ] {
        let response = send(&app, Some(bad), Method::GET, search, None).await;
        assert_eq!(response.0, StatusCode::UNAUTHORIZED, "{bad}: {:?}", response.1);
        assert_eq!(response.1["error_code"], "UNAUTHENTICATED", "{bad}");
    }
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    assert_eq!(admin.get("experiments/search?max_results=10").await.0, StatusCode::OK);
}

#[tokio::test]
async fn server_info_tells_anyone_whether_access_control_is_on() {
    // The web UI's dev server reads it first, to know whether to ask who is signed in.
    let secured = app(Permission::Read).await;
    let plain = TestApp::new().await;
    for (app, on) in [(&secured, true), (&plain, false)] {
        let (status, info) = send(app, None, Method::GET, "/ajax-api/3.0/mlflow/server-info", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(info["ferroflow"]["access_control"], on, "{info}");
        // What a user without a grant may do, so that the UI's lists know which rows it may change.
        assert_eq!(info["ferroflow"]["default_permission"], if on { json!("READ") } else { Value::Null });
        assert_eq!(info["store_type"], "SqlStore", "MLflow's fields stay");
        // The page says so too, so that the UI's first calls need not wait for server-info.
        let request = Request::builder().uri("/").header(header::HOST, "localhost:5000").body(Body::empty()).unwrap();
        let page = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = axum::body::to_bytes(page.into_body(), usize::MAX).await.unwrap();
        let html = String::from_utf8_lossy(&html);
        let tag = format!(r#"<meta name="ferroflow-access-control" content="{}">"#, if on { "READ" } else { "off" });
        assert!(html.contains(&tag), "{html}");
    }
}

#[tokio::test]
async fn owners_manage_others_read_and_grants_widen_or_narrow_it() {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let alice = add_user(&app, &admin, "alice").await;
    let bob = add_user(&app, &admin, "bob").await;

    let experiment = alice.ok("experiments/create", json!({"name": "alice-exp"})).await["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = alice.ok("runs/create", json!({"experiment_id": experiment})).await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.ok("registered-models/create", json!({"name": "alice-model"})).await;

    // Bob reads (the default) but may not write.
    assert_eq!(bob.get(&format!("runs/get?run_id={run}")).await.0, StatusCode::OK);
    let refused = bob.post("runs/log-metric", json!({"run_id": run, "key": "m", "value": 1, "timestamp": 1})).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "PERMISSION_DENIED", "requires EDIT on experiment");
    assert_error(
        &bob.post("runs/create", json!({"experiment_id": experiment})).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "EDIT",
    );
    assert_error(
        &bob.call(Method::PATCH, "registered-models/update", json!({"name": "alice-model", "description": "x"})).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "registered model 'alice-model'",
    );
    // Bob cannot grant himself access: that needs MANAGE.
    assert_error(
        &bob.post(
            "experiments/permissions/create",
            json!({"experiment_id": experiment, "username": "bob", "permission": "EDIT"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "MANAGE",
    );

    // Alice, who owns it, grants EDIT.
    let granted = alice
        .ok(
            "experiments/permissions/create",
            json!({"experiment_id": experiment, "username": "bob", "permission": "EDIT"}),
        )
        .await;
    assert_eq!(granted["experiment_permission"]["permission"], "EDIT");
    bob.ok("runs/log-metric", json!({"run_id": run, "key": "m", "value": 1, "timestamp": 1})).await;
    // EDIT does not delete.
    assert_error(
        &bob.post("runs/delete", json!({"run_id": run})).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "MANAGE",
    );

    // A group's DENY beats Bob's own EDIT, and hides the experiment from his searches.
    admin.ok("/api/2.0/ferroflow/groups", json!({"name": "contractors"})).await;
    admin.ok("/api/2.0/ferroflow/groups/members/add", json!({"group": "contractors", "username": "bob"})).await;
    admin
        .ok(
            "/api/2.0/ferroflow/grants",
            json!({"resource_type": "experiment", "resource_id": experiment, "principal_kind": "group",
                   "principal": "contractors", "permission": "DENY"}),
        )
        .await;
    assert_error(&bob.get(&format!("runs/get?run_id={run}")).await, StatusCode::FORBIDDEN, "PERMISSION_DENIED", "DENY");
    let found = bob.get("experiments/search?max_results=100").await.1;
    let names: Vec<&str> =
        found["experiments"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"alice-exp"), "{names:?}");
    let runs = bob.ok("runs/search", json!({"experiment_ids": [experiment]})).await;
    assert!(runs.get("runs").is_none(), "{runs}");

    // Who holds what on it.
    let holders =
        alice.get(&format!("/api/2.0/ferroflow/grants?resource_type=experiment&resource_id={experiment}")).await.1;
    let holders: Vec<(String, String)> = holders["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["principal"].as_str().unwrap().to_owned(), g["permission"].as_str().unwrap().to_owned()))
        .collect();
    assert!(holders.contains(&("alice".to_owned(), "MANAGE".to_owned())), "{holders:?}");
    assert!(holders.contains(&("bob".to_owned(), "EDIT".to_owned())), "{holders:?}");
    assert!(holders.contains(&("contractors".to_owned(), "DENY".to_owned())), "{holders:?}");
}

#[tokio::test]
async fn with_no_permissions_by_default_searches_hold_only_what_the_caller_reads() {
    let app = app(Permission::NoPermissions).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let alice = add_user(&app, &admin, "alice").await;
    let bob = add_user(&app, &admin, "bob").await;
    for i in 0..5 {
        alice.ok("experiments/create", json!({"name": format!("a{i}")})).await;
        bob.ok("experiments/create", json!({"name": format!("b{i}")})).await;
        alice.ok("registered-models/create", json!({"name": format!("am{i}")})).await;
    }
    // Pages of two: each full, all Bob's, and the token leads on to the rest.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = bob.get(&format!("experiments/search?max_results=2&page_token={token}")).await.1;
        let experiments = page["experiments"].as_array().cloned().unwrap_or_default();
        seen.extend(experiments.iter().map(|e| e["name"].as_str().unwrap().to_owned()));
        match page["next_page_token"].as_str() {
            Some(next) => {
                assert_eq!(experiments.len(), 2, "a page before the last is full");
                token = next.to_owned();
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["b0", "b1", "b2", "b3", "b4"]);
    let models = bob.get("registered-models/search?max_results=10").await.1;
    assert!(models.get("registered_models").is_none(), "{models}");
    let a0 = alice.get("experiments/get-by-name?experiment_name=a0").await.1["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &bob.get(&format!("experiments/get?experiment_id={a0}")).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "requires READ",
    );
    assert_eq!(
        alice.get("registered-models/search?max_results=3").await.1["registered_models"].as_array().unwrap().len(),
        3
    );
}

/// The runs whose points a bulk metric-history request returns to `caller`, sorted.
async fn bulk_history_runs(caller: &As<'_>, ids: &[&String]) -> Vec<String> {
    let query: String = ids.iter().map(|id| format!("run_ids={id}&")).collect();
    let (status, body) = caller.get(&format!("metrics/get-history-bulk-interval?{query}metric_key=loss")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut runs: Vec<String> = body["metrics"]
        .as_array()
        .map(|points| points.iter().map(|p| p["run_id"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    runs.sort();
    runs
}

#[tokio::test]
async fn bulk_metric_histories_leave_out_runs_the_caller_cannot_read() {
    let app = app(Permission::NoPermissions).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let mut runs = Vec::new();
    for name in ["alice", "bob"] {
        let user = add_user(&app, &admin, name).await;
        let experiment = user.ok("experiments/create", json!({"name": name})).await["experiment_id"].clone();
        let run = user.ok("runs/create", json!({"experiment_id": experiment})).await["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        user.ok("runs/log-metric", json!({"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}))
            .await;
        runs.push((user, run));
    }
    let (alice, a) = &runs[0];
    let (bob, b) = &runs[1];
    assert_eq!(bulk_history_runs(bob, &[a, b]).await, [b.clone()]);
    assert_eq!(bulk_history_runs(alice, &[a, b]).await, [a.clone()]);
    assert!(bulk_history_runs(bob, &[a]).await.is_empty());
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(bulk_history_runs(&admin, &[a, b]).await, both);
}

#[tokio::test]
async fn tokens_work_as_bearer_and_as_password_until_revoked() {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let alice = add_user(&app, &admin, "alice").await;
    let created = alice.ok("/api/2.0/ferroflow/tokens", json!({"name": "ci"})).await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ffp_"), "{created}");
    let bearer = As { app: &app, auth: format!("Bearer {token}") };
    assert_eq!(bearer.get("users/current").await.1["user"]["username"], "alice");
    let as_password = login(&app, "alice", &token);
    assert_eq!(as_password.get("users/current").await.1["user"]["username"], "alice");
    // Someone else's name with Alice's token is refused.
    assert_eq!(login(&app, "admin", &token).get("users/current").await.0, StatusCode::UNAUTHORIZED);

    let listed = alice.get("/api/2.0/ferroflow/tokens").await.1;
    assert!(!listed.to_string().contains(&token), "the token text is shown once only: {listed}");
    let id = created["token_info"]["id"].as_str().unwrap();
    alice.ok("/api/2.0/ferroflow/tokens/revoke", json!({"id": id})).await;
    assert_eq!(bearer.get("users/current").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(as_password.get("users/current").await.0, StatusCode::UNAUTHORIZED);

    let expired = alice.ok("/api/2.0/ferroflow/tokens", json!({"name": "short", "expires_in_days": 0.000_001})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stale = As { app: &app, auth: format!("Bearer {}", expired["token"].as_str().unwrap()) };
    assert_eq!(stale.get("users/current").await.0, StatusCode::UNAUTHORIZED);
}

/// A raw request with extra headers, answered with its headers and JSON body.
async fn exchange(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, header::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(path).header(header::HOST, "localhost:5000");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = tower::ServiceExt::oneshot(app.router.clone(), request.body(body).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn web_sessions_live_in_cookies_and_refuse_changes_without_their_csrf_token() {
    let app = app(Permission::Read).await;
    let admin_auth = basic("admin", ADMIN_PASSWORD);
    let login_path = "/ajax-api/2.0/ferroflow/session/login";

    // The UI's calls carry X-Requested-With: a 401 then brings no browser Basic prompt.
    let search = "/ajax-api/2.0/mlflow/experiments/search?max_results=5";
    let (status, headers, _) = exchange(&app, Method::GET, search, &[("x-requested-with", "ferroflow")], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!headers.contains_key(header::WWW_AUTHENTICATE), "{headers:?}");

    let wrong = basic("admin", "not the password");
    let (status, _, _) = exchange(&app, Method::POST, login_path, &[("authorization", &wrong)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers, body) =
        exchange(&app, Method::POST, login_path, &[("authorization", &admin_auth)], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["username"], "admin");
    let cookies: Vec<&str> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    let session_cookie = cookies.iter().find(|c| c.starts_with("ferroflow_session=")).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session_cookie.contains(flag), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Secure"), "plain HTTP gets no Secure cookie: {session_cookie}");
    let pair = |cookie: &str| cookie.split(';').next().unwrap().to_owned();
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("ferroflow_csrf=")).expect("a CSRF cookie");
    assert!(!csrf_cookie.contains("HttpOnly"), "the UI reads it: {csrf_cookie}");
    let cookie = format!("{}; {}", pair(session_cookie), pair(csrf_cookie));
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(pair(csrf_cookie), format!("ferroflow_csrf={csrf}"));

    // Reads need only the cookie.
    let (status, _, me) =
        exchange(&app, Method::GET, "/ajax-api/2.0/mlflow/users/current", &[("cookie", &cookie)], None).await;
    assert_eq!((status, me["user"]["username"].as_str()), (StatusCode::OK, Some("admin")), "{me}");

    // A change without the CSRF token, or with another one, is refused and not made.
    let create = "/ajax-api/2.0/mlflow/experiments/create";
    for headers in [vec![("cookie", cookie.as_str())], vec![("cookie", cookie.as_str()), ("x-csrf-token", "0000")]] {
        let (status, _, refused) =
            exchange(&app, Method::POST, create, &headers, Some(json!({"name": "forged"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert_eq!(refused["error_code"], "PERMISSION_DENIED");
        assert!(refused["message"].as_str().unwrap().contains("CSRF"), "{refused}");
    }
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    assert_error(
        &admin.get("experiments/get-by-name?experiment_name=forged").await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "forged",
    );
    let with_csrf = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let (status, _, made) =
        exchange(&app, Method::POST, create, &with_csrf, Some(json!({"name": "from the UI"}))).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let events = admin.get("/api/2.0/ferroflow/audit/search?action=CreateExperiment").await.1;
    assert_eq!(events["events"][0]["auth_method"], "session", "{events}");
    assert_eq!(events["events"][0]["actor"], "admin");

    // A session cannot renew itself.
    let (status, _, _) = exchange(&app, Method::POST, login_path, &with_csrf, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Behind TLS the cookies are Secure.
    let tls = [("authorization", admin_auth.as_str()), ("origin", "https://mlflow.example.com")];
    let (_, headers, _) = exchange(&app, Method::POST, login_path, &tls, None).await;
    assert!(headers.get_all(header::SET_COOKIE).iter().all(|c| c.to_str().unwrap().contains("; Secure")));

    // Signing out needs the CSRF token too, revokes the session and clears the cookies.
    let logout = "/ajax-api/2.0/ferroflow/session/logout";
    let (status, _, _) = exchange(&app, Method::POST, logout, &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = exchange(&app, Method::POST, logout, &with_csrf, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get_all(header::SET_COOKIE).iter().all(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let (status, _, ended) =
        exchange(&app, Method::GET, "/ajax-api/2.0/mlflow/users/current", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(ended["message"].as_str().unwrap().contains("session has ended"), "{ended}");
}

#[tokio::test]
async fn a_changed_password_stops_working_at_once() {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let alice = add_user(&app, &admin, "alice").await;
    assert_eq!(alice.get("users/current").await.0, StatusCode::OK);
    admin
        .call(Method::PATCH, "users/update-password", json!({"username": "alice", "password": "another long one"}))
        .await;
    assert_eq!(alice.get("users/current").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "alice", "another long one").get("users/current").await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_answers() {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    assert_error(
        &admin.post("users/create", json!({"username": "carol", "password": "short"})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "at least 12",
    );
    assert_error(
        &admin.post("users/create", json!({"username": "carol", "password": ""})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "password",
    );
    assert_error(
        &admin.post("users/create", json!({"username": "carol", "password": "password1234"})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "default",
    );
    add_user(&app, &admin, "carol").await;
    assert_error(
        &admin.post("users/create", json!({"username": "carol", "password": PASSWORD})).await,
        StatusCode::BAD_REQUEST,
        "RESOURCE_ALREADY_EXISTS",
        "carol",
    );
    assert_error(
        &admin
            .post(
                "experiments/permissions/create",
                json!({"experiment_id": "0", "username": "carol", "permission": "WRITE"}),
            )
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "Invalid permission 'WRITE'",
    );
    assert_error(
        &admin
            .post(
                "experiments/permissions/create",
                json!({"experiment_id": "999", "username": "carol", "permission": "READ"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "999",
    );
    assert_error(
        &admin
            .post(
                "experiments/permissions/create",
                json!({"experiment_id": "0", "username": "nobody", "permission": "READ"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        "nobody",
    );
    assert_error(
        &admin.call(Method::PATCH, "users/update-admin", json!({"username": "admin", "is_admin": false})).await,
        StatusCode::BAD_REQUEST,
        "INVALID_STATE",
        "last admin",
    );
    let carol = login(&app, "carol", PASSWORD);
    assert_error(
        &carol.post("users/create", json!({"username": "x", "password": PASSWORD})).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "admin",
    );
    assert_error(
        &carol.get("/api/2.0/ferroflow/audit/search").await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        "auditor",
    );
    assert_eq!(carol.get("users/current").await.1["is_auditor"], false);
    admin.ok("/api/2.0/ferroflow/groups", json!({"name": "auditor"})).await;
    admin.ok("/api/2.0/ferroflow/groups/members/add", json!({"group": "auditor", "username": "carol"})).await;
    let current = carol.get("users/current").await.1;
    assert_eq!((&current["is_auditor"], &current["groups"]), (&json!(true), &json!(["auditor"])));
    assert_eq!(carol.get("/api/2.0/ferroflow/audit/search").await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_change_and_refusal_is_audited_in_a_verifiable_chain() {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let alice = add_user(&app, &admin, "alice").await;
    let experiment =
        alice.ok("experiments/create", json!({"name": "audited"})).await["experiment_id"].as_str().unwrap().to_owned();
    let run = alice.ok("runs/create", json!({"experiment_id": experiment})).await["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .ok("runs/log-batch", json!({"run_id": run, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}, {"key": "m", "value": 2, "timestamp": 2, "step": 1}], "params": [{"key": "p", "value": "v"}]}))
        .await;
    let bob = add_user(&app, &admin, "bob").await;
    assert_eq!(bob.post("experiments/delete", json!({"experiment_id": experiment})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(login(&app, "alice", "not her password").get("users/current").await.0, StatusCode::UNAUTHORIZED);
    alice.ok("registered-models/create", json!({"name": "m"})).await;
    alice
        .ok("model-versions/create", json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": run}))
        .await;
    alice
        .ok(
            "model-versions/transition-stage",
            json!({"name": "m", "version": "1", "stage": "Production", "archive_existing_versions": false}),
        )
        .await;
    alice
        .ok("model-versions/create", json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": run}))
        .await;
    alice
        .ok(
            "model-versions/transition-stage",
            json!({"name": "m", "version": "2", "stage": "Production", "archive_existing_versions": true}),
        )
        .await;
    for version in ["1", "2"] {
        alice.ok("registered-models/alias", json!({"name": "m", "alias": "champion", "version": version})).await;
    }
    let (status, _) =
        alice.call(Method::DELETE, "registered-models/alias", json!({"name": "m", "alias": "champion"})).await;
    assert_eq!(status, StatusCode::OK);

    let events =
        admin.get("/api/2.0/ferroflow/audit/search?max_results=1000").await.1["events"].as_array().unwrap().clone();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in [
        "CreateUser",
        "CreateExperiment",
        "CreateRun",
        "LogBatch",
        "DeleteExperiment",
        "Login",
        "CreateModelVersion",
        "TransitionModelVersionStage",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let batch = events.iter().find(|e| e["action"] == "LogBatch").unwrap();
    assert_eq!(batch["actor"], "alice");
    assert_eq!(batch["auth_method"], "basic");
    let details: Value = serde_json::from_str(batch["details"].as_str().unwrap()).unwrap();
    assert_eq!(details, json!({"metrics": 2, "params": 1, "tags": 0}));
    // Updates record the values they replaced.
    let details_of = |action: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| serde_json::from_str(e["details"].as_str().unwrap()).unwrap())
            .collect()
    };
    assert_eq!(
        details_of("TransitionModelVersionStage"),
        [
            json!({"before": {"stage": "None"}, "after": {"stage": "Production"}}),
            json!({"before": {"stage": "None"}, "after": {"stage": "Production"}, "archived_versions": [1]}),
        ]
    );
    let moves: Vec<Value> =
        details_of("SetRegisteredModelAlias").into_iter().chain(details_of("DeleteRegisteredModelAlias")).collect();
    assert_eq!(
        moves,
        [
            json!({"alias": "champion", "before": {"version": null}, "after": {"version": 1}}),
            json!({"alias": "champion", "before": {"version": 1}, "after": {"version": 2}}),
            json!({"alias": "champion", "before": {"version": 2}, "after": {"version": null}}),
        ]
    );
    let denied = events.iter().find(|e| e["action"] == "DeleteExperiment").unwrap();
    assert_eq!((denied["actor"].as_str(), denied["status"].as_i64()), (Some("bob"), Some(403)));
    let login_failure = events.iter().find(|e| e["action"] == "Login").unwrap();
    assert_eq!((login_failure["actor"].as_str(), login_failure["status"].as_i64()), (Some("alice"), Some(401)));
    let text = serde_json::to_string(&events).unwrap();
    for secret in [PASSWORD, ADMIN_PASSWORD, "not her password"] {
        assert!(!text.contains(secret), "a password reached the audit log");
    }
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=i64::try_from(seqs.len()).unwrap()).collect::<Vec<_>>(), "gapless");
    // Filters and pages.
    let failures = admin.get("/api/2.0/ferroflow/audit/search?outcome=failure&actor=bob").await.1;
    assert_eq!(failures["events"].as_array().unwrap().len(), 1, "{failures}");
    let page = admin.get("/api/2.0/ferroflow/audit/search?max_results=2").await.1;
    assert_eq!(page["next_page_token"], "2");
    // Newest first, paged down to the first event.
    let total = i64::try_from(seqs.len()).unwrap();
    let mut newest_first = Vec::new();
    let mut token = String::new();
    loop {
        let page =
            admin.get(&format!("/api/2.0/ferroflow/audit/search?order=desc&max_results=3&page_token={token}")).await.1;
        newest_first.extend(page["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_page_token"].as_str() {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    // Searches are reads, which this server does not audit, so the log still ends at `total`.
    assert_eq!(newest_first, (1..=total).rev().collect::<Vec<_>>());
    assert_error(
        &admin.get("/api/2.0/ferroflow/audit/search?order=sideways").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        "order",
    );

    let store = app.store.as_ref().unwrap();
    assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: total, unsealed: 0 });
}

#[tokio::test]
async fn behind_a_trusted_balancer_events_name_the_forwarded_client() {
    let balancer = TrustedProxies::new(vec![TrustedProxies::parse_one("10.0.0.0/8").unwrap()]);
    let app = app_behind(Permission::Read, balancer).await;
    let attempt = |peer: &str, forwarded: &str| {
        let mut request = Request::builder()
            .uri("/api/2.0/mlflow/users/current")
            .header(header::HOST, "localhost:5000")
            .header(header::AUTHORIZATION, basic("admin", "a wrong password"))
            .header("x-forwarded-for", forwarded)
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        app.raw(request)
    };
    assert_eq!(attempt("10.1.2.3:40000", "1.2.3.4, 198.51.100.7").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("203.0.113.5:40000", "198.51.100.8").await.0, StatusCode::UNAUTHORIZED);

    let events = login(&app, "admin", ADMIN_PASSWORD).get("/api/2.0/ferroflow/audit/search?action=Login").await.1;
    let sources: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["source"].as_str().unwrap()).collect();
    // The balancer's forwarded client, not its own address nor the forged first entry; a caller
    // outside the balancer cannot name another address.
    assert_eq!(sources, ["198.51.100.7", "203.0.113.5"]);
}

/// Runs SQL on the test database directly, as someone with write access to it would.
async fn tamper(app: &TestApp, statement: &str) {
    use sqlx::Connection as _;
    let url = match app.database.as_ref().unwrap() {
        BackendUri::Sqlite { path } => format!("sqlite://{}", path.display()),
        BackendUri::Postgres { url } | BackendUri::MySql { url } => url.clone(),
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(statement).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn audited_app() -> TestApp {
    let app = app(Permission::Read).await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    for i in 0..5 {
        admin.ok("experiments/create", json!({"name": format!("e{i}")})).await;
    }
    let store = app.store.as_ref().unwrap();
    if chains_at_once(&app) {
        assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: 5, unsealed: 0 });
        assert_eq!(store.seal_audit_events().await.unwrap(), 0);
    } else {
        // Stored with their changes, unsealed; the server's sealer (or a search) seals them.
        assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: 0, unsealed: 5 });
        assert_eq!(store.seal_audit_events().await.unwrap(), 5);
        assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: 5, unsealed: 0 });
    }
    app
}

/// SQLite chains each event in the transaction that stores it; the server engines leave that to
/// the sealer.
fn chains_at_once(app: &TestApp) -> bool {
    matches!(app.database, Some(BackendUri::Sqlite { .. }))
}

#[tokio::test]
async fn verify_names_an_event_altered_before_its_seal() {
    let app = audited_app().await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    admin.ok("experiments/create", json!({"name": "e5"})).await;
    let store = app.store.as_ref().unwrap();
    if chains_at_once(&app) {
        // No window: the event is in the chain as soon as its change is committed.
        assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: 6, unsealed: 0 });
        return;
    }
    tamper(&app, "UPDATE audit_events SET actor = 'mallory' WHERE seq IS NULL").await;
    let verdict = store.verify_audit_log().await.unwrap();
    assert!(
        matches!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::AlteredUnsealed { .. })),
        "{verdict:?}"
    );
    // Sealing does not launder it.
    assert_eq!(store.seal_audit_events().await.unwrap(), 1);
    let verdict = store.verify_audit_log().await.unwrap();
    assert_eq!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::Altered { seq: 6 }));
}

#[tokio::test]
async fn verify_names_an_edited_row() {
    let app = audited_app().await;
    tamper(&app, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3").await;
    let verdict = app.store.as_ref().unwrap().verify_audit_log().await.unwrap();
    assert_eq!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::Altered { seq: 3 }));
}

#[tokio::test]
async fn verify_names_a_deleted_row() {
    let app = audited_app().await;
    tamper(&app, "DELETE FROM audit_events WHERE seq = 2").await;
    let verdict = app.store.as_ref().unwrap().verify_audit_log().await.unwrap();
    assert_eq!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::Missing { expected: 2, found: 3 }));
    // Cutting off the end is caught by the head.
    let app = audited_app().await;
    tamper(&app, "DELETE FROM audit_events WHERE seq = 5").await;
    let verdict = app.store.as_ref().unwrap().verify_audit_log().await.unwrap();
    assert_eq!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::Truncated { last: 4, head: 5 }));
}

#[tokio::test]
async fn verify_names_an_inserted_row() {
    let app = audited_app().await;
    if chains_at_once(&app) {
        // SQLite's insert trigger refuses an event that does not extend the head; someone who can
        // write the file can drop it as well.
        tamper(&app, "DROP TRIGGER audit_events_extend_head").await;
    }
    // Make room at 3 by moving 3..5 up one, then put a forged event there that links to event 2.
    for seq in [5, 4, 3] {
        tamper(&app, &format!("UPDATE audit_events SET seq = {} WHERE seq = {seq}", seq + 1)).await;
    }
    tamper(
        &app,
        "INSERT INTO audit_events (seq, time_ms, actor, action, method, path, status, digest, prev_hash, hash) \
         SELECT 3, time_ms, 'mallory', 'DeleteExperiment', 'POST', path, 200, digest, hash, hash FROM audit_events WHERE seq = 2",
    )
    .await;
    let verdict = app.store.as_ref().unwrap().verify_audit_log().await.unwrap();
    assert_eq!(verdict, AuditVerdict::Broken(ferroflow_auth::audit::ChainBreak::Altered { seq: 3 }));
}

/// Two processes on one database (a second server, or a CLI command next to a running one) extend
/// one chain between them, whichever of them wrote last.
#[tokio::test]
async fn a_second_store_on_the_database_extends_the_same_chain() {
    let app = audited_app().await;
    let admin = login(&app, "admin", ADMIN_PASSWORD);
    let other = ferroflow_store::SqlStore::open(&ferroflow_store::StoreConfig {
        backend: app.database.clone().unwrap(),
        default_artifact_root: "mlflow-artifacts:/".to_owned(),
        max_read_connections: 1,
        pool: ferroflow_store::PoolSettings { max_connections: 1, ..ferroflow_store::PoolSettings::default() },
        migrate: false,
    })
    .await
    .unwrap();
    for i in 0..3 {
        other.create_user(&format!("user{i}"), &password::hash(PASSWORD), false).await.unwrap();
        other
            .record_event(&ferroflow_auth::audit::AuditEvent {
                time_ms: 1,
                actor: Some("admin".to_owned()),
                auth_method: None,
                token_id: None,
                source: None,
                user_agent: None,
                action: "CreateUser".to_owned(),
                method: "CLI".to_owned(),
                path: "ferroflow users create".to_owned(),
                resource_type: Some("user".to_owned()),
                resource_id: Some(format!("user{i}")),
                status: 200,
                error_code: None,
                details: None,
            })
            .await
            .unwrap();
        // The server's next event follows the other store's, not the head it wrote itself.
        admin.ok("experiments/create", json!({"name": format!("after {i}")})).await;
    }
    let store = app.store.as_ref().unwrap();
    store.seal_audit_events().await.unwrap();
    assert_eq!(store.verify_audit_log().await.unwrap(), AuditVerdict::Intact { last: 11, unsealed: 0 });
    let events = admin.get("/api/2.0/ferroflow/audit/search?page_token=5").await.1;
    let actions: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["CreateUser", "CreateExperiment"].repeat(3), "{events}");
}
