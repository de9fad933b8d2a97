//! The one way services write: a transaction that yields its change set, published after
//! COMMIT.

use std::sync::{Arc, Mutex};

use kulisse_store::{AfterCommit, Store, StoreError, StoreTx};

use super::{ChangeFeed, ChangeSet, Event, EventBus, Recorder};

/// Runs write transactions and announces what they changed.
#[derive(Clone)]
pub struct Writer {
    store: Arc<dyn Store>,
    feed: Option<Arc<dyn ChangeFeed>>,
    bus: EventBus,
}

impl Writer {
    /// A writer on `store` publishing to `bus`, and to other nodes through `feed`.
    pub fn new(store: Arc<dyn Store>, feed: Option<Arc<dyn ChangeFeed>>, bus: EventBus) -> Writer {
        Writer { store, feed, bus }
    }

    /// Tells every node that anything may have changed under it (a restore replaced the
    /// data): the other nodes reload the schema and the settings, as for any such change
    /// set, and this node publishes [`Event::Missed`] (after its caller reloaded them).
    ///
    /// # Errors
    /// When the announcement cannot be written.
    pub async fn announce_reset(&self) -> Result<(), StoreError> {
        if let Some(feed) = self.feed.clone() {
            let set = ChangeSet {
                collections: true,
                params: true,
                ..ChangeSet::default()
            };
            self.store
                .write(Box::new(move |tx| feed.announce(tx, &set).map(|()| None)))
                .await?;
        }
        self.bus.publish(&Event::Missed);
        Ok(())
    }

    /// Runs `f` in one transaction on a [`Recorder`]. When it commits, its change set is
    /// published on the bus and, through the feed, reaches the other nodes. Publishing is
    /// the engine's after-commit hook: it happens before this returns (so the caller's next
    /// request already sees every consumer's reaction), in commit order, and also when the
    /// caller stopped waiting (a request whose client left). When `f` fails nothing was
    /// written and nothing is published; when the commit fails after `f` succeeded, the
    /// outcome is unknown and [`Event::Missed`] is published instead.
    ///
    /// # Errors
    /// `f`'s own error, or the store's converted with `From<StoreError>`.
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let feed = self.feed.clone();
        let bus = self.bus.clone();
        let rows = bus.rows_wanted();
        // Other nodes may have realtime clients: a deleted record must travel with its
        // delete, since nobody can read it afterwards.
        let deleted_rows = feed.is_some();
        let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::default();
        let produced = Arc::clone(&slot);
        let put = move |result: Result<T, E>| {
            if let Ok(mut slot) = produced.lock() {
                *slot = Some(result);
            }
        };
        let outcome = self
            .store
            .write(Box::new(move |tx| {
                let mut recorder = Recorder::new(tx, rows, deleted_rows);
                let value = f(&mut recorder);
                let (tx, set) = recorder.into_parts();
                let announced = match (&value, &feed) {
                    (Ok(_), Some(feed)) if !set.is_empty() => feed.announce(tx, &set),
                    _ => Ok(()),
                };
                match (value, announced) {
                    (Ok(value), Ok(())) => {
                        put(Ok(value));
                        Ok((!set.is_empty()).then(|| publish_after_commit(bus, set)))
                    }
                    (Err(e), _) => {
                        put(Err(e));
                        Err(StoreError::RolledBack)
                    }
                    (Ok(_), Err(e)) => {
                        put(Err(E::from(e)));
                        Err(StoreError::RolledBack)
                    }
                }
            }))
            .await;
        let produced = slot.lock().ok().and_then(|mut s| s.take());
        match (outcome, produced) {
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(StoreError::RolledBack), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(E::from(e)),
            (Ok(()), _) => Err(E::from(StoreError::Other(
                "write job produced no result".into(),
            ))),
        }
    }
}

/// The hook that publishes `set` once its transaction ended.
fn publish_after_commit(bus: EventBus, set: ChangeSet) -> AfterCommit {
    Box::new(move |committed| {
        let event = if committed {
            Event::Committed(Arc::new(set))
        } else {
            Event::Missed
        };
        bus.publish(&event);
    })
}
