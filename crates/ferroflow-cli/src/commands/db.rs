//! `ferroflow db upgrade <url>`: apply pending schema migrations, as `mlflow db upgrade` does.

use anyhow::Context as _;
use ferroflow_store::{BackendUri, SqlStore};

use crate::args::PoolArgs;

/// Applies pending migrations and reports what it did.
pub async fn upgrade(url: &str, pool: &PoolArgs) -> anyhow::Result<()> {
    let backend = BackendUri::parse(url).context("invalid database URI")?;
    let applied = SqlStore::upgrade(&backend, &pool.settings())
        .await
        .with_context(|| format!("could not upgrade the {} database {backend}", backend.engine()))?;
    if applied.is_empty() {
        tracing::info!(database = %backend, "schema already up to date");
    } else {
        tracing::info!(database = %backend, migrations = ?applied, "schema upgraded");
    }
    Ok(())
}
