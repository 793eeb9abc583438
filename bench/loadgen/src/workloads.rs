//! The benchmark workloads. Each one sets up its own data through the
//! MLflow REST API, measures, and returns a JSON object of results.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{encode_query_value, Client, Target};
use crate::stats::{mix, now_millis, unit, Latencies};

const API: &str = "/api/2.0/mlflow";

/// Settings every workload shares.
#[derive(Clone)]
pub struct Common {
    pub target: Target,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Upper bound on the whole workload, setup included.
    pub max_duration: Duration,
    /// Shell command run between seeding and the timed part.
    pub after_seed: Option<String>,
}

impl Common {
    fn client(&self) -> Client {
        Client::new(self.target.clone(), self.timeout)
    }

    /// Runs the `--after-seed` command, if any, and waits for it.
    async fn seeded(&self) -> Result<()> {
        let Some(command) = &self.after_seed else { return Ok(()) };
        let status = tokio::process::Command::new("sh").arg("-c").arg(command).status().await?;
        if !status.success() {
            bail!("--after-seed command failed ({status}): {command}");
        }
        Ok(())
    }
}

fn unique_name(kind: &str) -> String {
    let salt = mix(u64::from(std::process::id()) ^ now_millis().unsigned_abs()) % 1_000_000;
    format!("bench-{kind}-{}-{salt:06}", now_millis())
}

fn id_field(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn create_experiment(client: &mut Client, kind: &str) -> Result<String> {
    let v = client.post_json(&format!("{API}/experiments/create"), &json!({ "name": unique_name(kind) })).await?;
    id_field(&v["experiment_id"]).ok_or_else(|| anyhow!("experiments/create: no experiment_id in {v}"))
}

async fn create_run(client: &mut Client, experiment_id: &str, name: &str) -> Result<String> {
    let body = json!({
        "experiment_id": experiment_id,
        "start_time": now_millis(),
        "run_name": name,
    });
    let v = client.post_json(&format!("{API}/runs/create"), &body).await?;
    let info = &v["run"]["info"];
    id_field(&info["run_id"])
        .or_else(|| id_field(&info["run_uuid"]))
        .ok_or_else(|| anyhow!("runs/create: no run id in {v}"))
}

async fn post_ok(client: &mut Client, path: &str, body: Bytes) -> Result<()> {
    let resp = client.post(path, body).await?;
    if !resp.is_success() {
        bail!("POST {path}: {}", resp.describe());
    }
    Ok(())
}

/// Runs `seed(client, i)` for every `i` in `0..total` on `concurrency` workers, each with its own
/// keep-alive connection; fails if `deadline` passes first. `what` and `unit` name the work in that error.
async fn seed_in_parallel<F>(
    common: &Common,
    total: usize,
    concurrency: usize,
    deadline: Instant,
    (what, unit): (&'static str, &'static str),
    seed: F,
) -> Result<()>
where
    F: Fn(Client, usize) -> SeedFuture + Send + Sync + 'static,
{
    let seed = Arc::new(seed);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..concurrency.max(1) {
        let mut client = common.client();
        let (next, seed) = (Arc::clone(&next), Arc::clone(&seed));
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                if Instant::now() > deadline {
                    bail!("{what} did not finish within the maximum duration ({i} of {total} {unit})");
                }
                client = seed(client, i).await?;
            }
        }));
    }
    for h in handles {
        h.await.context("seeding worker panicked")??;
    }
    Ok(())
}

/// One unit of seeding work; hands its connection back.
type SeedFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Client>> + Send>>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------
// Timed closed-loop driver (ingest and small requests)

type BodyFn = Arc<dyn Fn(usize, u64) -> Bytes + Send + Sync>;

#[derive(Default)]
struct LoopOutcome {
    /// Successful requests that completed inside the measurement window.
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies: Latencies,
}

