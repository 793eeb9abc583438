//! The audit log: storing events inside write transactions, sealing them into the hash chain,
//! searching it, verifying it.

use std::sync::PoisonError;

use ferroflow_auth::audit::{chain_hash, event_digest, AuditEvent, ChainBreak, ChainVerifier, SealedEvent};
use sqlx::Any;

use crate::context::RequestContext;
use crate::sql::Dialect;
use crate::{Error, Result, SqlStore};

/// The columns of an event's contents, in [`AuditEvent`] order.
const CONTENT_COLUMNS: &str = "time_ms, actor, auth_method, token_id, source, user_agent, action, method, path, \
                               resource_type, resource_id, status, error_code, details";
/// The columns of a stored event, in [`EventRow`] order.
const EVENT_COLUMNS: &str = "id, seq, time_ms, actor, auth_method, token_id, source, user_agent, action, method, \
                             path, resource_type, resource_id, status, error_code, details, digest, prev_hash, hash";
/// Events sealed per transaction, and stored per INSERT.
const SEAL_BATCH: i64 = 200;

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
    /// The page token: the sequence number of the previous page's last event (0 on the first page).
    /// Later events follow it, or, newest first, earlier ones.
    pub after_seq: i64,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// Page size.
    pub max_results: usize,
}

/// What `ferroflow audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every sealed event, from 1 to `last`, is intact and linked, and the `unsealed` events not
    /// yet sealed match their digests.
    Intact {
        /// The last sealed sequence number.
        last: i64,
        /// Events stored but not yet sealed (a running server seals them within a second).
        unsealed: u64,
    },
    /// The first fault.
    Broken(ChainBreak),
}

