//! The audit log's records and their hash chain.
//!
//! An event is stored with `digest = H(event domain ‖ canonical JSON of the event)` in the
//! transaction of the change it records. Sealing, shortly after and in the order the events were
//! stored, gives it the next gapless sequence number and `hash = H(chain domain ‖ canonical JSON of
//! (seq, prev_hash, digest))`, where `prev_hash` is the hash of the event before it (or
//! [`GENESIS`]). Writers thus never wait for each other to extend the chain; only sealing is
//! serialized. `H` is SHA-256, or HMAC-SHA256 under a key kept outside the database: without the
//! key, someone who can write to the database can recompute every digest and hash after an edit;
//! with it, they cannot, and cannot forge an event awaiting its seal either.

use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::token::hex;

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Separate these hashes from each other and from any other use of SHA-256 over JSON.
const EVENT_DOMAIN: &[u8] = b"ferroflow audit event v2\n";
const CHAIN_DOMAIN: &[u8] = b"ferroflow audit chain v2\n";

/// One audit event, as stored (without its sequence number and hashes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// Username of the caller; `None` when unauthenticated.
    pub actor: Option<String>,
    /// `basic`, `token`, or `None`.
    pub auth_method: Option<String>,
    /// Id of the API token used, if any.
    pub token_id: Option<String>,
    /// The caller's address.
    pub source: Option<String>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<String>,
    /// What was done: MLflow's operation name (`CreateRun`) or ferroflow's (`Login`, `CreateToken`).
    pub action: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Type of the resource acted on (`experiment`, `registered_model`, `user`, ...).
    pub resource_type: Option<String>,
    /// Its id or name.
    pub resource_id: Option<String>,
    /// HTTP status of the answer.
    pub status: i32,
    /// MLflow error code of a failure.
    pub error_code: Option<String>,
    /// JSON object with what else matters: counts, before and after values, the missing permission.
    pub details: Option<String>,
}

fn keyed_sha256(key: Option<&[u8]>, domain: &[u8], canonical: &[u8]) -> String {
    match key {
        None => {
            let mut hasher = Sha256::new();
            hasher.update(domain);
            hasher.update(canonical);
            hex(&hasher.finalize())
        }
        Some(key) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
            mac.update(domain);
            mac.update(canonical);
            hex(&mac.finalize().into_bytes())
        }
    }
}

/// The digest of an event's contents, stored with it when it is written.
#[must_use]
pub fn event_digest(key: Option<&[u8]>, event: &AuditEvent) -> String {
    let canonical = serde_json::to_vec(event).expect("an audit event serializes");
    keyed_sha256(key, EVENT_DOMAIN, &canonical)
}

