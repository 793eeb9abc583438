//! `ferroflow db upgrade <url>`: apply pending schema migrations, as `mlflow db upgrade` does.
//! `ferroflow db import --from <mlflow> --to <ferroflow>`: move an MLflow server's data over.

use std::sync::Mutex;

use anyhow::Context as _;
use ferroflow_auth::audit::AuditEvent;
use ferroflow_import::{ImportOptions, Progress, Report, TableCount, Verification};
use ferroflow_store::{BackendUri, SqlStore};
use indicatif::{ProgressBar, ProgressStyle};

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

/// Imports, prints the counts per table, and with `verify` compares both sides. Returns whether
/// they match (always true without `verify`).
pub async fn import(options: &ImportOptions, verify: bool) -> anyhow::Result<bool> {
    let progress = Bars::default();
    let report = ferroflow_import::import(options, &progress).await?;
    print_report(&report);
    // Verified before the audit event is stored: opening the target as a store adds MLflow's
    // Default experiment where the source had none, which a comparison would count.
    let verified = if verify {
        let verification = ferroflow_import::verify(options).await?;
        print_verification(&verification);
        Some(verification.matches())
    } else {
        None
    };
    if !report.already_imported {
        record_import(&options.to, &report, verified).await?;
    }
    Ok(verified.unwrap_or(true))
}

/// Records the import in the target's audit log (chained with `FERROFLOW_AUDIT_KEY` when set, as
/// the server chains its events), so an auditor sees where the data came from, how much of it, and
/// whether `--verify` found both sides equal (`null` when it was not asked for).
async fn record_import(to: &str, report: &Report, verified: Option<bool>) -> anyhow::Result<()> {
    let rows: serde_json::Map<String, serde_json::Value> =
        report.counts.iter().map(|count| (count.table.to_owned(), count.target.into())).collect();
    let left_behind: serde_json::Map<String, serde_json::Value> =
        report.left_behind.iter().map(|(what, count)| (what.clone(), (*count).into())).collect();
    let details = serde_json::json!({
        "source": report.source,
        "revision": report.revision,
        "resumed": report.resumed,
        "verified": verified,
        "rows": rows,
        "left_behind": left_behind,
    });
    let event = AuditEvent {
        time_ms: i64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
        )
        .unwrap_or(i64::MAX),
        // The account that ran the command: there is no ferroflow user behind it.
        actor: std::env::var("USER").ok().filter(|user| !user.is_empty()),
        auth_method: Some("cli".to_owned()),
        token_id: None,
        source: None,
        user_agent: Some(format!("ferroflow/{}", env!("CARGO_PKG_VERSION"))),
        action: "ImportMlflow".to_owned(),
        method: "CLI".to_owned(),
        path: "ferroflow db import".to_owned(),
        resource_type: Some("database".to_owned()),
        resource_id: Some(report.source.clone()),
        status: 200,
        error_code: None,
        details: Some(details.to_string()),
    };
    let store = super::audit::open(to).await?;
    let recorded = store.record_event(&event).await;
    store.close().await;
    recorded.context("the import finished, but its audit event could not be stored")
}

/// A progress bar per stage, on stderr (drawn only when stderr is a terminal).
#[derive(Default)]
struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn stage(&self, name: &str, total: u64, done: u64) {
        let bar = ProgressBar::new(total).with_prefix(name.replace('_', " ")).with_position(done);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>17} [{bar:32}] {human_pos}/{human_len} rows, {per_sec}, {elapsed} (ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.reset_eta();
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Some(bar) = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
            bar.inc(rows);
        }
    }

    fn finish_stage(&self) {
        if let Some(bar) = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            bar.finish();
        }
    }
}

#[allow(clippy::print_stdout)] // the report is the command's output
fn print_report(report: &Report) {
    if report.already_imported {
        println!("{} ({}) was imported here before; nothing to copy.", report.source, report.described_source());
    } else {
        let how = if report.resumed { "Finished the interrupted import of" } else { "Imported" };
        println!(
            "{how} {} ({}) in {:.1} s.",
            report.source,
            report.described_source(),
            report.elapsed.as_secs_f64()
        );
    }
    print_counts(&report.counts);
    if !report.left_behind.is_empty() {
        let tables: Vec<String> =
            report.left_behind.iter().map(|(table, rows)| format!("{table} ({rows} rows)")).collect();
        println!("Not carried over: {}.", tables.join(", "));
    }
}

#[allow(clippy::print_stdout)]
fn print_counts(counts: &[TableCount]) {
    println!("{:<26} {:>12} {:>12}", "table", "MLflow", "ferroflow");
    for count in counts {
        let flag = if count.source == count.target { "" } else { "  differs" };
        println!("{:<26} {:>12} {:>12}{flag}", count.table, count.source, count.target);
    }
}

#[allow(clippy::print_stdout)]
fn print_verification(verification: &Verification) {
    let (source, target) = (verification.source_metrics, verification.target_metrics);
    if verification.matches() {
        println!(
            "Verified: every table holds as many rows on both sides, and the {} metric points are identical \
             (digest {:032x}).",
            source.points, source.sum
        );
        return;
    }
    println!("Verification FAILED:");
    for count in verification.counts.iter().filter(|c| c.source != c.target) {
        println!("  {}: {} rows in MLflow, {} in ferroflow", count.table, count.source, count.target);
    }
    if source != target {
        println!(
            "  metric points differ: {} in MLflow (digest {:032x}), {} in ferroflow (digest {:032x})",
            source.points, source.sum, target.points, target.sum
        );
    }
}
