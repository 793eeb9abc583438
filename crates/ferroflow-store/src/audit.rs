//! The audit log: appending to its hash chain inside a write transaction, searching it, verifying it.

use ferroflow_auth::audit::{chain_hash, AuditEvent, ChainBreak, ChainVerifier, SealedEvent};
use sqlx::Any;

use crate::context::RequestContext;
use crate::sql::Dialect;
use crate::{Error, Result, SqlStore};

const EVENT_COLUMNS: &str = "seq, time_ms, actor, auth_method, token_id, source, user_agent, action, method, path, \
                             resource_type, resource_id, status, error_code, details, prev_hash, hash";

/// Filters of an audit search; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    /// Username of the actor.
    pub actor: Option<String>,
    /// Operation name (`CreateRun`, `Login`, ...).
    pub action: Option<String>,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id or name.
    pub resource_id: Option<String>,
    /// Earliest time, ms since the epoch (inclusive).
    pub since_ms: Option<i64>,
    /// Latest time, ms since the epoch (inclusive).
    pub until_ms: Option<i64>,
    /// `success` (status below 400), `failure` (400 and above), or one HTTP status.
    pub outcome: Option<String>,
    /// Events after this sequence number (the page token).
    pub after_seq: i64,
    /// Page size.
    pub max_results: usize,
}

/// What `ferroflow audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every event from 1 to this one is intact and linked.
    Intact(i64),
    /// The first fault.
    Broken(ChainBreak),
}

/// A row of `audit_events`, in [`EVENT_COLUMNS`] order (decoded from the row as a sequence).
#[derive(serde::Deserialize)]
struct EventRow {
    seq: i64,
    time_ms: i64,
    actor: Option<String>,
    auth_method: Option<String>,
    token_id: Option<String>,
    source: Option<String>,
    user_agent: Option<String>,
    action: String,
    method: String,
    path: String,
    resource_type: Option<String>,
    resource_id: Option<String>,
    status: i64,
    error_code: Option<String>,
    details: Option<String>,
    prev_hash: String,
    hash: String,
}

fn sealed(row: EventRow) -> SealedEvent {
    SealedEvent {
        seq: row.seq,
        event: AuditEvent {
            time_ms: row.time_ms,
            actor: row.actor,
            auth_method: row.auth_method,
            token_id: row.token_id,
            source: row.source,
            user_agent: row.user_agent,
            action: row.action,
            method: row.method,
            path: row.path,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            status: i32::try_from(row.status).unwrap_or(i32::MAX),
            error_code: row.error_code,
            details: row.details,
        },
        prev_hash: row.prev_hash,
        hash: row.hash,
    }
}

impl SqlStore {
    /// Sets the key of the audit chain's HMAC. Without one the chain uses plain SHA-256, which shows
    /// accidental damage and edits by anyone who does not recompute the hashes after them.
    /// Set it once, before the first write; later calls are ignored.
    pub fn set_audit_key(&self, key: Vec<u8>) {
        let _ = self.audit_key.set(key);
    }

    fn audit_key(&self) -> Option<&[u8]> {
        self.audit_key.get().map(Vec::as_slice)
    }

    /// Commits a write transaction, first appending the current request's audit event to it (once per
    /// request), so the change is stored with its event or not at all.
    pub(crate) async fn commit(&self, mut tx: sqlx::Transaction<'static, Any>) -> Result<()> {
        let context = RequestContext::current().filter(|c| !c.is_written());
        if let Some(context) = &context {
            self.append_event(&mut tx, &context.event(200, None)).await?;
        }
        tx.commit().await?;
        if let Some(context) = context {
            context.mark_written();
        }
        Ok(())
    }