/// The hash that seals the event with `digest` at `seq`, following `prev_hash`.
#[must_use]
pub fn chain_hash(key: Option<&[u8]>, seq: i64, prev_hash: &str, digest: &str) -> String {
    let canonical = serde_json::to_vec(&(seq, prev_hash, digest)).expect("a chain link serializes");
    keyed_sha256(key, CHAIN_DOMAIN, &canonical)
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEvent {
    /// Gapless sequence number, from 1.
    pub seq: i64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Digest of the event's contents.
    pub digest: String,
    /// Hash of the event before.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The first thing wrong with a stored chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A sequence number is missing (a deleted row) or repeated out of order.
    #[error("audit event {expected} is missing (found {found} next)")]
    Missing {
        /// The sequence number that should have come.
        expected: i64,
        /// The one found instead.
        found: i64,
    },
    /// An event does not name the hash of the event before it (a row inserted or replaced).
    #[error("audit event {seq} does not follow the event before it")]
    Unlinked {
        /// Where.
        seq: i64,
    },
    /// An event's stored contents do not give its stored hash (a row edited).
    #[error("audit event {seq} was altered: its contents do not match its hash")]
    Altered {
        /// Where.
        seq: i64,
    },
    /// Events at the end of the log are gone: the chain's recorded head is further on.
    #[error("audit events after {last} are missing: the log's head records event {head}")]
    Truncated {
        /// Last event found.
        last: i64,
        /// What the head records.
        head: i64,
    },
    /// An event awaiting its seal does not match its digest (a row edited or forged before sealing).
    #[error("audit event {id} (not yet sealed) was altered: its contents do not match its digest")]
    AlteredUnsealed {
        /// Its row id.
        id: i64,
    },
    /// The last event is not the one the head records.
    #[error("audit event {seq} is not the event the log's head records")]
    HeadMismatch {
        /// Where.
        seq: i64,
    },
}

/// Checks events in sequence order, one at a time, so a log of any length is verified in constant
/// memory.
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: Option<&'k [u8]>,
    next_seq: i64,
    prev_hash: String,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a chain from its first event.
    #[must_use]
    pub fn new(key: Option<&'k [u8]>) -> Self {
        Self { key, next_seq: 1, prev_hash: GENESIS.to_owned() }
    }

    /// Checks the next event.
    ///
    /// # Errors
    /// The first [`ChainBreak`] found.
    pub fn check(&mut self, event: &SealedEvent) -> Result<(), ChainBreak> {
        if event.seq != self.next_seq {
            return Err(ChainBreak::Missing { expected: self.next_seq, found: event.seq });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: event.seq });
        }
        if event_digest(self.key, &event.event) != event.digest
            || chain_hash(self.key, event.seq, &event.prev_hash, &event.digest) != event.hash
        {
            return Err(ChainBreak::Altered { seq: event.seq });
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&event.hash);
        Ok(())
    }

    /// Checks the end of the chain against the head the database records (`head_seq`, `head_hash`).
    ///
    /// # Errors
    /// [`ChainBreak::Truncated`] or [`ChainBreak::HeadMismatch`].
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        let last = self.next_seq - 1;
        if last < head_seq {
            return Err(ChainBreak::Truncated { last, head: head_seq });
        }
        if last > head_seq || (last > 0 && self.prev_hash != head_hash) {
            return Err(ChainBreak::HeadMismatch { seq: last });
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64, key: Option<&[u8]>) -> Vec<SealedEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let event = AuditEvent {
                    time_ms: 1000 + seq,
                    actor: Some("alice".into()),
                    action: "CreateRun".into(),
                    method: "POST".into(),
                    path: "/api/2.0/mlflow/runs/create".into(),
                    status: 200,
                    ..AuditEvent::default()
                };
                let digest = event_digest(key, &event);
                let hash = chain_hash(key, seq, &prev, &digest);
                let sealed = SealedEvent { seq, event, digest, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                sealed
            })
            .collect()
    }

    fn verify(events: &[SealedEvent], head: (i64, &str), key: Option<&[u8]>) -> Result<i64, ChainBreak> {
        let mut verifier = ChainVerifier::new(key);
        for event in events {
            verifier.check(event)?;
        }
        verifier.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let events = chain(5, None);
        assert_eq!(verify(&events, (5, &events[4].hash), None), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS), None), Ok(0));
    }

    #[test]
    fn edits_deletions_insertions_and_truncation_are_named() {
        let events = chain(5, None);
        let head = (5, events[4].hash.as_str());

        let mut edited = events.clone();
        edited[2].event.actor = Some("mallory".into());
        assert_eq!(verify(&edited, head, None), Err(ChainBreak::Altered { seq: 3 }));

        let mut rehashed = events.clone();
        rehashed[2].event.actor = Some("mallory".into());
        rehashed[2].digest = event_digest(None, &rehashed[2].event);
        assert_eq!(verify(&rehashed, head, None), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = events.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, head, None), Err(ChainBreak::Missing { expected: 2, found: 3 }));

        let mut inserted = events.clone();
        let mut forged = inserted[1].clone();
        forged.event.actor = Some("mallory".into());
        forged.digest = event_digest(None, &forged.event);
        forged.hash = chain_hash(None, 2, &forged.prev_hash, &forged.digest);
        inserted[1] = forged;
        assert_eq!(verify(&inserted, head, None), Err(ChainBreak::Unlinked { seq: 3 }));

        assert_eq!(verify(&events[..3], head, None), Err(ChainBreak::Truncated { last: 3, head: 5 }));
    }

    #[test]
    fn a_keyed_chain_needs_the_key() {
        let key = b"kept outside the database".as_slice();
        let events = chain(3, Some(key));
        assert_eq!(verify(&events, (3, &events[2].hash), Some(key)), Ok(3));
        assert_eq!(verify(&events, (3, &events[2].hash), None), Err(ChainBreak::Altered { seq: 1 }));
    }
}
