//! Reads of the auth epoch, shared by the requests that wait for them at the same time.
//!
//! A request must see every change of users, tokens and grants committed before it arrived, so it
//! needs a read of the epoch that *started* after its arrival. A read already under way when it
//! arrives does not qualify, so it waits for the next one; but that next read serves every request
//! that arrived in the meantime. Under load this turns one database round trip per request into
//! about one per round-trip time, and a lone request still costs one read.

use std::sync::{Mutex, MutexGuard, PoisonError};

use ferroflow_store::SqlStore;
use tokio::sync::Notify;

/// The shared reads of one server.
#[derive(Default)]
pub(super) struct EpochReads {
    state: Mutex<State>,
    finished: Notify,
}

#[derive(Default)]
struct State {
    /// Reads started so far: the one under way, if any, is number `started`.
    started: u64,
    in_flight: bool,
    /// The number of the newest finished read, and what it found (`None` when it failed).
    last: (u64, Option<i64>),
}

/// Ends the read under way, also when the request reading it is dropped half-way (a client that
/// went away), so that the requests waiting for it are never stranded.
struct Lead<'a> {
    reads: &'a EpochReads,
    number: u64,
    found: Option<Option<i64>>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.reads.lock();
        state.in_flight = false;
        if let Some(found) = self.found {
            state.last = (self.number, found);
        }
        drop(state);
        self.reads.finished.notify_waiters();
    }
}

impl EpochReads {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The epoch as of a read that started after this call did.
    pub(super) async fn read(&self, store: &SqlStore) -> ferroflow_store::Result<i64> {
        self.shared(|| store.auth_epoch()).await
    }

    /// [`Self::read`], with the database read given as `read_epoch`, which only the leading
    /// request calls.
    async fn shared<F, R>(&self, read_epoch: F) -> ferroflow_store::Result<i64>
    where
        F: Fn() -> R,
        R: std::future::Future<Output = ferroflow_store::Result<i64>>,
    {
        let mut wanted = self.lock().started + 1;
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            // Registered before the state is looked at, so a read finishing in between is not missed.
            finished.as_mut().enable();
            let number = {
                let mut state = self.lock();
                if state.last.0 >= wanted {
                    match state.last.1 {
                        Some(epoch) => return Ok(epoch),
                        // That read failed: this request reads for itself.
                        None => wanted = state.started + 1,
                    }
                }
                if state.in_flight {
                    None
                } else {
                    state.started += 1;
                    state.in_flight = true;
                    Some(state.started)
                }
            };
            if let Some(number) = number {
                let mut lead = Lead { reads: self, number, found: None };
                let result = read_epoch().await;
                lead.found = Some(result.as_ref().ok().copied());
                return result;
            }
            finished.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ferroflow_store::{BackendUri, PoolSettings, StoreConfig};

    use super::*;

    async fn sqlite_store(dir: &std::path::Path) -> SqlStore {
        SqlStore::open(&StoreConfig {
            backend: BackendUri::Sqlite { path: dir.join("epoch.db") },
            default_artifact_root: "mlflow-artifacts:/".to_owned(),
            max_read_connections: 4,
            pool: PoolSettings::default(),
            migrate: true,
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_read_sees_the_changes_committed_before_it_began() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let reads = Arc::new(EpochReads::default());
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    store.create_user(&format!("user{i}"), "not a real hash", false).await.unwrap();
                }
            })
        };
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let (store, reads) = (store.clone(), reads.clone());
                tokio::spawn(async move {
                    for _ in 0..40 {
                        let committed = store.auth_epoch().await.unwrap();
                        let read = reads.read(&store).await.unwrap();
                        assert!(read >= committed, "a shared read returned epoch {read}, older than {committed}");
                    }
                })
            })
            .collect();
        writer.await.unwrap();
        for reader in readers {
            reader.await.unwrap();
        }
        let last = store.auth_epoch().await.unwrap();
        assert!(last >= 40);
        assert_eq!(reads.read(&store).await.unwrap(), last);
    }

    #[tokio::test]
    async fn a_request_dropped_while_reading_strands_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let reads = EpochReads::default();
        // The leader's read never finishes by itself, as with a database that stalls.
        let mut leader = Box::pin(reads.shared(std::future::pending));
        let mut waiter = Box::pin(reads.read(&store));
        // Poll each once: the first starts the read, the second waits for it to end.
        tokio::select! { biased; _ = &mut leader => panic!("the read finished at once"), () = std::future::ready(()) => {} }
        tokio::select! { biased; _ = &mut waiter => panic!("the waiter did not wait"), () = std::future::ready(()) => {} }
        drop(leader);
        let epoch = tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("the waiter was stranded");
        assert_eq!(epoch.unwrap(), store.auth_epoch().await.unwrap());
    }
}
