//! The middleware every request passes with auth on: find the route's declaration (undeclared routes
//! fail closed), authenticate, check the declared permission, and record the audit event.
//!
//! Verified credentials are cached per auth epoch (see `ferroflow_store::auth`): each request waits
//! for a read of the epoch that started after it arrived (shared with the requests arriving with it,
//! see [`super::epoch`]), and any change on any replica (a new password, a revoked token, a grant)
//! empties the caches, so it takes effect with the next request. Password caching keys are salted SHA-256
//! digests of `username\0password` under a random per-process salt, so the cache never holds a
//! password and its keys are useless outside the process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use ferroflow_auth::audit::AuditEvent;
use ferroflow_auth::throttle::Throttle;
use ferroflow_auth::{password, session, token, GrantSet, Permission};
use ferroflow_store::{PrincipalKind, RequestContext, ResourceType, SqlStore, User};
use rand::RngCore as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::access::{Access, Declared, Endpoint, Target};
use super::caller::{AuthMethod, Caller, Holdings};
use super::epoch::EpochReads;
use super::proxies::TrustedProxies;
use crate::error::{ApiError, ErrorCode};
use crate::now_ms;

/// Settings of access control.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// What a user gets where no grant applies.
    pub default_permission: Permission,
    /// Record reads in the audit log too.
    pub audit_reads: bool,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// The state of the middleware.
pub struct Gate {
    store: SqlStore,
    config: AuthConfig,
    routes: matchit::Router<Vec<Endpoint>>,
    cache: Mutex<Cache>,
    epochs: EpochReads,
    /// Run → experiment, which never changes, so it outlives auth epochs.
    run_experiments: Mutex<HashMap<String, i64>>,
    throttle: Throttle,
    salt: [u8; 32],
    max_body_bytes: usize,
}

#[derive(Default)]
struct Cache {
    epoch: i64,
    /// Salted digest of `username\0password` → the user it verified.
    passwords: HashMap<[u8; 32], User>,
    /// Token id → the token's owner, digest and expiry.
    tokens: HashMap<String, CachedToken>,
    /// User id → what they hold.
    holdings: HashMap<i64, Arc<Holdings>>,
}

#[derive(Clone)]
struct CachedToken {
    user: User,
    digest: String,
    expires_ms: Option<i64>,
}

/// Entries kept at most in each cache; past it the cache starts over.
const CACHE_LIMIT: usize = 100_000;

/// The 401 body of an expired or revoked web session.
const SESSION_ENDED: &str =
    "Your web session has ended (it expired, you signed out, or it was revoked): sign in again.";

/// The 401 body, MLflow's words.
const UNAUTHENTICATED: &str = "You are not authenticated. Please see \
    https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.";