/// A row of `audit_events`, in [`EVENT_COLUMNS`] order (decoded from the row as a sequence); `seq`
/// and the hashes are `None` until it is sealed.
#[derive(serde::Deserialize)]
struct EventRow {
    id: i64,
    seq: Option<i64>,
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
    digest: String,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl EventRow {
    fn event(&self) -> AuditEvent {
        AuditEvent {
            time_ms: self.time_ms,
            actor: self.actor.clone(),
            auth_method: self.auth_method.clone(),
            token_id: self.token_id.clone(),
            source: self.source.clone(),
            user_agent: self.user_agent.clone(),
            action: self.action.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            status: i32::try_from(self.status).unwrap_or(i32::MAX),
            error_code: self.error_code.clone(),
            details: self.details.clone(),
        }
    }
}

/// A row read by seq (so sealed) as the chain's view of it.
fn sealed(row: EventRow) -> SealedEvent {
    SealedEvent {
        seq: row.seq.unwrap_or_default(),
        event: row.event(),
        digest: row.digest,
        prev_hash: row.prev_hash.unwrap_or_default(),
        hash: row.hash.unwrap_or_default(),
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

    /// Stores `event` inside `tx`. On PostgreSQL and MySQL it is stored unsealed and takes no lock,
    /// so writers do not wait for each other on the log; [`SqlStore::seal_audit_events`] gives it its
    /// place in the chain. SQLite runs one write transaction at a time anyway, so there the event is
    /// chained at once, and nothing is left for the sealer.
    pub(crate) async fn append_event(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        event: &AuditEvent,
    ) -> Result<()> {
        self.append_events(tx, std::slice::from_ref(event)).await
    }

    /// [`SqlStore::append_event`] for several events, in one statement per [`SEAL_BATCH`] of them.
    pub(crate) async fn append_events(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        events: &[AuditEvent],
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        match self.dialect {
            Dialect::Sqlite => self.append_chained(tx, events).await,
            Dialect::Postgres | Dialect::MySql => self.insert_events(tx, events, None).await.map(drop),
        }
    }

    /// SQLite: chains the events onto the head this process wrote last, which the insert trigger
    /// checks against the stored head (and moves on). When another process extended the chain in
    /// between, the trigger refuses the insert, and the events are chained again onto the stored
    /// head. SQLite's write transactions begin IMMEDIATE: a head read inside one cannot go stale
    /// before its commit, whichever process holds the file.
    async fn append_chained(&self, tx: &mut sqlx::Transaction<'static, Any>, events: &[AuditEvent]) -> Result<()> {
        let remembered = self.sqlite_head.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let head = match remembered {
            Some(head) => head,
            None => self.stored_head(tx).await?,
        };
        let outcome = match self.insert_events(tx, events, Some(head)).await {
            Err(err) if err.is_audit_head_moved() => {
                let head = self.stored_head(tx).await?;
                self.insert_events(tx, events, Some(head)).await
            }
            outcome => outcome,
        };
        // A transaction that rolls back after this leaves the remembered head ahead of the stored one,
        // which the trigger's check then catches, as above.
        *self.sqlite_head.lock().unwrap_or_else(PoisonError::into_inner) = outcome.as_ref().ok().cloned().flatten();
        outcome.map(drop)
    }

    async fn stored_head(&self, tx: &mut sqlx::Transaction<'static, Any>) -> Result<(i64, String)> {
        self.head(&mut **tx, &self.sql("SELECT seq, hash FROM audit_head WHERE id = 1")).await
    }

    /// Inserts the events, chained onto `head` when given (which their insert moves on: see the
    /// SQLite trigger `audit_events_extend_head`), and returns the new head.
    async fn insert_events(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        events: &[AuditEvent],
        mut head: Option<(i64, String)>,
    ) -> Result<Option<(i64, String)>> {
        let columns = if head.is_some() { ", digest, seq, prev_hash, hash" } else { ", digest" };
        for chunk in events.chunks(usize::try_from(SEAL_BATCH).unwrap_or(1)) {
            let mut insert = self.sql(&format!("INSERT INTO audit_events ({CONTENT_COLUMNS}{columns}) VALUES "));
            for (i, event) in chunk.iter().enumerate() {
                insert.push(if i == 0 { "(" } else { ", (" });
                insert
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
                    .push(", ");
                let digest = event_digest(self.audit_key(), event);
                if let Some((seq, prev_hash)) = &mut head {
                    *seq += 1;
                    let hash = chain_hash(self.audit_key(), *seq, prev_hash, &digest);
                    insert
                        .arg(digest)
                        .push(", ")
                        .arg(*seq)
                        .push(", ")
                        .arg(prev_hash.as_str())
                        .push(", ")
                        .arg(hash.as_str());
                    *prev_hash = hash;
                } else {
                    insert.arg(digest);
                }
                insert.push(")");
            }
            insert.query().execute(&mut **tx).await?;
        }
        Ok(head)
    }

    async fn move_head(&self, tx: &mut sqlx::Transaction<'static, Any>, seq: i64, hash: &str) -> Result<()> {
        let mut head = self.sql("UPDATE audit_head SET seq = ");
        head.arg(seq).push(", hash = ").arg(hash).push(" WHERE id = 1");
        head.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// Seals the stored events that have no sequence number yet, in the order they were stored:
    /// each gets the next seq and its chain hash, and the head moves on. The head row is locked
    /// for each batch, so replicas sealing at once extend one linear, gapless chain. Returns how
    /// many events were sealed.
    ///
    /// # Errors
    /// `Database`.
    pub async fn seal_audit_events(&self) -> Result<u64> {
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::MySql => " FOR UPDATE",
        };
        let mut sealed = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let (mut seq, mut prev_hash) =
                self.head(&mut *tx, &self.sql(&format!("SELECT seq, hash FROM audit_head WHERE id = 1{lock}"))).await?;
            // A plain read after the head's lock: it sees every event committed before the lock was
            // granted, including what another sealer just sealed.
            let mut pending = self.sql("SELECT id, digest FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT ");
            pending.arg(SEAL_BATCH);
            let rows: Vec<(i64, String)> = self.fetch_rows(&mut *tx, "id, digest", &pending).await?;
            if rows.is_empty() {
                tx.rollback().await?;
                return Ok(sealed);
            }
            let count = rows.len();
            let mut links = Vec::with_capacity(count);
            for (id, digest) in rows {
                seq += 1;
                let hash = chain_hash(self.audit_key(), seq, &prev_hash, &digest);
                links.push((id, seq, std::mem::replace(&mut prev_hash, hash.clone()), hash));
            }
            self.link_events(&mut tx, &links).await?;
            self.move_head(&mut tx, seq, &prev_hash).await?;
            tx.commit().await?;
            sealed += count as u64;
            if (count as i64) < SEAL_BATCH {
                return Ok(sealed);
            }
        }
    }

    /// Gives each `(id, seq, prev_hash, hash)` link's event its place in the chain, in one statement
    /// that joins the events with the links (a CASE per column would compare every row with every
    /// link).
    async fn link_events(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        links: &[(i64, i64, String, String)],
    ) -> Result<()> {
        let mut update = self.sql(match self.dialect {
            Dialect::MySql => "UPDATE audit_events AS e JOIN (",
            Dialect::Postgres | Dialect::Sqlite => {
                "UPDATE audit_events SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash FROM ("
            }
        });
        for (i, (id, seq, prev_hash, hash)) in links.iter().enumerate() {
            update.push(if i == 0 { "SELECT " } else { " UNION ALL SELECT " });
            update.arg(*id).push(" AS id, ").arg(*seq).push(" AS seq, ");
            update.arg(prev_hash.as_str()).push(" AS prev_hash, ").arg(hash.as_str()).push(" AS hash");
        }
        update.push(match self.dialect {
            Dialect::MySql => ") AS v ON e.id = v.id SET e.seq = v.seq, e.prev_hash = v.prev_hash, e.hash = v.hash",
            Dialect::Postgres | Dialect::Sqlite => ") AS v WHERE audit_events.id = v.id",
        });
        update.query().execute(&mut **tx).await?;
        Ok(())
    }

    /// The chain's head: last sequence number and hash. (Read through `fetch_rows`, which decodes
    /// MySQL's binary-collated text.)
    async fn head(
        &self,
        executor: impl sqlx::Executor<'_, Database = Any>,
        sql: &crate::sql::Sql,
    ) -> Result<(i64, String)> {
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
        if search.newest_first {
            sql.push("0");
            if search.after_seq > 0 {
                sql.push(" AND seq < ").arg(search.after_seq);
            }
        } else {
            sql.arg(search.after_seq);
        }
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
        sql.push(if search.newest_first { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " }).arg(limit);
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
        let last = match verifier.finish(seq, &hash) {
            Ok(last) => last,
            Err(fault) => return Ok(AuditVerdict::Broken(fault)),
        };
        // Events awaiting their seal: each must still match the digest it was stored with.
        let mut unsealed = 0;
        let mut after_id = 0;
        loop {
            let mut sql = self.sql(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq IS NULL AND id > "));
            sql.arg(after_id).push(" ORDER BY id LIMIT ").arg(PAGE);
            let rows: Vec<EventRow> = self.fetch_rows(&self.read, EVENT_COLUMNS, &sql).await?;
            let done = rows.len() < usize::try_from(PAGE).unwrap_or(usize::MAX);
            for row in rows {
                after_id = row.id;
                if event_digest(self.audit_key(), &row.event()) != row.digest {
                    return Ok(AuditVerdict::Broken(ChainBreak::AlteredUnsealed { id: row.id }));
                }
                unsealed += 1;
            }
            if done {
                break;
            }
        }
        Ok(AuditVerdict::Intact { last, unsealed })
    }
}