/// `concurrency` workers, each with its own keep-alive connection, send
/// requests back to back until `warmup + duration` has passed. Only requests
/// that complete inside the window after the warm-up are counted.
async fn run_closed_loop(
    common: &Common,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    path: String,
    make_body: BodyFn,
) -> Result<LoopOutcome> {
    let start = Instant::now();
    let measure_start = start + warmup;
    let end = measure_start + duration;
    let mut handles = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let mut client = common.client();
        let make_body = Arc::clone(&make_body);
        let path = path.clone();
        handles.push(tokio::spawn(async move {
            let mut out = LoopOutcome::default();
            let mut k: u64 = 0;
            while Instant::now() < end {
                let body = make_body(worker, k);
                k += 1;
                let t0 = Instant::now();
                let res = client.post(&path, body).await;
                let t1 = Instant::now();
                match res {
                    Ok(resp) if resp.is_success() => {
                        if t1 >= measure_start && t1 <= end {
                            out.ok += 1;
                            out.latencies.push(t1 - t0);
                        }
                    }
                    Ok(resp) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| resp.describe());
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| format!("{e:#}"));
                        // Do not spin on a dead server.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            out
        }));
    }
    let mut total = LoopOutcome::default();
    for h in handles {
        let out = h.await.context("worker panicked")?;
        total.ok += out.ok;
        total.errors += out.errors;
        if total.first_error.is_none() {
            total.first_error = out.first_error;
        }
        total.latencies.extend(out.latencies);
    }
    Ok(total)
}

fn loop_report(workload: &str, out: &mut LoopOutcome, duration: Duration, concurrency: usize) -> Value {
    let secs = duration.as_secs_f64();
    json!({
        "workload": workload,
        "ok": out.ok > 0,
        "error": if out.ok == 0 { out.first_error.clone().or(Some("no successful request".into())) } else { None },
        "concurrency": concurrency,
        "duration_s": secs,
        "requests": out.ok,
        "requests_per_s": out.ok as f64 / secs,
        "errors": out.errors,
        "first_error": out.first_error,
        "latency_mean_ms": out.latencies.mean_ms(),
        "latency_p50_ms": out.latencies.percentile_ms(50.0),
        "latency_p95_ms": out.latencies.percentile_ms(95.0),
        "latency_p99_ms": out.latencies.percentile_ms(99.0),
        "latency_max_ms": out.latencies.percentile_ms(100.0),
    })
}

async fn create_runs(common: &Common, kind: &str, count: usize) -> Result<Vec<String>> {
    let mut client = common.client();
    let exp = create_experiment(&mut client, kind).await?;
    let mut runs = Vec::with_capacity(count);
    for i in 0..count {
        runs.push(create_run(&mut client, &exp, &format!("{kind}-{i}")).await?);
    }
    Ok(runs)
}

// ---------------------------------------------------------------------------
// 1. ingest

/// Number of metric keys a log-batch request spreads its points over.
const INGEST_KEYS: usize = 10;

fn ingest_body(run_id: &str, batch: usize, k: u64) -> Bytes {
    let keys = batch.clamp(1, INGEST_KEYS);
    let steps_per_request = batch.div_ceil(keys) as u64;
    let ts = now_millis();
    let mut s = String::with_capacity(64 + batch * 80);
    s.push_str("{\"run_id\":\"");
    s.push_str(run_id);
    s.push_str("\",\"metrics\":[");
    for p in 0..batch {
        if p > 0 {
            s.push(',');
        }
        let key = p % keys;
        let step = k * steps_per_request + (p / keys) as u64;
        let value = unit(step, key as u64);
        let _ = write!(s, "{{\"key\":\"m{key}\",\"value\":{value},\"timestamp\":{ts},\"step\":{step}}}");
    }
    s.push_str("],\"params\":[],\"tags\":[]}");
    Bytes::from(s)
}

pub async fn ingest(
    common: &Common,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    batch: usize,
) -> Result<Value> {
    let runs = Arc::new(create_runs(common, "ingest", concurrency).await?);
    let make_body: BodyFn = Arc::new(move |worker, k| ingest_body(&runs[worker], batch, k));
    let mut out =
        run_closed_loop(common, concurrency, warmup, duration, format!("{API}/runs/log-batch"), make_body).await?;
    let mut report = loop_report("ingest", &mut out, duration, concurrency);
    report["batch_size"] = json!(batch);
    report["points_per_s"] = json!((out.ok as f64 * batch as f64) / duration.as_secs_f64());
    Ok(report)
}

// ---------------------------------------------------------------------------
// 2. small requests