impl Gate {
    /// A gate over the declared routes.
    ///
    /// # Panics
    /// When two declarations share a path (a bug in the route table).
    pub fn new(store: SqlStore, config: AuthConfig, declared: &[Declared], max_body_bytes: usize) -> Self {
        let mut routes = matchit::Router::new();
        for route in declared {
            routes.insert(route.path.clone(), route.endpoints.clone()).expect("route paths are unique");
        }
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        Self {
            store,
            config,
            routes,
            cache: Mutex::default(),
            epochs: EpochReads::default(),
            run_experiments: Mutex::default(),
            throttle: Throttle::default(),
            salt,
            max_body_bytes,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the request looked like, for its audit event.
struct Origin {
    source: Option<String>,
    user_agent: Option<String>,
    method: Method,
    path: String,
    /// Sent by a page's script (`X-Requested-With`): a 401 then asks for no Basic prompt, since
    /// the web UI has its own sign-in page.
    from_script: bool,
}

impl Origin {
    fn event(&self, action: &str) -> AuditEvent {
        AuditEvent {
            time_ms: now_ms(),
            source: self.source.clone(),
            user_agent: self.user_agent.clone(),
            action: action.to_owned(),
            method: self.method.to_string(),
            path: self.path.clone(),
            ..AuditEvent::default()
        }
    }
}

/// The middleware.
pub async fn check(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let origin = Origin {
        source: gate
            .config
            .trusted_proxies
            .client(request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()), request.headers())
            .map(|address| address.to_string()),
        user_agent: request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
        from_script: request.headers().contains_key("x-requested-with"),
    };
    let (endpoint, params) = match gate.routes.at(request.uri().path()) {
        Ok(found) => {
            let params: Vec<(String, String)> =
                found.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            match found.value.iter().find(|e| e.method == request.method()) {
                Some(endpoint) => (endpoint.clone(), params),
                // HEAD is answered like GET.
                None if request.method() == Method::HEAD => {
                    match found.value.iter().find(|e| e.method == Method::GET) {
                        Some(endpoint) => (endpoint.clone(), params),
                        None => return method_not_allowed(&origin),
                    }
                }
                None => return method_not_allowed(&origin),
            }
        }
        // Fail closed: a route nobody declared is not served, whatever the router behind holds.
        Err(_) => {
            return ApiError::new(ErrorCode::EndpointNotFound, format!("No endpoint {} {}", origin.method, origin.path))
                .into_response()
        }
    };
    if endpoint.access == Access::Public {
        return next.run(request).await;
    }
    let caller = match gate.authenticate(request.headers(), &origin).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let mut event = origin.event(endpoint.action);
    event.actor = Some(caller.user.username.clone());
    event.auth_method = Some(caller.method.name().to_owned());
    if let AuthMethod::Token(id) | AuthMethod::Session(id) = &caller.method {
        event.token_id = Some(id.clone());
    }
    if matches!(caller.method, AuthMethod::Session(_)) && !csrf_checked(request.method(), request.headers()) {
        let refusal = ApiError::new(
            ErrorCode::PermissionDenied,
            "This change was sent with a web session's cookie but without its CSRF token (header X-CSRF-Token): \
             it may have been forged by another site. Reload the page and try again.",
        );
        return gate.denied(event, refusal.into_response()).await;
    }
    let (request, decision) = match gate.authorize(&caller, &endpoint, &params, request).await {
        Ok(pair) => pair,
        Err(error) => {
            let error_response = error.into_response();
            return gate.denied(event, error_response).await;
        }
    };
    if let Some((resource_type, id)) = &decision.resource {
        event.resource_type = Some((*resource_type).to_owned());
        event.resource_id = Some(id.clone());
    }
    let context = RequestContext::new(Some(caller.user.id), event);
    if let Some(detail) = decision.detail {
        context.note("source", detail);
    }
    let mut request = request;
    request.extensions_mut().insert(caller);
    let response = RequestContext::scope(context.clone(), next.run(request)).await;
    if !(endpoint.writes || gate.config.audit_reads) || context.is_written() {
        return response;
    }
    gate.record_outcome(&context, response).await
}

fn method_not_allowed(origin: &Origin) -> Response {
    ApiError {
        code: ErrorCode::EndpointNotFound,
        message: format!("Method {} is not allowed on {}", origin.method, origin.path),
        status: Some(StatusCode::METHOD_NOT_ALLOWED),
    }
    .into_response()
}

/// What authorization found out about the request.
#[derive(Default)]
struct Decision {
    /// The resource acted on, for the audit event.
    resource: Option<(&'static str, String)>,
    /// The source of a model version.
    detail: Option<String>,
}

impl Gate {
    /// Authenticates the request, or answers 401.
    /// An Authorization header wins over a session cookie.
    async fn authenticate(&self, headers: &HeaderMap, origin: &Origin) -> Result<Caller, Response> {
        let credentials = match (headers.get(header::AUTHORIZATION), session_cookie(headers)) {
            (Some(value), _) => match parse_authorization(value) {
                Ok(credentials) => credentials,
                Err(message) => return Err(self.refuse(origin, None, message, message).await),
            },
            (None, Some(token)) => Credentials::Session(token.to_owned()),
            (None, None) => return Err(self.refuse(origin, None, "no credentials", UNAUTHENTICATED).await),
        };
        let epoch = match self.epochs.read(&self.store).await {
            Ok(epoch) => epoch,
            Err(err) => return Err(ApiError::from(err).into_response()),
        };
        {
            let mut cache = self.cache();
            if cache.epoch != epoch {
                *cache = Cache { epoch, ..Cache::default() };
            }
        }
        let (user, method) = match credentials {
            Credentials::Bearer(text) => match self.verify_token(&text, None).await {
                Ok((user, id)) => (user, AuthMethod::Token(id)),
                Err(reason) => return Err(self.refuse(origin, None, reason, UNAUTHENTICATED).await),
            },
            Credentials::Session(text) => match self.verify_token(&text, None).await {
                Ok((user, id)) => (user, AuthMethod::Session(id)),
                Err(reason) => {
                    let reason = format!("web session: {reason}");
                    return Err(self.refuse(origin, None, &reason, SESSION_ENDED).await);
                }
            },
            Credentials::Basic { username, secret } if token::parse_id(&secret).is_some() => {
                match self.verify_token(&secret, Some(&username)).await {
                    Ok((user, id)) => (user, AuthMethod::Token(id)),
                    Err(reason) => return Err(self.refuse(origin, Some(&username), reason, UNAUTHENTICATED).await),
                }
            }
            Credentials::Basic { username, secret } => match self.verify_password(&username, &secret, origin).await {
                Ok(user) => (user, AuthMethod::Password),
                Err(refusal) => return Err(refusal),
            },
        };
        let holdings = match self.holdings(&user).await {
            Ok(holdings) => holdings,
            Err(err) => return Err(ApiError::from(err).into_response()),
        };
        Ok(Caller { user, method, holdings, default: self.config.default_permission })
    }

    async fn verify_password(&self, username: &str, secret: &str, origin: &Origin) -> Result<User, Response> {
        let key: [u8; 32] = {
            let mut hasher = Sha256::new();
            hasher.update(self.salt);
            hasher.update(username.as_bytes());
            hasher.update([0]);
            hasher.update(secret.as_bytes());
            hasher.finalize().into()
        };
        if let Some(user) = self.cache().passwords.get(&key) {
            return Ok(user.clone());
        }
        let address = origin.source.as_deref().unwrap_or("unknown");
        let delay = self.throttle.delay(address, username);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let found = self.store.user_credentials(username).await.map_err(|e| ApiError::from(e).into_response())?;
        let secret_owned = secret.to_owned();
        let verified = tokio::task::spawn_blocking(move || match found {
            Some(credentials) => {
                password::verify(&secret_owned, &credentials.password_hash).then_some(credentials.user)
            }
            None => {
                password::verify_nothing(&secret_owned);
                None
            }
        })
        .await
        .unwrap_or(None);
        let Some(user) = verified else {
            self.throttle.failed(address, username);
            let reason = if delay.is_zero() {
                "wrong username or password".to_owned()
            } else {
                format!("wrong username or password (attempt slowed by {} ms)", delay.as_millis())
            };
            return Err(self.refuse(origin, Some(username), &reason, UNAUTHENTICATED).await);
        };
        self.throttle.succeeded(username);
        let mut cache = self.cache();
        if cache.passwords.len() >= CACHE_LIMIT {
            cache.passwords.clear();
        }
        cache.passwords.insert(key, user.clone());
        Ok(user)
    }

    /// Checks an API token and answers its owner and id; with `username` (a token sent as the Basic
    /// password) it must be theirs.
    async fn verify_token(&self, text: &str, username: Option<&str>) -> Result<(User, String), &'static str> {
        let id = token::parse_id(text).ok_or("malformed token")?.to_owned();
        let cached = self.cache().tokens.get(&id).cloned();
        let found = match cached {
            Some(found) => found,
            None => {
                let record = self.store.token(&id).await.map_err(|_| "token lookup failed")?.ok_or("unknown token")?;
                if record.revoked_ms.is_some() {
                    return Err("revoked token");
                }
                let entry = CachedToken { user: record.user, digest: record.digest, expires_ms: record.expires_ms };
                let mut cache = self.cache();
                if cache.tokens.len() >= CACHE_LIMIT {
                    cache.tokens.clear();
                }
                cache.tokens.insert(id.clone(), entry.clone());
                entry
            }
        };
        if !token::matches(text, &found.digest) {
            return Err("wrong token secret");
        }
        if found.expires_ms.is_some_and(|at| at <= now_ms()) {
            return Err("expired token");
        }
        if username.is_some_and(|name| name != found.user.username) {
            return Err("token of another user");
        }
        Ok((found.user, id))
    }

    async fn holdings(&self, user: &User) -> ferroflow_store::Result<Arc<Holdings>> {
        if let Some(holdings) = self.cache().holdings.get(&user.id) {
            return Ok(holdings.clone());
        }
        let groups = self.store.groups_of(user.id).await?;
        let mut grants: HashMap<ResourceType, GrantSet> = HashMap::new();
        for grant in self.store.principal_grants(PrincipalKind::User, &user.username, Some(user.id)).await? {
            grants.entry(grant.resource_type).or_default().add(grant.resource_id, grant.permission);
        }
        let holdings = Arc::new(Holdings { groups, grants });
        let mut cache = self.cache();
        if cache.holdings.len() >= CACHE_LIMIT {
            cache.holdings.clear();
        }
        cache.holdings.insert(user.id, holdings.clone());
        Ok(holdings)
    }

    /// Answers 401 and records the refusal.
    async fn refuse(&self, origin: &Origin, username: Option<&str>, reason: &str, message: &str) -> Response {
        let mut event = origin.event("Login");
        event.actor = username.map(str::to_owned);
        event.status = 401;
        event.error_code = Some(ErrorCode::Unauthenticated.as_str().to_owned());
        event.details = Some(serde_json::json!({ "reason": reason }).to_string());
        if let Err(err) = self.store.record_event(&event).await {
            tracing::error!(error = ?err, "could not record a refused login in the audit log");
        }
        let mut response =
            (StatusCode::UNAUTHORIZED, ApiError::new(ErrorCode::Unauthenticated, message).into_response())
                .into_response();
        if !origin.from_script {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"mlflow\""));
        }
        response
    }

