//! log-batch and the single-value writes built on it (log-metric, log-parameter, set-tag), with write
//! coalescing.
//!
//! Every such write becomes a job on a queue drained by one writer task. The task takes whatever jobs
//! are waiting (up to a bound) and applies them in one transaction (on the server engines several such
//! groups run at once, see [`concurrent_groups`]): inside it, it reads the state of
//! the runs and their stored params, sets aside the jobs that cannot succeed (unknown or deleted run,
//! a param whose value would change), writes the rest with a handful of multi-row statements and
//! commits. Only then is every job answered. If the group's transaction fails, every job is retried on
//! its own, checks included, so one job cannot fail or refuse another. Under load this turns hundreds of
//! tiny transactions into a few larger ones; alone, a job is simply its own group.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ferroflow_core::model::{KeyValue, LifecycleStage, Metric};
use ferroflow_core::tags;
use ferroflow_core::validation::{self, KeyKind};
use sqlx::Any;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::context::RequestContext;
use crate::runs::{run_not_found, validate_run_tags};
use crate::sql::Dialect;
use crate::{Error, LogBatch, Result, SqlStore};

/// Jobs waiting at most; senders wait when the queue is full.
const QUEUE_DEPTH: usize = 1024;
/// Largest group applied in one transaction, in jobs and in metric points.
const MAX_GROUP_JOBS: usize = 256;
const MAX_GROUP_POINTS: usize = 10_000;
/// Rows per multi-row INSERT (keeps every engine under its bound-parameter limit).
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

/// What a group's writes need to know of a run it writes to: the run was read at the start of the
/// group's transaction.
struct RunState {
    stage: LifecycleStage,
    experiment_id: i64,
}

struct Job {
    run_id: String,
    batch: LogBatch,
    /// The request the job came from: its audit event is written in the group's transaction.
    context: Option<Arc<RequestContext>>,
    reply: oneshot::Sender<Result<()>>,
}

/// The sending side of the writer queue.
#[derive(Clone)]
pub(crate) struct BatchWriter {
    queue: mpsc::Sender<Job>,
}

impl BatchWriter {
    /// Starts the writer task for `store`.
    pub(crate) fn spawn(store: SqlStore) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_writer(store, receiver));
        Self { queue }
    }
}