pub async fn small(common: &Common, concurrency: usize, warmup: Duration, duration: Duration) -> Result<Value> {
    let runs = Arc::new(create_runs(common, "small", concurrency).await?);
    let make_body: BodyFn = Arc::new(move |worker, k| {
        let body = json!({
            "run_id": runs[worker],
            "key": "loss",
            "value": unit(k, worker as u64),
            "timestamp": now_millis(),
            "step": k,
        });
        Bytes::from(body.to_string())
    });
    let mut out =
        run_closed_loop(common, concurrency, warmup, duration, format!("{API}/runs/log-metric"), make_body).await?;
    Ok(loop_report("small", &mut out, duration, concurrency))
}

// ---------------------------------------------------------------------------
// 3. search

const SEARCH_FILTER: &str = "metrics.m1 > 0.5 and params.p1 = 'a'";
const SEARCH_ORDER: &str = "metrics.m2 DESC";
const P1_VALUES: [&str; 4] = ["a", "b", "c", "d"];

fn seed_metric(i: usize, k: u64) -> f64 {
    unit(i as u64, k)
}

/// Whether seeded run `i` matches [`SEARCH_FILTER`].
fn seed_matches(i: usize) -> bool {
    P1_VALUES[i % 4] == "a" && seed_metric(i, 1) > 0.5
}

fn seed_body(run_id: &str, i: usize, ts: i64) -> Value {
    let metrics: Vec<Value> = (1..=5u64)
        .map(|k| json!({ "key": format!("m{k}"), "value": seed_metric(i, k), "timestamp": ts, "step": 0 }))
        .collect();
    let params = json!([
        { "key": "p1", "value": P1_VALUES[i % 4] },
        { "key": "p2", "value": (i % 10).to_string() },
        { "key": "p3", "value": format!("{:.5}", unit(i as u64, 103) / 100.0) },
        { "key": "p4", "value": if i.is_multiple_of(2) { "adam" } else { "sgd" } },
        { "key": "p5", "value": format!("v{}", i % 7) },
    ]);
    let tags = json!([
        { "key": "t1", "value": format!("team-{}", i % 3) },
        { "key": "t2", "value": "bench" },
        { "key": "t3", "value": i.to_string() },
    ]);
    json!({ "run_id": run_id, "metrics": metrics, "params": params, "tags": tags })
}

#[derive(Deserialize)]
struct SearchPage {
    #[serde(default)]
    runs: Vec<IgnoredAny>,
}

async fn timed_search(client: &mut Client, body: &Value) -> Result<(Duration, usize)> {
    let path = format!("{API}/runs/search");
    let bytes = Bytes::from(serde_json::to_vec(body)?);
    let t0 = Instant::now();
    let resp = client.post(&path, bytes).await?;
    let elapsed = t0.elapsed();
    if !resp.is_success() {
        bail!("POST {path}: {}", resp.describe());
    }
    let page: SearchPage = serde_json::from_slice(&resp.body).context("runs/search: invalid JSON")?;
    Ok((elapsed, page.runs.len()))
}

pub struct SearchOptions {
    pub runs: usize,
    pub seed_concurrency: usize,
    pub iterations: usize,
    pub page_iterations: usize,
    pub max_results: usize,
    pub page_size: usize,
}