    /// Records a refused (403) or failed-before-the-handler request, and answers it.
    async fn denied(&self, mut event: AuditEvent, response: Response) -> Response {
        let (status, code, message) = error_parts(response).await;
        event.status = i32::from(status.as_u16());
        event.error_code = code;
        if status == StatusCode::FORBIDDEN {
            event.details = Some(serde_json::json!({ "reason": message }).to_string());
        }
        if let Err(err) = self.store.record_event(&event).await {
            tracing::error!(error = ?err, "could not record a denied request in the audit log");
        }
        rebuild_error(status, &event.error_code, &message)
    }

    /// Stores the event of a request whose handler did not (a failure, or a change outside the
    /// database such as an artifact upload). A successful change whose event cannot be stored is
    /// answered as a failure.
    async fn record_outcome(&self, context: &RequestContext, response: Response) -> Response {
        let status = response.status();
        if status.as_u16() < 400 {
            if let Err(err) = self.store.record_event(&context.event(i32::from(status.as_u16()), None)).await {
                tracing::error!(error = ?err, "could not record a change in the audit log");
                return ApiError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "The request was carried out but its audit event could not be stored; the server's log has details.",
                )
                .into_response();
            }
            return response;
        }
        let (status, code, message) = error_parts(response).await;
        if let Err(err) = self.store.record_event(&context.event(i32::from(status.as_u16()), code.as_deref())).await {
            tracing::error!(error = ?err, "could not record a failed request in the audit log");
        }
        rebuild_error(status, &code, &message)
    }
}

