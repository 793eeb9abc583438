//! `ferroflow server`: open the store, bind, serve until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferroflow_artifacts::ArtifactStore;
use ferroflow_auth::audit::AuditEvent;
use ferroflow_auth::{password, Permission};
use ferroflow_server::auth::{AuthConfig, TrustedProxies};
use ferroflow_server::{AllowedHosts, AppState, ServerConfig, Services};
use ferroflow_store::{BackendUri, RequestContext, SqlStore, StoreConfig};

use crate::args::ServerArgs;
use crate::env_vars;

/// Runs the server on the current tokio runtime.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let default_artifact_root = args.default_artifact_root();
    let artifacts = if args.no_serve_artifacts {
        None
    } else {
        let store = ArtifactStore::open(&args.artifacts_destination).context("invalid --artifacts-destination")?;
        tracing::info!(destination = %store.uri(), "serving artifacts");
        let store = Arc::new(store);
        tokio::spawn(sweep_abandoned_uploads(store.clone()));
        Some(store)
    };
    let tracking = if args.artifacts_only {
        None
    } else {
        let backend = BackendUri::parse(&args.backend_store_uri).context("invalid --backend-store-uri")?;
        let store_config = StoreConfig {
            backend,
            default_artifact_root: default_artifact_root.clone(),
            max_read_connections: args.db_read_connections,
            pool: args.pool.settings(),
            migrate: !args.no_migrate,
        };
        let store = SqlStore::open(&store_config).await.with_context(|| {
            format!("could not open the {} tracking store {}", store_config.backend.engine(), store_config.backend)
        })?;
        Some(AppState::new(store, &default_artifact_root, artifacts.clone()))
    };
    let allowed_hosts = if args.allowed_hosts.is_empty() {
        AllowedHosts::default_for(&args.host)
    } else {
        AllowedHosts::from_list(&args.allowed_hosts)
    };
    let auth = match (&tracking, args.auth) {
        (_, false) => None,
        (None, true) => anyhow::bail!(
            "--auth needs the tracking database, which --artifacts-only turns off: run the artifact proxy \
             behind an authenticated tracking server instead"
        ),
        (Some(state), true) => Some(prepare_auth(&args, &state.store).await?),
    };
    let config = ServerConfig {
        allowed_hosts,
        cors_allowed_origins: args.cors_allowed_origins.clone(),
        max_body_bytes: args.max_body_bytes,
        auth,
    };
    let tracking_store = tracking.as_ref().map(|state| state.store.clone());
    let audit_store = tracking_store.clone().filter(|_| config.auth.is_some());
    if let Some(store) = &audit_store {
        tokio::spawn(seal_audit_log(store.clone()));
    }
    let app = ferroflow_server::router(Services { tracking, artifacts }, &config);
    let address = format!("{}:{}", args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(&address).await.with_context(|| format!("could not listen on {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "ferroflow server listening");
    ferroflow_server::serve(listener, app, shutdown_signal()).await?;
    if let Some(store) = audit_store {
        if let Err(err) = store.seal_audit_events().await {
            tracing::warn!(error = %err, "could not seal the last audit events; another replica or the next start will");
        }
    }
    if let Some(store) = tracking_store {
        store.close().await;
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Reads the auth settings, sets the audit key and creates the first admin on an empty user table.
async fn prepare_auth(args: &ServerArgs, store: &SqlStore) -> anyhow::Result<AuthConfig> {
    let default_permission = Permission::parse(&args.auth_default_permission)
        .ok()
        .filter(|p| *p != Permission::Deny)
        .with_context(|| {
        format!(
            "invalid --auth-default-permission '{}': use READ, USE, EDIT, MANAGE or NO_PERMISSIONS",
            args.auth_default_permission
        )
    })?;
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .map(|text| TrustedProxies::parse_one(text).map_err(|e| anyhow::anyhow!("invalid --trusted-proxy: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(key) = std::env::var_os(env_vars::AUDIT_KEY) {
        store.set_audit_key(key.into_encoded_bytes());
    }
    if store.count_users().await? == 0 {
        let username = std::env::var(env_vars::ADMIN_USERNAME).unwrap_or_else(|_| "admin".to_owned());
        let Ok(password) = std::env::var(env_vars::ADMIN_PASSWORD) else {
            anyhow::bail!(
                "--auth is on and there are no users yet: set {} (and optionally {}, default 'admin') to create the \
                 first admin",
                env_vars::ADMIN_PASSWORD,
                env_vars::ADMIN_USERNAME
            );
        };
        password::check_policy(&password)
            .map_err(|weak| anyhow::anyhow!("refusing {} for the first admin: {weak}", env_vars::ADMIN_PASSWORD))?;
        let hash = tokio::task::spawn_blocking(move || password::hash(&password)).await?;
        let event = AuditEvent {
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            actor: Some("ferroflow".to_owned()),
            action: "BootstrapAdmin".to_owned(),
            method: "-".to_owned(),
            path: "-".to_owned(),
            ..AuditEvent::default()
        };
        let created =
            RequestContext::scope(RequestContext::new(None, event), store.create_user(&username, &hash, true));
        match created.await {
            Ok(_) => tracing::info!(username = %username, "created the first admin user"),
            // Another replica starting at the same time created it.
            Err(ferroflow_store::Error::AlreadyExists(_)) => {}
            Err(err) => return Err(err).context("could not create the first admin user"),
        }
    }
    tracing::info!(default_permission = %default_permission, audit_reads = args.audit_reads, trusted_proxies = ?args.trusted_proxies, "access control on");
    Ok(AuthConfig {
        default_permission,
        audit_reads: args.audit_reads,
        trusted_proxies: TrustedProxies::new(trusted_proxies),
    })
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// How often the server looks for abandoned multipart uploads, and how long an upload must have been
/// idle to count as abandoned.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes abandoned multipart uploads at start and then every [`SWEEP_EVERY`].
/// How often the server seals the audit events written since (see `SqlStore::seal_audit_events`).
const SEAL_EVERY: Duration = Duration::from_millis(200);

/// Seals audit events into the hash chain as they come, on every replica (they take turns).
async fn seal_audit_log(store: SqlStore) {
    let mut every = tokio::time::interval(SEAL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(err) = store.seal_audit_events().await {
            tracing::warn!(error = %err, "could not seal audit events; retrying");
        }
    }
}

async fn sweep_abandoned_uploads(store: Arc<ArtifactStore>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        match store.sweep_abandoned_uploads(ABANDONED_AFTER).await {
            Ok(0) => {}
            Ok(uploads) => tracing::info!(uploads, "removed abandoned multipart uploads"),
            Err(err) => tracing::warn!(error = %err, "could not sweep abandoned multipart uploads"),
        }
    }
}