pub async fn search(common: &Common, opts: &SearchOptions) -> Result<Value> {
    let start = Instant::now();
    let deadline = start + common.max_duration;
    let mut client = common.client();
    let exp = create_experiment(&mut client, "search").await?;

    // Seed: runs/create + one log-batch (5 metrics, 5 params, 3 tags) per run.
    let seed_exp = exp.clone();
    seed_in_parallel(common, opts.runs, opts.seed_concurrency, deadline, ("seeding", "runs"), move |mut c, i| {
        let exp = seed_exp.clone();
        Box::pin(async move {
            let run_id = create_run(&mut c, &exp, &format!("seed-{i}")).await?;
            let body = seed_body(&run_id, i, now_millis());
            post_ok(&mut c, &format!("{API}/runs/log-batch"), Bytes::from(body.to_string())).await?;
            Ok(c)
        })
    })
    .await?;
    let seed_time = start.elapsed();
    common.seeded().await?;

    let matching = (0..opts.runs).filter(|&i| seed_matches(i)).count();
    let expected_filtered = matching.min(opts.max_results);
    let expected_page = opts.runs.min(opts.page_size);

    let filtered_body = json!({
        "experiment_ids": [exp],
        "filter": SEARCH_FILTER,
        "order_by": [SEARCH_ORDER],
        "max_results": opts.max_results,
        "run_view_type": "ACTIVE_ONLY",
    });
    let page_body = json!({
        "experiment_ids": [exp],
        "max_results": opts.page_size,
        "run_view_type": "ACTIVE_ONLY",
    });

    // One untimed request of each kind first (caches, prepared statements).
    timed_search(&mut client, &filtered_body).await?;
    timed_search(&mut client, &page_body).await?;

    let mut filtered = Latencies::default();
    let mut filtered_rows = 0;
    for _ in 0..opts.iterations {
        if Instant::now() > deadline {
            break;
        }
        let (d, rows) = timed_search(&mut client, &filtered_body).await?;
        filtered.push(d);
        filtered_rows = rows;
    }
    let mut page = Latencies::default();
    let mut page_rows = 0;
    for _ in 0..opts.page_iterations {
        if Instant::now() > deadline {
            break;
        }
        let (d, rows) = timed_search(&mut client, &page_body).await?;
        page.push(d);
        page_rows = rows;
    }

    let valid = filtered_rows == expected_filtered && page_rows == expected_page;
    Ok(json!({
        "workload": "search",
        "ok": filtered.len() > 0 && page.len() > 0,
        "valid": valid,
        "runs": opts.runs,
        "seed_s": seed_time.as_secs_f64(),
        "seed_runs_per_s": opts.runs as f64 / seed_time.as_secs_f64(),
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "filtered_iterations": filtered.len(),
        "filtered_rows": filtered_rows,
        "filtered_rows_expected": expected_filtered,
        "filtered_p50_ms": filtered.percentile_ms(50.0),
        "filtered_p95_ms": filtered.percentile_ms(95.0),
        "filtered_mean_ms": filtered.mean_ms(),
        "page_size": opts.page_size,
        "page_iterations": page.len(),
        "page_rows": page_rows,
        "page_rows_expected": expected_page,
        "page_p50_ms": page.percentile_ms(50.0),
        "page_p95_ms": page.percentile_ms(95.0),
    }))
}

// ---------------------------------------------------------------------------
// 4. metric history

#[derive(Deserialize)]
struct HistoryPage {
    #[serde(default)]
    metrics: Vec<IgnoredAny>,
    #[serde(default)]
    next_page_token: Option<String>,
}

pub struct HistoryOptions {
    pub points: usize,
    pub batch_size: usize,
    pub seed_concurrency: usize,
    pub page_size: usize,
    pub iterations: usize,
}

const HISTORY_KEY: &str = "loss";

fn history_batch_body(run_id: &str, from: usize, to: usize, base_ts: i64) -> Bytes {
    let mut s = String::with_capacity(64 + (to - from) * 80);
    s.push_str("{\"run_id\":\"");
    s.push_str(run_id);
    s.push_str("\",\"metrics\":[");
    for step in from..to {
        if step > from {
            s.push(',');
        }
        let value = unit(step as u64, 42);
        let ts = base_ts + step as i64;
        let _ = write!(s, "{{\"key\":\"{HISTORY_KEY}\",\"value\":{value},\"timestamp\":{ts},\"step\":{step}}}");
    }
    s.push_str("],\"params\":[],\"tags\":[]}");
    Bytes::from(s)
}

/// Fetches every page of the history; returns (points, pages).
async fn fetch_history(
    client: &mut Client,
    run_id: &str,
    page_size: usize,
    max_pages: usize,
) -> Result<(usize, usize)> {
    let mut token: Option<String> = None;
    let mut points = 0;
    let mut pages = 0;
    loop {
        if pages >= max_pages {
            bail!("get-history: more than {max_pages} pages (paging does not terminate?)");
        }
        let mut path = format!(
            "{API}/metrics/get-history?run_id={}&metric_key={HISTORY_KEY}&max_results={page_size}",
            encode_query_value(run_id)
        );
        if let Some(t) = &token {
            path.push_str("&page_token=");
            path.push_str(&encode_query_value(t));
        }
        let resp = client.get(&path).await?;
        if !resp.is_success() {
            bail!("GET get-history: {}", resp.describe());
        }
        let page: HistoryPage = serde_json::from_slice(&resp.body).context("get-history: invalid JSON")?;
        pages += 1;
        points += page.metrics.len();
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok((points, pages)),
        }
    }
}