/// Status, MLflow error code and message of an error response.
async fn error_parts(response: Response) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 256 * 1024).await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let code = parsed.as_ref().and_then(|v| v.get("error_code")).and_then(Value::as_str).map(str::to_owned);
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_owned);
    (status, code, message)
}

fn rebuild_error(status: StatusCode, code: &Option<String>, message: &str) -> Response {
    let body = serde_json::json!({ "error_code": code.as_deref().unwrap_or("INTERNAL_ERROR"), "message": message });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"mlflow\""));
    }
    response
}

#[cfg_attr(test, derive(Debug))] // never printed outside tests: it holds the secret
enum Credentials {
    Basic {
        username: String,
        secret: String,
    },
    Bearer(String),
    /// The token of a web session's cookie.
    Session(String),
}

/// The token in the request's session cookie, if any.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let lines = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    session::cookie(lines, session::SESSION_COOKIE)
}

/// Whether a request made with a session may go on: reads may; changes must carry the session's
/// CSRF token.
fn csrf_checked(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let sent = headers.get(session::CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (session_cookie(headers), sent) {
        (Some(token), Some(sent)) => session::csrf_matches(token, sent),
        _ => false,
    }
}

fn parse_authorization(value: &HeaderValue) -> Result<Credentials, &'static str> {
    let text = value.to_str().map_err(|_| "Malformed Authorization header: it is not ASCII text")?;
    let (scheme, rest) =
        text.trim().split_once(' ').ok_or("Malformed Authorization header: expected '<scheme> <credentials>'")?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| "Malformed Authorization header: the Basic credentials are not base64")?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| "Malformed Authorization header: the Basic credentials are not UTF-8")?;
        let (username, secret) =
            decoded.split_once(':').ok_or("Malformed Authorization header: the Basic credentials lack a ':'")?;
        if username.is_empty() || secret.is_empty() {
            return Err("Malformed Authorization header: empty username or password");
        }
        return Ok(Credentials::Basic { username: username.to_owned(), secret: secret.to_owned() });
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err("Malformed Authorization header: empty Bearer token");
        }
        return Ok(Credentials::Bearer(rest.to_owned()));
    }
    Err("Unsupported Authorization scheme: use Basic or Bearer")
}

