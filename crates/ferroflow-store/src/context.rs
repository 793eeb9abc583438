//! Who a request acts for, and the audit event it will leave, visible to every store call made while
//! serving it.
//!
//! The server wraps each request in [`RequestContext::scope`]. A store write then commits the event in
//! its own transaction ([`SqlStore::commit`](crate::SqlStore)), so the change and its event are stored
//! together or not at all, and the creator of an experiment or registered model is given MANAGE on it
//! in the same transaction. Outside a scope (tests, `ferroflow` commands, auth switched off) writes
//! leave no event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ferroflow_auth::audit::AuditEvent;
use serde_json::{Map, Value};

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// One request's actor and audit event.
#[derive(Debug)]
pub struct RequestContext {
    /// The caller's user id, `None` when unauthenticated.
    pub user_id: Option<i64>,
    draft: Mutex<AuditEvent>,
    details: Mutex<Map<String, Value>>,
    written: AtomicBool,
}

impl RequestContext {
    /// A context whose event starts as `draft` (status and outcome are filled in when it is written).
    #[must_use]
    pub fn new(user_id: Option<i64>, draft: AuditEvent) -> Arc<Self> {
        Arc::new(Self { user_id, draft: Mutex::new(draft), details: Mutex::default(), written: AtomicBool::new(false) })
    }

    /// Runs `work` with `context` as the current request's.
    pub async fn scope<F: std::future::Future>(context: Arc<Self>, work: F) -> F::Output {
        CURRENT.scope(context, work).await
    }

    /// The current request's context, if any.
    #[must_use]
    pub fn current() -> Option<Arc<Self>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Names the resource the request acts on.
    pub fn set_resource(&self, resource_type: &str, resource_id: impl Into<String>) {
        let mut draft = self.draft.lock().unwrap_or_else(PoisonError::into_inner);
        draft.resource_type = Some(resource_type.to_owned());
        draft.resource_id = Some(resource_id.into());
    }

    /// Adds a detail to the event (counts, before and after values).
    pub fn note(&self, key: &str, value: impl Into<Value>) {
        self.details.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_owned(), value.into());
    }

    /// Records one field's value before and after the change (`None`: it had none, or has none
    /// now), as `before.<field>` and `after.<field>` in the event's details.
    pub fn note_change(&self, field: &str, before: Option<Value>, after: Option<Value>) {
        let mut details = self.details.lock().unwrap_or_else(PoisonError::into_inner);
        for (side, value) in [("before", before), ("after", after)] {
            let slot = details.entry(side).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(fields) = slot {
                fields.insert(field.to_owned(), value.unwrap_or(Value::Null));
            }
        }
    }

    /// The event as it stands, with `status` and `error_code` as the outcome.
    #[must_use]
    pub fn event(&self, status: i32, error_code: Option<&str>) -> AuditEvent {
        let mut event = self.draft.lock().unwrap_or_else(PoisonError::into_inner).clone();
        event.status = status;
        event.error_code = error_code.map(str::to_owned);
        let details = self.details.lock().unwrap_or_else(PoisonError::into_inner);
        if !details.is_empty() {
            event.details = Some(Value::Object(details.clone()).to_string());
        }
        event
    }

    /// Whether the request's event is already stored.
    #[must_use]
    pub fn is_written(&self) -> bool {
        self.written.load(Ordering::Acquire)
    }

    /// Records that the event is stored (called once its transaction committed).
    pub fn mark_written(&self) {
        self.written.store(true, Ordering::Release);
    }
}