pub async fn history(common: &Common, opts: &HistoryOptions) -> Result<Value> {
    let start = Instant::now();
    let deadline = start + common.max_duration;
    let mut client = common.client();
    let exp = create_experiment(&mut client, "history").await?;
    let run_id = create_run(&mut client, &exp, "history").await?;

    let batch = opts.batch_size.max(1);
    let batches = opts.points.div_ceil(batch);
    let base_ts = now_millis() - opts.points as i64;
    let (points, history_run) = (opts.points, run_id.clone());
    let stage = ("logging the history", "batches");
    seed_in_parallel(common, batches, opts.seed_concurrency, deadline, stage, move |mut c, b| {
        let run_id = history_run.clone();
        Box::pin(async move {
            let from = b * batch;
            let to = (from + batch).min(points);
            post_ok(&mut c, &format!("{API}/runs/log-batch"), history_batch_body(&run_id, from, to, base_ts)).await?;
            Ok(c)
        })
    })
    .await?;
    let seed_time = start.elapsed();
    common.seeded().await?;

    let max_pages = opts.points / opts.page_size.max(1) + 10;
    let mut times = Latencies::default();
    let mut fetched = 0;
    let mut pages = 0;
    for _ in 0..opts.iterations.max(1) {
        if Instant::now() > deadline && times.len() > 0 {
            break;
        }
        let t0 = Instant::now();
        let (p, n) = fetch_history(&mut client, &run_id, opts.page_size, max_pages).await?;
        times.push(t0.elapsed());
        fetched = p;
        pages = n;
    }
    Ok(json!({
        "workload": "history",
        "ok": true,
        "valid": fetched == opts.points,
        "points": opts.points,
        "points_fetched": fetched,
        "pages": pages,
        "page_size": opts.page_size,
        "seed_s": seed_time.as_secs_f64(),
        "seed_points_per_s": opts.points as f64 / seed_time.as_secs_f64(),
        "iterations": times.len(),
        "total_p50_ms": times.percentile_ms(50.0),
        "total_min_ms": times.percentile_ms(0.0),
        "total_max_ms": times.percentile_ms(100.0),
        "points_per_s": times.percentile_ms(50.0).map(|m| fetched as f64 / (m / 1000.0)),
    }))
}
// ---------------------------------------------------------------------------
// 5. model registry searches

#[derive(Deserialize)]
struct RegistryPage {
    #[serde(default)]
    registered_models: Vec<IgnoredAny>,
    #[serde(default)]
    model_versions: Vec<IgnoredAny>,
}

pub struct RegistryOptions {
    pub models: usize,
    pub versions: usize,
    pub seed_concurrency: usize,
    pub iterations: usize,
}

/// Names that the timed LIKE filter selects: the digits "12" right after `-model-`.
fn registry_matches(i: usize) -> bool {
    i.to_string().starts_with("12")
}