impl Gate {
    /// Checks the declared access; returns the request (its body read back in, if it was read) and
    /// what was found out.
    async fn authorize(
        &self,
        caller: &Caller,
        endpoint: &Endpoint,
        params: &[(String, String)],
        request: Request,
    ) -> Result<(Request, Decision), ApiError> {
        let (target, level) = match endpoint.access {
            Access::Public | Access::Authenticated => return Ok((request, Decision::default())),
            Access::Admin if caller.user.is_admin => return Ok((request, Decision::default())),
            Access::Admin => {
                return Err(ApiError::new(
                    ErrorCode::PermissionDenied,
                    format!("Permission denied: {} requires an admin user", endpoint.action),
                ))
            }
            Access::Auditor if caller.is_auditor() => return Ok((request, Decision::default())),
            Access::Auditor => {
                return Err(ApiError::new(
                    ErrorCode::PermissionDenied,
                    "Permission denied: reading the audit log requires an admin or a member of the 'auditor' group",
                ))
            }
            Access::Need(target, level) => (target, level),
        };
        let (request, fields) = self.fields(target, params, request).await?;
        let mut decision = Decision::default();
        let mut checks: Vec<(ResourceType, String, Permission)> = Vec::new();
        match target {
            Target::Experiment => {
                let id = text_field(&fields, "experiment_id").unwrap_or_else(|| "0".to_owned());
                checks.push((ResourceType::Experiment, id, level));
            }
            Target::ExperimentName => {
                if let Some(name) = text_field(&fields, "experiment_name") {
                    if let Some(id) = self.store.experiment_id_by_name(&name).await? {
                        checks.push((ResourceType::Experiment, id.to_string(), level));
                    }
                }
            }
            Target::Run => {
                let run = text_field(&fields, "run_id").or_else(|| text_field(&fields, "run_uuid"));
                if let Some(run) = run {
                    if let Some(id) = self.experiment_of_run(&run).await? {
                        checks.push((ResourceType::Experiment, id.to_string(), level));
                    }
                    decision.resource = Some(("run", run));
                }
            }
            Target::LoggedModel => {
                if let Some(model_id) = text_field(&fields, "model_id") {
                    if let Some(id) = self.store.experiment_of_logged_model(&model_id).await? {
                        checks.push((ResourceType::Experiment, id.to_string(), level));
                    }
                    decision.resource = Some(("logged_model", model_id));
                }
            }
            Target::RegisteredModel => {
                if let Some(name) = text_field(&fields, "name") {
                    checks.push((ResourceType::RegisteredModel, name, level));
                }
            }
            Target::ModelVersionSource => {
                if let Some(name) = text_field(&fields, "name") {
                    checks.push((ResourceType::RegisteredModel, name, level));
                }
                let experiment = self.source_experiment(&fields).await?;
                match experiment {
                    Some(id) => checks.push((ResourceType::Experiment, id.to_string(), Permission::Read)),
                    None if caller.user.is_admin => {}
                    None => {
                        return Err(ApiError::new(
                            ErrorCode::PermissionDenied,
                            "Permission denied: a model version's source must name a run or logged model you can \
                             read (run_id, model_id, or a runs:/, models:/ or mlflow-artifacts:/ source)",
                        ))
                    }
                }
                decision.detail = text_field(&fields, "source");
            }
            Target::Artifact => {
                let path = text_field(&fields, "path").unwrap_or_default();
                match artifact_experiment(&path) {
                    Some(id) => checks.push((ResourceType::Experiment, id, level)),
                    None if caller.user.is_admin => {}
                    None => {
                        return Err(ApiError::new(
                            ErrorCode::PermissionDenied,
                            format!(
                                "Permission denied: the artifact path '{path}' does not start with an experiment id; \
                                 only admins may reach it"
                            ),
                        ))
                    }
                }
            }
            Target::Named => {
                let kind = text_field(&fields, "resource_type").ok_or_else(|| ApiError::missing("resource_type"))?;
                let kind = ResourceType::parse(&kind)?;
                let id = text_field(&fields, "resource_id").ok_or_else(|| ApiError::missing("resource_id"))?;
                checks.push((kind, id, level));
            }
        }
        for (resource_type, id, needed) in checks {
            if decision.resource.is_none() {
                decision.resource = Some((resource_type.as_str(), id.clone()));
            }
            let held = caller.permission(resource_type, &id);
            if !held.satisfies(needed) {
                return Err(ApiError::new(
                    ErrorCode::PermissionDenied,
                    format!(
                        "Permission denied: {} requires {needed} on {} '{id}'; user '{}' has {held}",
                        endpoint.action,
                        resource_type.as_str().replace('_', " "),
                        caller.user.username
                    ),
                ));
            }
        }
        Ok((request, decision))
    }