    /// Runs one write statement in its own transaction (with the request's audit event) and returns
    /// the number of rows it changed.
    pub(crate) async fn execute_write(&self, sql: &crate::sql::Sql) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let changed = sql.query().execute(&mut *tx).await?.rows_affected();
        if changed > 0 {
            self.commit(tx).await?;
        }
        Ok(changed)
    }

    /// Appends `event` to the chain inside `tx`. The chain's head row is locked until `tx` ends, so
    /// concurrent writers (other replicas too) append one after the other; it is taken last, just
    /// before the commit, so the lock is held briefly and never waits for another of the
    /// transaction's locks.
    pub(crate) async fn append_event(&self, tx: &mut sqlx::Transaction<'static, Any>, event: &AuditEvent) -> Result<()> {
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::MySql => " FOR UPDATE",
        };
        let head = self.sql(&format!("SELECT seq, hash FROM audit_head WHERE id = 1{lock}"));
        let (last, prev_hash) = self.head(&mut **tx, &head).await?;
        let seq = last + 1;
        let hash = chain_hash(self.audit_key(), seq, &prev_hash, event);
        let mut insert = self.sql(&format!("INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES ("));
        insert
            .arg(seq)
            .push(", ")
            .arg(event.time_ms)
            .push(", ")
            .arg(event.actor.clone())
            .push(", ")
            .arg(event.auth_method.clone())
            .push(", ")
            .arg(event.token_id.clone())
            .push(", ")
            .arg(event.source.clone())
            .push(", ")
            .arg(event.user_agent.clone())
            .push(", ")
            .arg(event.action.as_str())
            .push(", ")
            .arg(event.method.as_str())
            .push(", ")
            .arg(event.path.as_str())
            .push(", ")
            .arg(event.resource_type.clone())
            .push(", ")
            .arg(event.resource_id.clone())
            .push(", ")
            .arg(i64::from(event.status))
            .push(", ")
            .arg(event.error_code.clone())
            .push(", ")
            .arg(event.details.clone())
            .push(", ")
            .arg(prev_hash.as_str())
            .push(", ")
            .arg(hash.as_str())
            .push(")");
        insert.query().execute(&mut **tx).await?;
        let mut update = self.sql("UPDATE audit_head SET seq = ");
        update.arg(seq).push(", hash = ").arg(hash.as_str()).push(" WHERE id = 1");
        update.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// The chain's head: last sequence number and hash. (Read through `fetch_rows`, which decodes
    /// MySQL's binary-collated text.)
    async fn head(&self, executor: impl sqlx::Executor<'_, Database = Any>, sql: &crate::sql::Sql) -> Result<(i64, String)> {
        let rows: Vec<(i64, String)> = self.fetch_rows(executor, "seq, hash", sql).await?;
        rows.into_iter().next().ok_or(Error::Database(sqlx::Error::RowNotFound))
    }

    /// Stores an event on its own (a denied request, a failed login, a change outside the database).
    ///
    /// # Errors
    /// `Database` when it cannot be stored.
    pub async fn record_event(&self, event: &AuditEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.append_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events matching `search`, in sequence order, and whether more follow.
    ///
    /// # Errors
    /// `InvalidParameterValue` for an unknown outcome, `Database`.
    pub async fn search_events(&self, search: &AuditSearch) -> Result<(Vec<SealedEvent>, bool)> {
        let mut sql = self.sql(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > "));
        sql.arg(search.after_seq);
        for (column, value) in [
            ("actor", &search.actor),
            ("action", &search.action),
            ("resource_type", &search.resource_type),
            ("resource_id", &search.resource_id),
        ] {
            if let Some(value) = value {
                sql.push(&format!(" AND {column} = ")).arg(value.as_str());
            }
        }
        if let Some(since) = search.since_ms {
            sql.push(" AND time_ms >= ").arg(since);
        }
        if let Some(until) = search.until_ms {
            sql.push(" AND time_ms <= ").arg(until);
        }
        match search.outcome.as_deref() {
            None => {}
            Some("success") => {
                sql.push(" AND status < 400");
            }
            Some("failure") => {
                sql.push(" AND status >= 400");
            }
            Some(status) => {
                let status: i64 = status.parse().map_err(|_| {
                    Error::InvalidParameterValue(format!(
                        "Invalid outcome '{status}': use 'success', 'failure' or an HTTP status code"
                    ))
                })?;
                sql.push(" AND status = ").arg(status);
            }
        }
        let limit = i64::try_from(search.max_results + 1).unwrap_or(i64::MAX);
        sql.push(" ORDER BY seq LIMIT ").arg(limit);
        let rows: Vec<EventRow> = self.fetch_rows(&self.read, EVENT_COLUMNS, &sql).await?;
        let mut events: Vec<SealedEvent> = rows.into_iter().map(sealed).collect();
        let more = events.len() > search.max_results;
        events.truncate(search.max_results);
        Ok((events, more))
    }

    /// Walks the whole chain in pages and checks every event and the recorded head.
    ///
    /// # Errors
    /// `Database`.
    pub async fn verify_audit_log(&self) -> Result<AuditVerdict> {
        const PAGE: i64 = 5000;
        let mut verifier = ChainVerifier::new(self.audit_key());
        let mut after = 0;
        loop {
            let mut sql = self.sql(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > "));
            sql.arg(after).push(" ORDER BY seq LIMIT ").arg(PAGE);
            let rows: Vec<EventRow> = self.fetch_rows(&self.read, EVENT_COLUMNS, &sql).await?;
            let done = rows.len() < usize::try_from(PAGE).unwrap_or(usize::MAX);
            for row in rows {
                let event = sealed(row);
                after = event.seq;
                if let Err(fault) = verifier.check(&event) {
                    return Ok(AuditVerdict::Broken(fault));
                }
            }
            if done {
                break;
            }
        }
        let (seq, hash) = self.head(&self.read, &self.sql("SELECT seq, hash FROM audit_head WHERE id = 1")).await?;
        Ok(match verifier.finish(seq, &hash) {
            Ok(last) => AuditVerdict::Intact(last),
            Err(fault) => AuditVerdict::Broken(fault),
        })
    }
}
