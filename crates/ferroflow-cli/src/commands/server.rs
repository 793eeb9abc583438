//! `ferroflow server`: open the store, bind, serve until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferroflow_artifacts::{ArtifactStore, LocationPolicy};
use ferroflow_server::{AllowedHosts, AppState, ServerConfig, Services};
use ferroflow_store::{BackendUri, SqlStore, StoreConfig};

use crate::args::ServerArgs;

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
        let locations = LocationPolicy::for_server(&default_artifact_root, artifacts.as_deref());
        Some(AppState { store, locations: Arc::new(locations) })
    };
    let allowed_hosts = if args.allowed_hosts.is_empty() {
        AllowedHosts::default_for(&args.host)
    } else {
        AllowedHosts::from_list(&args.allowed_hosts)
    };
    let config = ServerConfig {
        allowed_hosts,
        cors_allowed_origins: args.cors_allowed_origins.clone(),
        max_body_bytes: args.max_body_bytes,
    };
    let tracking_store = tracking.as_ref().map(|state| state.store.clone());
    let app = ferroflow_server::router(Services { tracking, artifacts }, &config);
    let address = format!("{}:{}", args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(&address).await.with_context(|| format!("could not listen on {address}"))?;
    tracing::info!(address = %listener.local_addr()?, "ferroflow server listening");
    ferroflow_server::serve(listener, app, shutdown_signal()).await?;
    if let Some(store) = tracking_store {
        store.close().await;
    }
    tracing::info!("server stopped");
    Ok(())
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
