//! Load generator for the ferroflow benchmark.
//!
//! Each subcommand drives one workload against an MLflow-compatible tracking
//! server over HTTP (setting up its own experiment, runs and data through the
//! REST API) and prints a single JSON line with the results on stdout.
//! `LOADGEN_AUTHORIZATION`, when set, is sent as the `Authorization` header of every request.
// Printing the result line is this program's job.
#![allow(clippy::print_stdout)]

mod http;
mod stats;
mod workloads;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::http::Target;
use crate::workloads::{Common, HistoryOptions, RegistryOptions, SearchOptions};

#[derive(Parser)]
#[command(name = "ferroflow-loadgen", about = "HTTP load generator for MLflow-compatible tracking servers")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct CommonArgs {
    /// Base URL of the server (http only).
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    url: String,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Upper bound for the whole workload (setup included), in seconds.
    #[arg(long, default_value_t = 900.0)]
    max_duration: f64,
    /// Shell command run once the workload's data is seeded, before anything is timed; the
    /// workload fails if it does. The bench refreshes the database's planner statistics with it.
    #[arg(long)]
    after_seed: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// log-batch requests of --batch-size metric points each from N clients; reports points/s.
    Ingest {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// Single log-metric requests from N clients; reports requests/s and latency percentiles.
    Small {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
    },
    /// Seeds runs (5 params, 5 metrics, 3 tags each), then times runs/search.
    Search {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value_t = 2000)]
        runs: usize,
        #[arg(long, default_value_t = 8)]
        seed_concurrency: usize,
        /// Timed filtered + ordered searches.
        #[arg(long, default_value_t = 50)]
        iterations: usize,
        /// max_results of the filtered search.
        #[arg(long, default_value_t = 100)]
        max_results: usize,
        /// Timed unfiltered searches of one large page.
        #[arg(long, default_value_t = 10)]
        page_iterations: usize,
        #[arg(long, default_value_t = 1000)]
        page_size: usize,
    },
    /// Logs one metric with many steps, then times fetching its whole history page by page.
    History {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value_t = 100_000)]
        points: usize,
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        #[arg(long, default_value_t = 4)]
        seed_concurrency: usize,
        /// max_results per get-history page.
        #[arg(long, default_value_t = 25_000)]
        page_size: usize,
        #[arg(long, default_value_t = 5)]
        iterations: usize,
    },
    /// Seeds registered models with versions, then times registered-models/search and
    /// model-versions/search with a LIKE filter on the name.
    Registry {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value_t = 2000)]
        models: usize,
        #[arg(long, default_value_t = 5)]
        versions: usize,
        #[arg(long, default_value_t = 8)]
        seed_concurrency: usize,
        #[arg(long, default_value_t = 50)]
        iterations: usize,
    },
    /// GET a path once (default /health); succeeds on a 2xx answer.
    Ping {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, default_value = "/health")]
        path: String,
    },
}

fn common(args: &CommonArgs) -> Result<Common> {
    let mut target = Target::parse(&args.url)?;
    // From the environment rather than a flag, so that credentials stay out of `ps`.
    target.authorization = std::env::var("LOADGEN_AUTHORIZATION").ok().filter(|v| !v.is_empty());
    Ok(Common {
        target,
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        max_duration: Duration::from_secs_f64(args.max_duration.max(0.001)),
        after_seed: args.after_seed.clone(),
    })
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

async fn run(cmd: &Cmd) -> Result<Value> {
    match cmd {
        Cmd::Ingest { common: c, concurrency, duration, warmup, batch_size } => {
            workloads::ingest(&common(c)?, (*concurrency).max(1), secs(*warmup), secs(*duration), (*batch_size).max(1))
                .await
        }
        Cmd::Small { common: c, concurrency, duration, warmup } => {
            workloads::small(&common(c)?, (*concurrency).max(1), secs(*warmup), secs(*duration)).await
        }
        Cmd::Search { common: c, runs, seed_concurrency, iterations, max_results, page_iterations, page_size } => {
            let opts = SearchOptions {
                runs: *runs,
                seed_concurrency: *seed_concurrency,
                iterations: *iterations,
                page_iterations: *page_iterations,
                max_results: *max_results,
                page_size: *page_size,
            };
            workloads::search(&common(c)?, &opts).await
        }
        Cmd::History { common: c, points, batch_size, seed_concurrency, page_size, iterations } => {
            let opts = HistoryOptions {
                points: *points,
                batch_size: *batch_size,
                seed_concurrency: *seed_concurrency,
                page_size: (*page_size).max(1),
                iterations: *iterations,
            };
            workloads::history(&common(c)?, &opts).await
        }
        Cmd::Registry { common: c, models, versions, seed_concurrency, iterations } => {
            let opts = RegistryOptions {
                models: *models,
                versions: *versions,
                seed_concurrency: *seed_concurrency,
                iterations: *iterations,
            };
            workloads::registry(&common(c)?, &opts).await
        }
        Cmd::Ping { common: c, path } => workloads::ping(&common(c)?, path).await,
    }
}

fn workload_name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Ingest { .. } => "ingest",
        Cmd::Small { .. } => "small",
        Cmd::Search { .. } => "search",
        Cmd::History { .. } => "history",
        Cmd::Registry { .. } => "registry",
        Cmd::Ping { .. } => "ping",
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let started = Instant::now();
    let cpu0 = stats::process_cpu_seconds();
    let mut out = match run(&cli.cmd).await {
        Ok(v) => v,
        Err(e) => {
            json!({ "workload": workload_name(&cli.cmd), "ok": false, "error": format!("{e:#}") })
        }
    };
    let wall = started.elapsed().as_secs_f64();
    out["wall_s"] = json!(wall);
    if let (Some(a), Some(b)) = (cpu0, stats::process_cpu_seconds()) {
        out["client_cpu_s"] = json!(b - a);
        out["client_cpu_share"] = json!((b - a) / wall);
    }
    println!("{out}");
    if out["ok"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