/// Seeds `models` registered models with `versions` versions each (sources are `runs:/` URIs of one run),
/// then times `registered-models/search` and `model-versions/search` with a LIKE filter on the name.
pub async fn registry(common: &Common, opts: &RegistryOptions) -> Result<Value> {
    let start = Instant::now();
    let deadline = start + common.max_duration;
    let mut client = common.client();
    let exp = create_experiment(&mut client, "registry").await?;
    let run_id = create_run(&mut client, &exp, "registry-source").await?;
    let prefix = unique_name("registry");

    let (seed_prefix, source_run, versions) = (prefix.clone(), run_id.clone(), opts.versions);
    seed_in_parallel(common, opts.models, opts.seed_concurrency, deadline, ("seeding", "models"), move |mut c, i| {
        let (prefix, run_id) = (seed_prefix.clone(), source_run.clone());
        Box::pin(async move {
            let name = format!("{prefix}-model-{i}");
            let body = json!({ "name": name, "tags": [{ "key": "team", "value": format!("t{}", i % 10) }] });
            post_ok(&mut c, &format!("{API}/registered-models/create"), Bytes::from(body.to_string())).await?;
            for _ in 0..versions {
                let body = json!({ "name": name, "source": format!("runs:/{run_id}/model"), "run_id": run_id });
                post_ok(&mut c, &format!("{API}/model-versions/create"), Bytes::from(body.to_string())).await?;
            }
            Ok(c)
        })
    })
    .await?;
    let seed_time = start.elapsed();
    common.seeded().await?;

    let filter = format!("name LIKE '{prefix}-model-12%'");
    let matching = (0..opts.models).filter(|&i| registry_matches(i)).count();
    let models_path = format!("{API}/registered-models/search?filter={}&max_results=100", encode_query_value(&filter));
    let versions_path = format!("{API}/model-versions/search?filter={}&max_results=1000", encode_query_value(&filter));
    let expected = [matching.min(100), (matching * opts.versions).min(1000)];

    let mut results = Vec::new();
    for (path, expected_rows) in [(&models_path, expected[0]), (&versions_path, expected[1])] {
        let mut latencies = Latencies::default();
        let mut rows = 0;
        // One untimed request first.
        for i in 0..=opts.iterations {
            if Instant::now() > deadline {
                break;
            }
            let t0 = Instant::now();
            let resp = client.get(path).await?;
            let elapsed = t0.elapsed();
            if !resp.is_success() {
                bail!("GET {path}: {}", resp.describe());
            }
            let page: RegistryPage = serde_json::from_slice(&resp.body).context("registry search: invalid JSON")?;
            rows = page.registered_models.len() + page.model_versions.len();
            if i > 0 {
                latencies.push(elapsed);
            }
        }
        results.push((latencies, rows, expected_rows));
    }
    let [(mut models, model_rows, model_expected), (mut versions, version_rows, version_expected)]: [_; 2] =
        results.try_into().map_err(|_| anyhow!("internal: two searches expected"))?;
    Ok(json!({
        "workload": "registry",
        "ok": models.len() > 0 && versions.len() > 0,
        "valid": model_rows == model_expected && version_rows == version_expected,
        "models": opts.models,
        "versions_per_model": opts.versions,
        "seed_s": seed_time.as_secs_f64(),
        "filter": filter,
        "models_rows": model_rows,
        "models_rows_expected": model_expected,
        "models_p50_ms": models.percentile_ms(50.0),
        "models_p95_ms": models.percentile_ms(95.0),
        "versions_rows": version_rows,
        "versions_rows_expected": version_expected,
        "versions_p50_ms": versions.percentile_ms(50.0),
        "versions_p95_ms": versions.percentile_ms(95.0),
    }))
}

/// A quick liveness probe: GET `path`, report status and latency.
pub async fn ping(common: &Common, path: &str) -> Result<Value> {
    let mut client = common.client();
    let t0 = Instant::now();
    let resp = client.get(path).await?;
    Ok(json!({
        "workload": "ping",
        "ok": resp.is_success(),
        "status": resp.status.as_u16(),
        "latency_ms": ms(t0.elapsed()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_body_is_valid_json_with_unique_points() -> Result<()> {
        let a: Value = serde_json::from_slice(&ingest_body("r1", 1000, 0))?;
        let b: Value = serde_json::from_slice(&ingest_body("r1", 1000, 1))?;
        let pts = |v: &Value| -> Vec<(String, u64)> {
            v["metrics"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .map(|p| (p["key"].as_str().unwrap_or("").to_string(), p["step"].as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut all = pts(&a);
        all.extend(pts(&b));
        assert_eq!(all.len(), 2000);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 2000);
        Ok(())
    }

    #[test]
    fn history_body_is_valid_json() -> Result<()> {
        let v: Value = serde_json::from_slice(&history_batch_body("r", 1000, 1500, 0))?;
        assert_eq!(v["metrics"].as_array().map(Vec::len), Some(500));
        assert_eq!(v["metrics"][0]["step"], json!(1000));
        Ok(())
    }

    #[test]
    fn filter_selects_enough_runs() {
        let n = (0..2000).filter(|&i| seed_matches(i)).count();
        assert!(n > 100, "only {n} runs match");
        assert!(n < 500);
    }
}