    async fn experiment_of_run(&self, run_id: &str) -> ferroflow_store::Result<Option<i64>> {
        if let Some(id) = self.run_experiments.lock().unwrap_or_else(PoisonError::into_inner).get(run_id) {
            return Ok(Some(*id));
        }
        let found = self.store.experiment_of_run(run_id).await?;
        if let Some(id) = found {
            let mut map = self.run_experiments.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(run_id.to_owned(), id);
        }
        Ok(found)
    }

    /// The experiment a model version's source belongs to: its `run_id` or `model_id`, or the run,
    /// logged model or experiment its `source` URI names.
    async fn source_experiment(&self, fields: &Map<String, Value>) -> ferroflow_store::Result<Option<i64>> {
        if let Some(run) = text_field(fields, "run_id") {
            return self.experiment_of_run(&run).await;
        }
        if let Some(model) = text_field(fields, "model_id") {
            return self.store.experiment_of_logged_model(&model).await;
        }
        let source = text_field(fields, "source").unwrap_or_default();
        if let Some(rest) = source.strip_prefix("runs:/") {
            let run = rest.trim_start_matches('/').split('/').next().unwrap_or_default();
            return self.experiment_of_run(run).await;
        }
        if let Some(rest) = source.strip_prefix("models:/") {
            let model = rest.trim_start_matches('/').split('/').next().unwrap_or_default();
            if model.starts_with("m-") {
                return self.store.experiment_of_logged_model(model).await;
            }
            return Ok(None);
        }
        if let Some(rest) = source.strip_prefix("mlflow-artifacts:") {
            return Ok(artifact_experiment(rest.trim_start_matches('/')).and_then(|id| id.parse().ok()));
        }
        Ok(None)
    }

