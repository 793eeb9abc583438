//! `ferroflow audit verify|export`: read the audit log straight from the database, as an auditor
//! would, without a running server; `ferroflow audit search` asks a running one.

use std::io::Write as _;

use anyhow::Context as _;
use ferroflow_store::{AuditSearch, AuditVerdict, BackendUri, PoolSettings, SqlStore, StoreConfig};

use reqwest::Method;
use serde_json::{json, Value};

use super::remote::Remote;
use crate::args::{AuditCommand, AuditFilter};
use crate::env_vars;

/// Opens the store at `uri` without migrating it, with the audit key of `FERROFLOW_AUDIT_KEY`.
pub(crate) async fn open(uri: &str) -> anyhow::Result<SqlStore> {
    let backend = BackendUri::parse(uri).context("invalid --backend-store-uri")?;
    let config = StoreConfig {
        backend,
        default_artifact_root: "mlflow-artifacts:/".to_owned(),
        max_read_connections: 2,
        pool: PoolSettings { max_connections: 2, ..PoolSettings::default() },
        migrate: false,
    };
    let store = SqlStore::open(&config).await.with_context(|| format!("could not open {}", config.backend))?;
    if let Some(key) = std::env::var_os(env_vars::AUDIT_KEY) {
        store.set_audit_key(key.into_encoded_bytes());
    }
    Ok(store)
}

/// Runs the command; `Ok(false)` when `verify` found the log damaged.
pub async fn run(command: AuditCommand) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    match command {
        AuditCommand::Verify { backend_store_uri } => {
            let store = open(&backend_store_uri).await?;
            let verdict = store.verify_audit_log().await.context("could not read the audit log")?;
            store.close().await;
            match verdict {
                AuditVerdict::Intact { last, unsealed } => {
                    writeln!(out, "audit log intact: events 1 to {last} verified")?;
                    if unsealed > 0 {
                        writeln!(
                            out,
                            "{unsealed} newer event(s) match their digests and await their seal (a running server \
                             seals them within a second)"
                        )?;
                    }
                    Ok(true)
                }
                AuditVerdict::Broken(fault) => {
                    writeln!(out, "audit log DAMAGED: {fault}")?;
                    Ok(false)
                }
            }
        }
        AuditCommand::Export { backend_store_uri, format: _, filter } => {
            let store = open(&backend_store_uri).await?;
            let mut search = AuditSearch {
                actor: filter.actor,
                action: filter.action,
                resource_type: filter.resource_type,
                resource_id: filter.resource_id,
                since_ms: filter.since,
                until_ms: filter.until,
                outcome: filter.outcome,
                after_seq: 0,
                newest_first: false,
                max_results: 5000,
            };
            loop {
                let (events, more) = store.search_events(&search).await?;
                for event in &events {
                    writeln!(out, "{}", serde_json::to_string(event)?)?;
                }
                match (more, events.last()) {
                    (true, Some(last)) => search.after_seq = last.seq,
                    _ => break,
                }
            }
            store.close().await;
            Ok(true)
        }
        AuditCommand::Search { server, filter, max_results } => {
            search_server(&Remote::new(&server)?, &filter, max_results, &mut out).await?;
            Ok(true)
        }
    }
}

/// Pages through the server's audit/search, printing each event as a JSON line.
async fn search_server(
    remote: &Remote,
    filter: &AuditFilter,
    limit: Option<usize>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let mut printed = 0usize;
    let mut page_token: Option<String> = None;
    loop {
        let page_size = limit.map_or(1000, |l| (l - printed).min(1000));
        if page_size == 0 {
            return Ok(());
        }
        let fields = json!({
            "actor": filter.actor,
            "action": filter.action,
            "resource_type": filter.resource_type,
            "resource_id": filter.resource_id,
            "since": filter.since,
            "until": filter.until,
            "outcome": filter.outcome,
            "max_results": page_size,
            "page_token": page_token,
        });
        let page = remote.call(Method::GET, "ferroflow/audit/search", fields).await?;
        for event in page.get("events").and_then(Value::as_array).into_iter().flatten() {
            writeln!(out, "{event}")?;
            printed += 1;
        }
        match page.get("next_page_token").and_then(Value::as_str) {
            Some(next) => page_token = Some(next.to_owned()),
            None => return Ok(()),
        }
    }
}