async fn run_writer(store: SqlStore, mut receiver: mpsc::Receiver<Job>) {
    let writers = Arc::new(Semaphore::new(concurrent_groups(&store)));
    while let Some(first) = receiver.recv().await {
        // Wait for a free writer first, so that the jobs arriving meanwhile join this group.
        let Ok(writer) = Arc::clone(&writers).acquire_owned().await else { return };
        let mut points = first.batch.metrics.len();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_JOBS && points < MAX_GROUP_POINTS {
            match receiver.try_recv() {
                Ok(job) => {
                    points += job.batch.metrics.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        // A task per group: should a group ever panic, its callers get an error and the writer goes on.
        let group_store = store.clone();
        let task = tokio::spawn(async move { group_store.apply_group(group).await });
        tokio::spawn(async move {
            if task.await.is_err() {
                tracing::error!("a write group panicked; its requests were answered with an internal error");
            }
            drop(writer);
        });
    }
}

/// How many groups are applied at once. SQLite has one writer. On the server engines one transaction
/// at a time would leave the database's other cores idle (each group runs in one backend), so several
/// run side by side, as they would from several replicas: metric rows are written in one order and
/// latest values converge whatever the order of commits, and a param raced by two groups is caught when
/// it is verified. They take at most half of the main pool, leaving the rest to other requests.
fn concurrent_groups(store: &SqlStore) -> usize {
    match store.dialect {
        Dialect::Sqlite => 1,
        Dialect::Postgres | Dialect::MySql => (store.write.options().get_max_connections() as usize / 2).max(1),
    }
}

impl SqlStore {
    /// Logs metrics, params and tags in one transaction: all of it lands or none of it.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a batch over MLflow's limits, a bad key, a deleted run or a param
    /// whose value differs from the one already logged; `NotFound` for an unknown run.
    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %run_id, metrics = batch.metrics.len()))]
    pub async fn log_batch(&self, run_id: &str, batch: LogBatch) -> Result<()> {
        let batch = validate_batch(batch)?;
        let (reply, answer) = oneshot::channel();
        let context = RequestContext::current();
        if let Some(context) = &context {
            context.set_resource("run", run_id);
            context.note("metrics", batch.metrics.len());
            context.note("params", batch.params.len());
            context.note("tags", batch.tags.len());
        }
        let job = Job { run_id: run_id.to_owned(), batch, context, reply };
        let closed = || Error::Database(sqlx::Error::PoolClosed);
        self.batch_writer()?.queue.send(job).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Sets a tag on an active run. `mlflow.runName` renames the run as well.
    ///
    /// # Errors
    /// `NotFound`, `InvalidParameterValue` for a bad key or a deleted run.
    pub async fn set_run_tag(&self, run_id: &str, tag: KeyValue) -> Result<()> {
        self.log_batch(run_id, LogBatch { tags: vec![tag], ..LogBatch::default() }).await
    }

    async fn apply_group(&self, group: Vec<Job>) {
        if group.len() == 1 {
            if let Some(job) = group.into_iter().next() {
                let outcome = self.write_one(&job).await;
                let _ = job.reply.send(outcome);
            }
            return;
        }
        match self.write_group(&group).await {
            Ok(verdicts) => {
                for (job, verdict) in group.into_iter().zip(verdicts) {
                    let _ = job.reply.send(verdict);
                }
            }
            Err(err) => {
                tracing::warn!(error = ?err, jobs = group.len(), "write group failed; retrying its jobs one by one");
                for job in group {
                    let outcome = self.write_one(&job).await;
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }

    async fn write_one(&self, job: &Job) -> Result<()> {
        let verdicts = self.write_group(std::slice::from_ref(job)).await?;
        verdicts.into_iter().next().unwrap_or(Ok(()))
    }

    /// Applies the jobs that can succeed in one transaction and returns each job's verdict, in order.
    /// The verdicts hold only once the transaction has committed, which is when this returns `Ok`.
    async fn write_group(&self, jobs: &[Job]) -> Result<Vec<Result<()>>> {
        let mut tx = self.begin_write().await?;
        let run_ids: Vec<String> = jobs.iter().map(|j| j.run_id.clone()).collect::<HashSet<_>>().into_iter().collect();
        let states = self.run_states(&mut tx, &run_ids).await?;
        let mut params = self.stored_params(&mut tx, &runs_with_params(jobs.iter())).await?;
        let mut verdicts = Vec::with_capacity(jobs.len());
        let mut accepted: Vec<&Job> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let verdict = match states.get(&job.run_id) {
                None => Err(run_not_found(&job.run_id)),
                Some(RunState { stage: LifecycleStage::Deleted, .. }) => Err(Error::InvalidParameterValue(format!(
                    "The run {} must be in the 'active' state. Current state is deleted.",
                    job.run_id
                ))),
                Some(RunState { stage: LifecycleStage::Active, .. }) => check_params(job, &mut params),
            };
            if verdict.is_ok() {
                accepted.push(job);
            }
            verdicts.push(verdict);
        }
        self.insert_params(&mut tx, &accepted, &states).await?;
        self.verify_params(&mut tx, &accepted).await?;
        self.write_tags(&mut tx, &accepted, &states).await?;
        self.insert_metrics(&mut tx, &accepted, &states).await?;
        let contexts: Vec<&Arc<RequestContext>> =
            accepted.iter().filter_map(|job| job.context.as_ref()).filter(|c| !c.is_written()).collect();
        let events: Vec<_> = contexts.iter().map(|c| c.event(200, None)).collect();
        self.append_events(&mut tx, &events).await?;
        tx.commit().await?;
        for context in contexts {
            context.mark_written();
        }
        Ok(verdicts)
    }

    async fn run_states(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        run_ids: &[String],
    ) -> Result<HashMap<String, RunState>> {
        let mut sql = self.sql("SELECT run_id, lifecycle_stage, experiment_id FROM runs WHERE ");
        sql.in_list("run_id", run_ids);
        let rows: Vec<(String, String, i64)> =
            self.fetch_rows(&mut **tx, "run_id, lifecycle_stage, experiment_id", &sql).await?;
        Ok(rows
            .into_iter()
            .map(|(id, stage, experiment_id)| {
                (id, RunState { stage: LifecycleStage::from_name(&stage), experiment_id })
            })
            .collect())
    }

    async fn stored_params(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        run_ids: &[String],
    ) -> Result<HashMap<(String, String), String>> {
        if run_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = self.sql("SELECT run_id, key, value FROM params WHERE ");
        sql.in_list("run_id", run_ids);
        let rows: Vec<(String, String, String)> = self.fetch_rows(&mut **tx, "run_id, key, value", &sql).await?;
        Ok(rows.into_iter().map(|(run, key, value)| ((run, key), value)).collect())
    }

    /// Another server (a replica on the same database) may have logged one of these params with another
    /// value between our read and our insert, which then kept its value. Read the params back: the
    /// transaction fails if any differs, and the job is told so (retried alone, its check sees the value).
    async fn verify_params(&self, tx: &mut sqlx::Transaction<'_, Any>, jobs: &[&Job]) -> Result<()> {
        let stored = self.stored_params(tx, &runs_with_params(jobs.iter().copied())).await?;
        for job in jobs {
            for param in &job.batch.params {
                if let Some(value) = stored.get(&(job.run_id.clone(), param.key.clone())).filter(|v| **v != param.value)
                {
                    return Err(Error::InvalidParameterValue(format!(
                        "Changing param values is not allowed. Param with key='{}' was already logged with \
                         value='{value}' for run ID='{}'. Attempted logging new value '{}'.",
                        param.key, job.run_id, param.value
                    )));
                }
            }
        }
        Ok(())
    }

    async fn insert_params(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        jobs: &[&Job],
        states: &HashMap<String, RunState>,
    ) -> Result<()> {
        let mut rows: Vec<(&str, &KeyValue)> =
            jobs.iter().flat_map(|j| j.batch.params.iter().map(move |p| (j.run_id.as_str(), p))).collect();
        rows.sort_by(|a, b| (a.0, a.1.key.as_str()).cmp(&(b.0, b.1.key.as_str())));
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = self.sql("INSERT INTO params (run_id, experiment_id, key, value) VALUES ");
            for (i, (run_id, param)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.arg(*run_id).push(", ").arg(states[*run_id].experiment_id).push(", ").arg(param.key.as_str());
                sql.push(", ").arg(param.value.as_str()).push(")");
            }
            // Same-value repeats are allowed; different values were refused in `write_group`.
            sql.on_conflict_ignore("(run_id, key)");
            sql.query().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn write_tags(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        jobs: &[&Job],
        states: &HashMap<String, RunState>,
    ) -> Result<()> {
        // Later jobs win, as they would one after the other.
        let mut latest: HashMap<(&str, &str), &KeyValue> = HashMap::new();
        for job in jobs {
            for tag in &job.batch.tags {
                latest.insert((job.run_id.as_str(), tag.key.as_str()), tag);
            }
        }
        let mut rows: Vec<(&str, i64, &KeyValue)> =
            latest.iter().map(|((run_id, _), tag)| (*run_id, states[*run_id].experiment_id, *tag)).collect();
        rows.sort_by(|a, b| (a.0, a.2.key.as_str()).cmp(&(b.0, b.2.key.as_str())));
        self.upsert_tag_rows(tx, &rows).await?;
        for ((run_id, key), tag) in &latest {
            if *key == tags::RUN_NAME {
                let mut rename = self.sql("UPDATE runs SET name = ");
                rename.arg(tag.value.as_str()).push(" WHERE run_id = ").arg(*run_id);
                rename.query().execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    async fn insert_metrics(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        jobs: &[&Job],
        states: &HashMap<String, RunState>,
    ) -> Result<()> {
        let mut points: Vec<(&str, &Metric)> =
            jobs.iter().flat_map(|j| j.batch.metrics.iter().map(move |m| (j.run_id.as_str(), m))).collect();
        // One order for every writer, so concurrent transactions lock index entries in the same order.
        points.sort_by(|a, b| {
            (a.0, a.1.key.as_str(), a.1.step, a.1.timestamp).cmp(&(b.0, b.1.key.as_str(), b.1.step, b.1.timestamp))
        });
        for chunk in points.chunks(ROWS_PER_STATEMENT) {
            let mut sql = self.sql(
                "INSERT INTO metrics (run_id, key, timestamp, step, value, is_nan, dataset_name, dataset_digest, model_id) VALUES ",
            );
            for (i, (run_id, m)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                metric_values(&mut sql, run_id, m, true);
            }
            // An exact repeat of a logged point is accepted and kept once.
            sql.on_conflict_ignore("");
            sql.query().execute(&mut **tx).await?;
        }
        let model_points: Vec<&(&str, &Metric)> = points.iter().filter(|(_, m)| m.model_id.is_some()).collect();
        for chunk in model_points.chunks(ROWS_PER_STATEMENT) {
            let mut sql = self.sql(
                "INSERT INTO logged_model_metrics (model_id, key, timestamp, step, value, is_nan, run_id, dataset_name, \
                 dataset_digest) VALUES ",
            );
            for (i, (run_id, m)) in chunk.iter().enumerate() {
                let (value, is_nan) = stored_value(self.dialect, m.value);
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.arg(m.model_id.clone()).push(", ").arg(m.key.as_str()).push(", ").arg(m.timestamp);
                sql.push(", ").arg(m.step).push(", ").arg(value).push(", ").arg(is_nan).push(", ").arg(*run_id);
                sql.push(", ").arg(m.dataset_name.clone().unwrap_or_default());
                sql.push(", ").arg(m.dataset_digest.clone().unwrap_or_default()).push(")");
            }
            sql.on_conflict_ignore("");
            sql.query().execute(&mut **tx).await?;
        }
        let latest = latest_per_key(&points);
        for chunk in latest.chunks(ROWS_PER_STATEMENT) {
            let mut sql = self.sql(
                "INSERT INTO latest_metrics (experiment_id, run_id, key, value, is_nan, timestamp, step, dataset_name, \
                 dataset_digest, model_id) VALUES ",
            );
            for (i, (run_id, m)) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" }).arg(states[*run_id].experiment_id).push(", ");
                metric_values(&mut sql, run_id, m, false);
            }
            sql.push(&latest_metric_upsert(self.dialect));
            sql.query().execute(&mut **tx).await?;
        }
        Ok(())
    }

    fn batch_writer(&self) -> Result<&BatchWriter> {
        self.batch_writer.as_ref().ok_or(Error::Database(sqlx::Error::PoolClosed))
    }
}

/// The conflict clause of the `latest_metrics` insert: a stored row is replaced only by a later point
/// (higher step, then timestamp, then value), so concurrent writers converge on the same latest value.
fn latest_metric_upsert(dialect: Dialect) -> String {
    let columns = ["model_id", "dataset_digest", "dataset_name", "is_nan", "value", "timestamp", "step"];
    match dialect {
        Dialect::Sqlite | Dialect::Postgres => {
            let sets: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
            format!(
                " ON CONFLICT (run_id, key) DO UPDATE SET {} WHERE excluded.step > latest_metrics.step OR \
                 (excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp OR \
                 (excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)))",
                sets.join(", ")
            )
        }
        // MySQL has no conditional upsert: every column takes the new value only if the point is later.
        // Assignments run left to right and see earlier ones, so the columns the condition reads
        // (value, timestamp, step) come last, in that order: where an earlier one changed, the rest are
        // either still decided by a strictly greater step or timestamp, or already equal.
        Dialect::MySql => {
            let newer = "(VALUES(step) > step OR (VALUES(step) = step AND (VALUES(timestamp) > timestamp OR \
                 (VALUES(timestamp) = timestamp AND VALUES(value) > value))))";
            let sets: Vec<String> = columns.iter().map(|c| format!("{c} = IF({newer}, VALUES({c}), {c})")).collect();
            format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        }
    }
}

/// Appends one metric's values; `history` orders the columns as the `metrics` table insert lists them,
/// otherwise as `latest_metrics`.
fn metric_values(sql: &mut crate::sql::Sql, run_id: &str, m: &Metric, history: bool) {
    let (value, is_nan) = stored_value(sql.dialect(), m.value);
    sql.arg(run_id).push(", ").arg(m.key.as_str()).push(", ");
    if history {
        sql.arg(m.timestamp).push(", ").arg(m.step).push(", ").arg(value).push(", ").arg(is_nan);
    } else {
        sql.arg(value).push(", ").arg(is_nan).push(", ").arg(m.timestamp).push(", ").arg(m.step);
    }
    sql.push(", ").arg(m.dataset_name.clone()).push(", ").arg(m.dataset_digest.clone());
    sql.push(", ").arg(m.model_id.clone()).push(")");
}

/// The distinct runs that `jobs` log params to.
fn runs_with_params<'a>(jobs: impl Iterator<Item = &'a Job>) -> Vec<String> {
    let runs: HashSet<&str> = jobs.filter(|j| !j.batch.params.is_empty()).map(|j| j.run_id.as_str()).collect();
    runs.into_iter().map(str::to_owned).collect()
}

/// Refuses a job whose params differ from stored ones (or from earlier jobs in the group), and records
/// its params so later jobs are checked against them.
fn check_params(job: &Job, stored: &mut HashMap<(String, String), String>) -> Result<()> {
    for param in &job.batch.params {
        if let Some(old) = stored.get(&(job.run_id.clone(), param.key.clone())).filter(|old| **old != param.value) {
            return Err(Error::InvalidParameterValue(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with value='{old}' \
                 for run ID='{}'. Attempted logging new value '{}'.",
                param.key, job.run_id, param.value
            )));
        }
    }
    for param in &job.batch.params {
        stored.insert((job.run_id.clone(), param.key.clone()), param.value.clone());
    }
    Ok(())
}

/// NaN cannot be stored by every engine (SQLite reads it back as NULL): keep 0 plus a flag. MySQL's
/// DOUBLE cannot hold infinities either; there they become ±f64::MAX, as MLflow stores them everywhere.
pub(crate) fn stored_value(dialect: Dialect, value: f64) -> (f64, i64) {
    if value.is_nan() {
        (0.0, 1)
    } else if dialect == Dialect::MySql && value.is_infinite() {
        (f64::MAX.copysign(value), 0)
    } else {
        (value, 0)
    }
}

/// The point of each (run, key) that would become its latest: highest step, then timestamp, then value.
fn latest_per_key<'a>(points: &[(&'a str, &'a Metric)]) -> Vec<(&'a str, &'a Metric)> {
    let rank = |m: &Metric| (m.step, m.timestamp, stored_value(Dialect::Sqlite, m.value).0);
    let mut best: HashMap<(&str, &str), &Metric> = HashMap::new();
    for (run_id, m) in points {
        let slot = best.entry((run_id, m.key.as_str())).or_insert(m);
        if rank(slot).partial_cmp(&rank(m)) == Some(std::cmp::Ordering::Less) {
            *slot = m;
        }
    }
    let mut latest: Vec<(&str, &Metric)> = best.into_iter().map(|((run_id, _), m)| (run_id, m)).collect();
    // One order for every writer, so concurrent transactions lock rows in the same order.
    latest.sort_by(|a, b| (a.0, a.1.key.as_str()).cmp(&(b.0, b.1.key.as_str())));
    latest
}

fn validate_batch(batch: LogBatch) -> Result<LogBatch> {
    let (m, p, t) = (batch.metrics.len(), batch.params.len(), batch.tags.len());
    let limit = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(Error::InvalidParameterValue(format!(
                "A batch logging request can contain at most {max} {what}. Got {n} {what}. Please split up {what} \
                 across multiple requests and try again."
            )))
        } else {
            Ok(())
        }
    };
    limit("metrics", m, validation::MAX_BATCH_METRICS)?;
    limit("params", p, validation::MAX_BATCH_PARAMS)?;
    limit("tags", t, validation::MAX_BATCH_TAGS)?;
    if m + p + t > validation::MAX_BATCH_ENTITIES {
        return Err(Error::InvalidParameterValue(format!(
            "A batch logging request can contain at most {} metrics, params and tags in total. Got {}.",
            validation::MAX_BATCH_ENTITIES,
            m + p + t
        )));
    }
    for metric in &batch.metrics {
        validation::validate_key(KeyKind::Metric, &metric.key)?;
        validation::validate_timestamp("timestamp", metric.timestamp)?;
    }
    let mut params: Vec<KeyValue> = Vec::with_capacity(p);
    for param in batch.params {
        validation::validate_key(KeyKind::Param, &param.key)?;
        let value = validation::truncate(&param.value, validation::MAX_PARAM_VALUE_LENGTH).to_owned();
        if params.iter().any(|q| q.key == param.key) {
            return Err(Error::InvalidParameterValue(format!(
                "Duplicate parameter keys have been submitted: ['{}']. Please ensure the request contains only \
                 one param value per param key.",
                param.key
            )));
        }
        params.push(KeyValue { key: param.key, value });
    }
    Ok(LogBatch { metrics: batch.metrics, params, tags: validate_run_tags(batch.tags)? })
}