    /// The request's fields: path parameters, then the query string (GET) or the JSON body. A body
    /// is read only when the target needs it, and put back for the handler.
    async fn fields(
        &self,
        target: Target,
        params: &[(String, String)],
        request: Request,
    ) -> Result<(Request, Map<String, Value>), ApiError> {
        let mut fields = Map::new();
        for (key, value) in params {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned();
            fields.insert(key.clone(), Value::String(value));
        }
        let needs_request_fields =
            !matches!(target, Target::LoggedModel) && (target != Target::Artifact || params.is_empty());
        if !needs_request_fields {
            return Ok((request, fields));
        }
        let query = request.uri().query().unwrap_or_default().to_owned();
        if request.method() == Method::GET && !query.is_empty() {
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                match fields.get_mut(key.as_ref()) {
                    Some(Value::Array(items)) => items.push(Value::String(value.into_owned())),
                    Some(existing) => {
                        let first = existing.take();
                        *existing = Value::Array(vec![first, Value::String(value.into_owned())]);
                    }
                    None => {
                        fields.insert(key.into_owned(), Value::String(value.into_owned()));
                    }
                }
            }
            return Ok((request, fields));
        }
        // DELETE may carry its fields in the query string too.
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            fields.entry(key.into_owned()).or_insert(Value::String(value.into_owned()));
        }
        let (parts, body) = request.into_parts();
        let bytes: Bytes = axum::body::to_bytes(body, self.max_body_bytes).await.map_err(|_| ApiError {
            code: ErrorCode::BadRequest,
            message: format!("The request body is larger than the limit of {} bytes", self.max_body_bytes),
            status: Some(StatusCode::PAYLOAD_TOO_LARGE),
        })?;
        if let Ok(Value::Object(body_fields)) = serde_json::from_slice::<Value>(&bytes) {
            for (key, value) in body_fields {
                fields.insert(key, value);
            }
        }
        Ok((Request::from_parts(parts, Body::from(bytes)), fields))
    }
}

/// A field as text (strings as they are, numbers written out).
fn text_field(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    }
}

/// The experiment id an artifact path starts with (`<experiment_id>/<run_id>/artifacts/...`), or
/// `None` for a path that does not, or that steps outside itself.
fn artifact_experiment(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == ".." || s.contains('\\')) {
        return None;
    }
    let first = segments.first()?;
    first.bytes().all(|b| b.is_ascii_digit()).then(|| (*first).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_parse_or_say_what_is_wrong() {
        let basic = |s: &str| {
            HeaderValue::from_str(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s))).unwrap()
        };
        assert!(
            matches!(parse_authorization(&basic("alice:secret")), Ok(Credentials::Basic { username, secret }) if username == "alice" && secret == "secret")
        );
        assert!(
            matches!(parse_authorization(&basic("alice:pa:ss")), Ok(Credentials::Basic { secret, .. }) if secret == "pa:ss")
        );
        assert!(parse_authorization(&basic("alice")).unwrap_err().contains("lack a ':'"));
        assert!(parse_authorization(&basic(":secret")).unwrap_err().contains("empty username"));
        assert!(parse_authorization(&HeaderValue::from_static("Basic !!!")).unwrap_err().contains("not base64"));
        assert!(parse_authorization(&HeaderValue::from_static("Basic")).is_err());
        assert!(parse_authorization(&HeaderValue::from_static("Digest abc")).unwrap_err().contains("Unsupported"));
        assert!(
            matches!(parse_authorization(&HeaderValue::from_static("Bearer ffp_x")), Ok(Credentials::Bearer(t)) if t == "ffp_x")
        );
    }

    #[test]
    fn artifact_paths_name_their_experiment() {
        assert_eq!(artifact_experiment("12/abc/artifacts/model.pkl").as_deref(), Some("12"));
        assert_eq!(artifact_experiment("/3/x").as_deref(), Some("3"));
        assert_eq!(artifact_experiment("models/x"), None);
        assert_eq!(artifact_experiment("1/../2/x"), None);
        assert_eq!(artifact_experiment(""), None);
    }
}
